// Running GnuPG's own DNS lookups against keypost's DNS listener on a random port.
//
// dirmngr (GnuPG 2.2) reads its name server only from /etc/resolv.conf, and its built-in resolver
// accepts a port there in the `[address]:port` form. The test must not change the machine's
// resolv.conf, so gpg runs in a private mount namespace (unshare --mount) in which a resolv.conf
// naming keypost's DNS port is bind-mounted over /etc/resolv.conf. dirmngr is started by gpg inside
// that namespace and keeps it, so every lookup of this home goes to keypost.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';

export interface DaneResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** unshare arguments that work here: as root plain --mount, else via an unprivileged user namespace. */
function namespaceArgs(): string[] | undefined {
  for (const args of [['--mount'], ['--map-root-user', '--mount']]) {
    try {
      execFileSync('unshare', [...args, 'true'], { stdio: 'ignore' });
      return args;
    } catch {
      // try the next way
    }
  }
  return undefined;
}

/** Why gpg cannot be pointed at keypost's DNS on this machine, or undefined when it can. */
export function mountNamespaceProblem(): string | undefined {
  return namespaceArgs() ? undefined : 'unshare cannot create a mount namespace here, so dirmngr cannot be pointed at a DNS port';
}

export interface DaneGpg {
  dir: string;
  /** `gpg --auto-key-locate clear,dane --locate-keys <address>` against the given DNS server. */
  locate(address: string): Promise<DaneResult>;
  close(): Promise<void>;
}

export function createDaneGpg(dns: { host: string; port: number }): DaneGpg {
  const dir = mkdtempSync('/tmp/kd-');
  const resolvConf = `${dir}/resolv.conf`;
  writeFileSync(resolvConf, `nameserver [${dns.host}]:${dns.port}\n`);
  const env = { ...process.env, GNUPGHOME: dir, LC_ALL: 'C' };
  const unshare = namespaceArgs() ?? ['--mount'];
  return {
    dir,
    locate(address) {
      const script = 'mount --bind "$0" /etc/resolv.conf && exec "$@"';
      const args = [...unshare, 'sh', '-c', script, resolvConf, 'gpg', '--batch', '--no-tty', '--auto-key-locate', 'clear,dane', '--locate-keys', '--with-colons', address];
      return new Promise((resolve) => {
        execFile('unshare', args, { env, timeout: 60_000 }, (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          resolve({ code, stdout: String(stdout), stderr: String(stderr) });
        });
      });
    },
    async close() {
      await new Promise<void>((resolve) => execFile('gpgconf', ['--kill', 'all'], { env }, () => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The primary fingerprints in `gpg --with-colons` output (the fpr line after each pub line). */
export function colonFingerprints(output: string): string[] {
  const lines = output.split('\n');
  const found: string[] = [];
  lines.forEach((line, i) => {
    if (line.startsWith('pub:')) {
      const fpr = lines.slice(i + 1).find((l) => l.startsWith('fpr:'));
      if (fpr) found.push(fpr.split(':')[9]);
    }
  });
  return found;
}

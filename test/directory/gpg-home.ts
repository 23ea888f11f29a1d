// A throwaway GnuPG home for interop tests. The path stays short because gpg-agent and dirmngr
// put Unix sockets in it (sun_path is 108 bytes), and close() stops those daemons first.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';

export interface GpgResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface GpgHome {
  dir: string;
  run(args: string[], options?: { input?: string | Uint8Array; timeoutMs?: number }): Promise<GpgResult>;
  /** Like run(), but rejects with gpg's stderr when it exits non-zero. */
  ok(args: string[], options?: { input?: string | Uint8Array; timeoutMs?: number }): Promise<GpgResult>;
  close(): Promise<void>;
}

export function createGpgHome(options: { keyserver?: string } = {}): GpgHome {
  const dir = mkdtempSync('/tmp/kg-');
  // dirmngr reads its keyserver from here; --keyserver on the gpg command line also works, but
  // search/recv in one home then share one dirmngr configuration.
  if (options.keyserver) writeFileSync(`${dir}/dirmngr.conf`, `keyserver ${options.keyserver}\n`);
  const env = { ...process.env, GNUPGHOME: dir, LC_ALL: 'C' };
  const run: GpgHome['run'] = (args, runOptions = {}) =>
    new Promise((resolve) => {
      const child = execFile(
        'gpg',
        ['--batch', '--no-tty', '--pinentry-mode', 'loopback', '--passphrase', '', ...args],
        { env, timeout: runOptions.timeoutMs ?? 60_000, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          resolve({ stdout: stdout.toString('utf8'), stderr: stderr.toString('utf8'), code });
        },
      );
      if (runOptions.input !== undefined) child.stdin?.end(runOptions.input);
      else child.stdin?.end();
    });
  return {
    dir,
    run,
    async ok(args, runOptions) {
      const result = await run(args, runOptions);
      if (result.code !== 0) throw new Error(`gpg ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
      return result;
    },
    async close() {
      await new Promise<void>((resolve) => execFile('gpgconf', ['--kill', 'all'], { env }, () => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Packet tags gpg --list-packets reports, in order (":user ID packet:" etc. via the "# off=" lines). */
export async function listPacketTags(home: GpgHome, key: Uint8Array): Promise<number[]> {
  const { stdout } = await home.ok(['--list-packets'], { input: key });
  return [...stdout.matchAll(/^# off=\d+ ctb=[0-9a-f]+ tag=(\d+)/gm)].map((m) => Number(m[1]));
}

/** The user ID strings gpg --list-packets shows. */
export async function listUserIds(home: GpgHome, key: Uint8Array): Promise<string[]> {
  const { stdout } = await home.ok(['--list-packets'], { input: key });
  return [...stdout.matchAll(/^:user ID packet: "(.*)"$/gm)].map((m) => m[1]);
}

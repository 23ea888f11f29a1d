// Unbound as a validating recursive resolver on a loopback port, the resolver a sender trusts:
// trust anchors for the test zones (DS or DNSKEY records), a stub-zone per zone pointing at the
// server under test, and nothing else (no root anchor, no other zones). It sets AD on answers it
// validated (RFC 4035 §3.2.3) and answers SERVFAIL for bogus ones (RFC 4035 §5.5).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DnsServer } from '../../src/client/stub-resolver.js';
import { startDnsDaemon, type DnsDaemon } from './dns-daemon.js';

export interface StubZone {
  name: string;
  /** The authoritative server Unbound asks for this zone (loopback). */
  server: DnsServer;
}

export interface ValidatingResolverOptions {
  /** DS or DNSKEY records, presentation form, one per line or entry. */
  trustAnchors: string[];
  stubZones: StubZone[];
}

export interface UnboundConfigOptions {
  dir: string;
  address: string;
  port: number;
  /** A file of DS or DNSKEY records, presentation form. */
  anchorsFile: string;
  stubZones: StubZone[];
}

/** unbound.conf for a validating resolver that knows only the test zones (also run in a namespace). */
export function unboundConfig(options: UnboundConfigOptions): string {
  return `server:
  interface: ${options.address}
  port: ${options.port}
  do-ip6: no
  num-threads: 1
  so-reuseport: no
  username: ""
  chroot: ""
  directory: "${options.dir}"
  pidfile: "${options.dir}/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 1
  # The zones under test are served on loopback, which Unbound refuses to ask by default.
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  module-config: "validator iterator"
  trust-anchor-file: "${options.anchorsFile}"
  # Log why an answer is bogus: the reason a test fails is in the log it prints.
  val-log-level: 2
${options.stubZones.map((z) => `  local-zone: "${z.name}." nodefault\n`).join('')}remote-control:
  control-enable: no
${options.stubZones.map((z) => `stub-zone:\n  name: "${z.name}."\n  stub-addr: ${z.server.host}@${z.server.port}\n`).join('')}`;
}

/** Starts Unbound; close() stops it and removes its directory. */
export async function startValidatingResolver(options: ValidatingResolverOptions): Promise<DnsDaemon> {
  if (!options.stubZones.length) throw new Error('startValidatingResolver needs at least one stub zone');
  const dir = mkdtempSync(path.join(tmpdir(), 'kp-unbound-'));
  const anchors = path.join(dir, 'trust-anchors');
  writeFileSync(anchors, `${options.trustAnchors.join('\n')}\n`);
  try {
    const unbound = await startDnsDaemon({
      what: 'unbound',
      command: 'unbound',
      readyName: options.stubZones[0].name,
      configure(port) {
        const config = path.join(dir, 'unbound.conf');
        writeFileSync(config, unboundConfig({ dir, address: '127.0.0.1', port, anchorsFile: anchors, stubZones: options.stubZones }));
        return ['-d', '-c', config];
      },
    });
    return {
      ...unbound,
      async close() {
        await unbound.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

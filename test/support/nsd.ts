// NSD on a loopback port for tests and benchmarks: the `server:` section every use shares (no
// chroot, no privilege drop, state files in one directory, no response-rate limiting, no remote
// control), and a primary serving zone files in the foreground (-d).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startDnsDaemon, type DnsDaemon } from './dns-daemon.js';

export interface NsdServerOptions {
  /** Default 1: one answering process, as the benchmarks compare against. */
  serverCount?: number;
  verbosity?: number;
  /** Where NSD logs; unset: standard error. */
  logfile?: string;
}

/** The `server:` and `remote-control:` sections for NSD keeping its files in `dir`; zones follow. */
export function nsdServerConfig(dir: string, port: number, options: NsdServerOptions = {}): string {
  return `server:
  ip-address: 127.0.0.1
  port: ${port}
  server-count: ${options.serverCount ?? 1}
  username: ""
  chroot: ""
  zonesdir: "${dir}"
  database: ""
  zonelistfile: "${dir}/zone.list"
  xfrdfile: "${dir}/xfrd.state"
  xfrdir: "${dir}"
  pidfile: "${dir}/nsd.pid"
${options.logfile ? `  logfile: "${options.logfile}"\n` : ''}  rrl-ratelimit: 0
  verbosity: ${options.verbosity ?? 1}
remote-control:
  control-enable: no
`;
}

export interface ZoneFile {
  /** Zone apex, e.g. "signed.example". */
  name: string;
  /** Absolute path of the zone file. */
  file: string;
}

/** Starts NSD in `dir` (config, pid and state files go there) serving `zones`. */
export function startNsd(dir: string, zones: ZoneFile[]): Promise<DnsDaemon> {
  if (!zones.length) throw new Error('startNsd needs at least one zone');
  return startDnsDaemon({
    what: 'nsd',
    command: 'nsd',
    readyName: zones[0].name,
    configure(port) {
      const config = path.join(dir, 'nsd.conf');
      writeFileSync(config, `${nsdServerConfig(dir, port)}${zones.map((z) => `zone:\n  name: ${z.name}\n  zonefile: "${z.file}"\n`).join('')}`);
      return ['-d', '-c', config];
    },
  });
}

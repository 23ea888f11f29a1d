// NSD serving zone files as a primary on a loopback port, in the foreground (-d), logging to the
// test's output buffer rather than a file.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startDnsDaemon, type DnsDaemon } from './dns-daemon.js';

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
      writeFileSync(
        config,
        `server:
  ip-address: 127.0.0.1
  port: ${port}
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "${dir}"
  database: ""
  zonelistfile: "${dir}/zone.list"
  xfrdfile: "${dir}/xfrd.state"
  xfrdir: "${dir}"
  pidfile: "${dir}/nsd.pid"
  rrl-ratelimit: 0
  verbosity: 1
remote-control:
  control-enable: no
${zones.map((z) => `zone:\n  name: ${z.name}\n  zonefile: "${z.file}"\n`).join('')}`,
      );
      return ['-d', '-c', config];
    },
  });
}

// A DNS daemon (nsd, unbound) run in the foreground for a test on a loopback port: started with the
// config a callback writes for a free port, ready once it answers a question, stopped with SIGTERM.
// Both daemons take a fixed port in their config, so a port another process grabbed between
// freePort() and the daemon's bind makes it exit at start; that start is retried on a new port.
import { spawn, type ChildProcess } from 'node:child_process';
import { createStubResolver, type DnsServer } from '../../src/client/stub-resolver.js';
import { TYPE } from '../../src/protocol/dns-wire.js';
import { freePort } from './ports.js';

export interface DnsDaemon {
  server: DnsServer;
  /** host:port, the form `keypost lookup --dns` takes. */
  address: string;
  /** What the daemon wrote to stdout and stderr so far (its log). */
  log(): string;
  close(): Promise<void>;
}

export interface DnsDaemonOptions {
  /** For error messages: "nsd", "unbound". */
  what: string;
  command: string;
  /** Writes the daemon's config for `port` and returns its arguments (foreground mode). */
  configure(port: number): string[];
  /** A name whose SOA the daemon answers once it serves (the zone it is authoritative or a stub for). */
  readyName: string;
  timeoutMs?: number;
}

const running = new Set<ChildProcess>();
// A test that throws before its after() hook must not leave daemons behind holding ports.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function startOnce(options: DnsDaemonOptions, port: number): Promise<DnsDaemon | { exited: string }> {
  const child = spawn(options.command, options.configure(port), { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<string>((resolve) => {
    child.on('error', (err) => resolve(err.message));
    child.on('exit', (code, signal) => {
      running.delete(child);
      resolve(`exited with ${signal ?? code}`);
    });
  });
  const server = { host: '127.0.0.1', port };
  const probe = createStubResolver({ servers: [server], timeoutMs: 250, attempts: 1 });
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  let stopped: string | undefined;
  void exited.then((why) => (stopped = why));
  for (;;) {
    if (stopped) return { exited: `${options.what} ${stopped}:\n${output}` };
    try {
      await probe.query(options.readyName, TYPE.SOA);
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`${options.what} did not answer for ${options.readyName} within ${options.timeoutMs ?? 15_000} ms:\n${output}`);
      }
    }
  }
  return {
    server,
    address: `127.0.0.1:${port}`,
    log: () => output,
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function startDnsDaemon(options: DnsDaemonOptions): Promise<DnsDaemon> {
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const started = await startOnce(options, await freePort());
    if (!('exited' in started)) return started;
    last = started.exited;
  }
  throw new Error(last);
}

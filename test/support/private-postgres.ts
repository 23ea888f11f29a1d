// A PostgreSQL server of a test's own (initdb + pg_ctl into a temporary directory on a free port),
// for tests that stop and start the server under load. The machine's shared server on 5432 serves
// every other test file at the same time, so it must never be restarted by a test.
//
// PostgreSQL refuses to run as root; when the tests run as root, the server runs as the `postgres`
// account (runuser), and its directory belongs to that account.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';

const run = promisify(execFile);

export interface PrivatePostgres {
  port: number;
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  start(): Promise<void>;
  /** Fast shutdown (SIGINT): every session is terminated, like a server restart in production. */
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

function binDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'pg_ctl'))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(root, versions[0], 'bin') : undefined;
}

/**
 * Why a private server cannot run here, or false when it can. Outside CI the caller skips with this
 * reason; under CI=true it throws, like a missing interop tool.
 */
export function requirePrivatePostgres(): false | string {
  let reason: string | undefined;
  if (!binDir()) reason = 'no PostgreSQL server binaries under /usr/lib/postgresql/*/bin';
  else if (process.getuid?.() === 0 && !hasAccount('postgres')) reason = 'running as root without a postgres account to run the server as';
  if (!reason) return false;
  if (process.env.CI === 'true') throw new Error(`${reason} (CI=true makes this a failure)`);
  return reason;
}

function hasAccount(name: string): boolean {
  try {
    execFileSync('id', ['-u', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = binDir();
  if (!bin) throw new Error('no PostgreSQL server binaries');
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(path.join(tmpdir(), 'kp-pg-'));
  const dataDir = path.join(dir, 'data');
  const exec = (cmd: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', cmd, ...args]) : run(cmd, args));
  if (asRoot) {
    await run('chown', ['postgres', dir]);
    chmodSync(dir, 0o700);
  }
  await exec(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off -c max_connections=100`;
  const ctl = (...args: string[]) => exec(path.join(bin, 'pg_ctl'), ['-D', dataDir, '-l', path.join(dir, 'log'), ...args]);
  const server: PrivatePostgres = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async start() {
      await ctl('-o', options, '-w', '-t', '30', 'start');
    },
    async stop() {
      await ctl('-m', 'fast', '-w', '-t', '30', 'stop');
    },
    async destroy() {
      await ctl('-m', 'immediate', '-w', 'stop').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

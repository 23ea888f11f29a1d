// A network namespace made for a test (needs root): its own loopback, so fixed well-known ports
// (DNS on 53) cannot collide with anything, and its own resolv.conf (`ip netns exec` bind-mounts
// /etc/netns/<name>/resolv.conf over /etc/resolv.conf), so tools that use the system resolver (gpg's
// dirmngr with standard-resolver) ask the server the test chose. The database stays reachable
// inside: the embedded one listens on a Unix socket in its data directory already; PostgreSQL on
// 127.0.0.1 (another loopback) is reached through a Unix socket relayed to it.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import path from 'node:path';
import { tool, waitFor } from '../dns/support/server.js';

export interface Namespace {
  name: string;
  /** Runs a command inside and returns its output (stdout, or what it printed before failing). */
  exec(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string>;
  /** Starts a long-running process inside; close() stops it if it still runs. */
  spawn(cmd: string, args: string[], options?: SpawnOptions): ChildProcess;
  /**
   * Runs `keypost serve --only <only>` inside with `env` (over process.env; give it databaseEnv's
   * answer) and resolves once it logs "keypost ready".
   */
  serveKeypost(only: string, env: Record<string, string | undefined>): Promise<ChildProcess>;
  /** The database env for a keypost process inside, given the test database's env. */
  databaseEnv(env: Record<string, string | undefined>, work: string): Promise<Record<string, string | undefined>>;
  /** Stops what was spawned inside (SIGTERM, waiting for each to exit), then removes the namespace. */
  close(): Promise<void>;
}

/** Relays a Unix socket named like PostgreSQL's to PostgreSQL's TCP port. */
function pgSocketRelay(dir: string, target: URL): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer((client) => {
      const upstream = connect({ host: target.hostname, port: Number(target.port || 5432) });
      client.pipe(upstream).pipe(client);
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end);
      upstream.on('error', end);
    });
    server.listen(path.join(dir, '.s.PGSQL.5432'), () => resolve(server));
  });
}

/** Makes a namespace with loopback up and `resolvConf` as its resolv.conf. */
export async function createNamespace(resolvConf: string): Promise<Namespace> {
  const name = `kp${randomBytes(3).toString('hex')}`;
  await tool('ip', ['netns', 'add', name]);
  await tool('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
  mkdirSync(`/etc/netns/${name}`, { recursive: true });
  writeFileSync(`/etc/netns/${name}/resolv.conf`, resolvConf);
  const relays: Server[] = [];
  const children: ChildProcess[] = [];
  const spawnInside = (cmd: string, args: string[], options: SpawnOptions = {}): ChildProcess => {
    const child = spawn('ip', ['netns', 'exec', name, cmd, ...args], options);
    children.push(child);
    return child;
  };
  return {
    name,
    exec: (cmd, args, env = {}) => tool('ip', ['netns', 'exec', name, cmd, ...args], { env: { ...process.env, ...env }, timeoutMs: 60_000, allowFailure: true }),
    spawn: spawnInside,
    async serveKeypost(only, env) {
      const child = spawnInside(process.execPath, ['dist/src/cli/main.js', 'serve', '--only', only], {
        env: { ...process.env, KEYPOST_LOG_LEVEL: 'info', ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let log = '';
      child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
      await waitFor('keypost in the namespace', async () => (log.includes('"msg":"keypost ready"') ? true : undefined), 60_000, 100).catch((err) => {
        throw new Error(`${(err as Error).message}\n${log}`);
      });
      return child;
    },
    async databaseEnv(env, work) {
      if (!env.DATABASE_URL) return env;
      const url = new URL(env.DATABASE_URL);
      const socketDir = path.join(work, `pg-${name}`);
      mkdirSync(socketDir);
      relays.push(await pgSocketRelay(socketDir, url));
      return { ...env, DATABASE_URL: `postgresql://${url.username}@/${url.pathname.slice(1)}?host=${socketDir}` };
    },
    async close() {
      for (const child of children.reverse()) {
        if (child.exitCode !== null || child.signalCode !== null) continue;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      for (const relay of relays) relay.close();
      await tool('ip', ['netns', 'delete', name], { allowFailure: true });
      rmSync(`/etc/netns/${name}`, { recursive: true, force: true });
    },
  };
}

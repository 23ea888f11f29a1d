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
import { tool } from '../dns/support/server.js';

export interface Namespace {
  name: string;
  /** Runs a command inside and returns its output (stdout, or what it printed before failing). */
  exec(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string>;
  /** Starts a long-running process inside. */
  spawn(cmd: string, args: string[], options?: SpawnOptions): ChildProcess;
  /** The database env for a keypost process inside, given the test database's env. */
  databaseEnv(env: Record<string, string | undefined>, work: string): Promise<Record<string, string | undefined>>;
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
  return {
    name,
    exec: (cmd, args, env = {}) => tool('ip', ['netns', 'exec', name, cmd, ...args], { env: { ...process.env, ...env }, timeoutMs: 60_000, allowFailure: true }),
    spawn: (cmd, args, options = {}) => spawn('ip', ['netns', 'exec', name, cmd, ...args], options),
    async databaseEnv(env, work) {
      if (!env.DATABASE_URL) return env;
      const url = new URL(env.DATABASE_URL);
      const socketDir = path.join(work, `pg-${name}`);
      mkdirSync(socketDir);
      relays.push(await pgSocketRelay(socketDir, url));
      return { ...env, DATABASE_URL: `postgresql://${url.username}@/${url.pathname.slice(1)}?host=${socketDir}` };
    },
    async close() {
      for (const relay of relays) relay.close();
      await tool('ip', ['netns', 'delete', name], { allowFailure: true });
      rmSync(`/etc/netns/${name}`, { recursive: true, force: true });
    },
  };
}

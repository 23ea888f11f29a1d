// gpg 2.2 finds a published key by address through its real resolver: a network namespace made for
// the test, whose resolv.conf (`ip netns exec` bind-mounts /etc/netns/<ns>/resolv.conf) points at
// 127.0.0.1:53, where `keypost serve --only dns,api` runs inside the namespace. The directory
// listener is the public URL the PKA records point at, so gpg can fetch a key it does not hold.
//
// The database must be reachable from inside: the embedded database already listens on a Unix
// socket in its data directory; for PostgreSQL on 127.0.0.1 (a different loopback) the test relays
// a Unix socket to it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import path from 'node:path';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireRoot, requireTool } from '../support/tools.js';
import { addZone, makeKey, publish, type TestKey } from './support/fixtures.js';
import { tool, waitFor } from './support/server.js';

const skip = requireTool('gpg', 'gpgconf', 'ip') || requireRoot('ip netns');
const ZONE = 'gpg.test';
// The namespace is the test's own, so fixed ports cannot collide with anything.
const DIRECTORY = 'http://127.0.0.1:8080';
const ns = `kp${randomBytes(3).toString('hex')}`;

let db: TestDatabase;
let keypost: ChildProcess | undefined;
let relay: Server | undefined;
let work: string;
let alice: TestKey;
let bob: TestKey;

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

function inNs(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  return tool('ip', ['netns', 'exec', ns, cmd, ...args], { env: { ...process.env, ...env }, timeoutMs: 60_000, allowFailure: true });
}

async function gpg(home: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  // stderr carries gpg's verbose "via DANE"/"via PKA" lines; capture both.
  const out = await inNs('sh', ['-c', `gpg --homedir ${home} --batch --no-tty -v "$@" 2>&1`, 'gpg', ...args]);
  return { stdout: out, stderr: out };
}

before(async () => {
  if (skip) return;
  db = await openTestDatabase();
  work = mkdtempSync('/tmp/kg');
  await addZone(db.db, ZONE);
  [alice, bob] = await Promise.all([makeKey(`alice@${ZONE}`), makeKey(`bob@${ZONE}`)]);
  await publish(db.db, `alice@${ZONE}`, alice);

  await tool('ip', ['netns', 'add', ns]);
  await tool('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  mkdirSync(`/etc/netns/${ns}`, { recursive: true });
  writeFileSync(`/etc/netns/${ns}/resolv.conf`, 'nameserver 127.0.0.1\noptions timeout:2 attempts:1\n');

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...db.env,
    KEYPOST_DNS_LISTEN: '127.0.0.1:53',
    KEYPOST_HTTP_LISTEN: new URL(DIRECTORY).host,
    KEYPOST_PUBLIC_URL: DIRECTORY,
    KEYPOST_LOG_LEVEL: 'info',
  };
  if (db.env.DATABASE_URL) {
    const url = new URL(db.env.DATABASE_URL);
    const socketDir = path.join(work, 'pg');
    mkdirSync(socketDir);
    relay = await pgSocketRelay(socketDir, url);
    env.DATABASE_URL = `postgresql://${url.username}@/${url.pathname.slice(1)}?host=${socketDir}`;
  }
  keypost = spawn('ip', ['netns', 'exec', ns, process.execPath, 'dist/src/cli/main.js', 'serve', '--only', 'dns,api'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  keypost.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  await waitFor('keypost in the namespace', async () => (log.includes('"listener":"dns"') && log.includes('"listener":"api"') ? true : undefined), 30_000, 100).catch((err) => {
    throw new Error(`${(err as Error).message}\n${log}`);
  });
});

after(async () => {
  keypost?.kill('SIGTERM');
  if (keypost && keypost.exitCode === null) await new Promise((r) => keypost!.once('exit', r));
  relay?.close();
  if (!skip) {
    await tool('ip', ['netns', 'delete', ns], { allowFailure: true });
    rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
  }
  await db?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function gpgHome(name: string): Promise<string> {
  const home = path.join(work, name);
  mkdirSync(home, { mode: 0o700 });
  // dirmngr resolves through the system resolver, which reads the namespace's resolv.conf.
  writeFileSync(path.join(home, 'dirmngr.conf'), 'standard-resolver\n');
  return home;
}

async function killAgents(home: string): Promise<void> {
  await inNs('gpgconf', ['--homedir', home, '--kill', 'all']);
}

test('gpg --auto-key-locate dane fetches the OPENPGPKEY record', { skip }, async () => {
  const home = await gpgHome('d');
  try {
    const found = await gpg(home, ['--auto-key-locate', 'clear,dane', '--locate-external-keys', `alice@${ZONE}`]);
    assert.match(found.stdout, new RegExp(alice.fingerprint), found.stdout);
    assert.match(found.stdout, /DANE/, found.stdout);
    const listed = await gpg(home, ['--with-colons', '--list-keys', `alice@${ZONE}`]);
    assert.match(listed.stdout, new RegExp(`fpr:+${alice.fingerprint}:`));
    // An address without a record is not found.
    const missing = await gpg(home, ['--auto-key-locate', 'clear,dane', '--locate-external-keys', `bob@${ZONE}`]);
    assert.doesNotMatch(missing.stdout, new RegExp(bob.fingerprint));
    assert.match(missing.stdout, /No (public key|data)|not found|error/i);
  } finally {
    await killAgents(home);
  }
});

test('gpg --auto-key-locate pka confirms the fingerprint from the CERT record', { skip }, async () => {
  const home = await gpgHome('p');
  try {
    // With the key already held, gpg takes the fingerprint the record names and uses its own copy.
    writeFileSync(path.join(work, 'keys.asc'), `${alice.armored}\n${bob.armored}\n`);
    await gpg(home, ['--import', path.join(work, 'keys.asc')]);
    const found = await gpg(home, ['--auto-key-locate', 'clear,pka', '--locate-external-keys', `alice@${ZONE}`]);
    assert.match(found.stdout, new RegExp(alice.fingerprint), found.stdout);
    assert.match(found.stdout, /PKA/, found.stdout);
    const unpublished = await gpg(home, ['--auto-key-locate', 'clear,pka', '--locate-external-keys', `bob@${ZONE}`]);
    assert.doesNotMatch(unpublished.stdout, new RegExp(`^\\s*${bob.fingerprint}`, 'm'), unpublished.stdout);
    // Publishing bob makes PKA find him through the running server.
    await publish(db.db, `bob@${ZONE}`, bob);
    await waitFor(
      'bob via PKA',
      async () => {
        const r = await gpg(home, ['--auto-key-locate', 'clear,pka', '--locate-external-keys', `bob@${ZONE}`]);
        return new RegExp(`^\\s*${bob.fingerprint}`, 'm').test(r.stdout) ? true : undefined;
      },
      10_000,
      300,
    );
  } finally {
    await killAgents(home);
  }
});

test('gpg with an empty keyring fetches the key a PKA record points to from the directory', { skip }, async () => {
  const home = await gpgHome('e');
  try {
    // Nothing imported: the key can only come from the URL in the CERT IPGP record.
    const found = await gpg(home, ['--auto-key-locate', 'clear,pka', '--locate-keys', `alice@${ZONE}`]);
    assert.match(found.stdout, /PKA/, found.stdout);
    const listed = await gpg(home, ['--with-colons', '--list-keys', `alice@${ZONE}`]);
    assert.match(listed.stdout, new RegExp(`fpr:+${alice.fingerprint}:`), `${found.stdout}\n${listed.stdout}`);
  } finally {
    await killAgents(home);
  }
});

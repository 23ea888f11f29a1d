// keypost domain … as an operator runs it: the real executable against the test database, and
// against a running `keypost serve` that owns the embedded database (or shares PostgreSQL), whose
// owner API then accepts the token the CLI printed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createScratchPostgres, openTestDatabase, testBackend, type TestDatabase } from '../support/database.js';
import { runKeypost, startServe, type ServingKeypost } from '../support/keypost-process.js';
import { makeKey } from './write-side.js';

describe('keypost domain', () => {
  let testDb: TestDatabase;
  before(async () => {
    testDb = await openTestDatabase();
  });
  after(async () => {
    await testDb?.close();
  });

  const kp = (...args: string[]) => runKeypost(args, testDb.env);

  test('add prints the owner token once; list, show, set, rotate and remove', async () => {
    const added = await kp('domain', 'add', 'Cli.Example.', '--pow', '22', '--endpoint', 'smtp://mx.cli.example:25', '--ns', 'ns1.cli.example=192.0.2.1,2001:db8::1', '--hostmaster', 'hostmaster@cli.example', '--json');
    assert.equal(added.code, 0, added.stderr);
    const { domain, owner_token } = JSON.parse(added.stdout);
    assert.equal(domain.name, 'cli.example');
    assert.match(String(domain.serial), /^\d{8}00$/);
    assert.deepEqual(domain.dns.nameservers, [{ name: 'ns1.cli.example', ipv4: ['192.0.2.1'], ipv6: ['2001:db8::1'] }]);
    assert.match(owner_token, /^[A-Za-z0-9_-]{43}$/);

    const list = await kp('domain', 'list');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /cli\.example\s+\d{10}\s+0\s+22\s+smtp:\/\/mx\.cli\.example:25/);
    assert.ok(!list.stdout.includes(owner_token), 'the token is never shown again');

    const secret = Buffer.alloc(32, 7).toString('base64');
    const set = await kp('domain', 'set', 'cli.example', '--tsig-key', `xfr.cli.example=${secret}`, '--secondary', '192.0.2.7:5353/xfr.cli.example', '--secondary', '[2001:db8::7]:53', '--soa-refresh', '600', '--soa-retry', '60', '--openpgpkey-address', '192.0.2.80', '--next-hop', 'smtp://10.0.0.5:25', '--json');
    assert.equal(set.code, 0, set.stderr);
    const changed = JSON.parse(set.stdout).domain;
    assert.equal(changed.serial, domain.serial + 1, 'DNS settings bump the serial');
    assert.deepEqual(changed.dns.secondaries, [{ address: '192.0.2.7', port: 5353, tsigKey: 'xfr.cli.example' }, { address: '2001:db8::7', port: 53 }]);
    assert.deepEqual(changed.dns.tsigKeys, ['xfr.cli.example'], 'show and set never print TSIG secrets');
    assert.equal(changed.dns.soa.refresh, 600);
    assert.equal(changed.next_hop, 'smtp://10.0.0.5:25');
    const stored = await testDb.db.selectFrom('domains').select('dns').where('name', '=', 'cli.example').executeTakeFirstOrThrow();
    assert.equal(stored.dns.tsigKeys?.['xfr.cli.example'], secret);

    const cleared = await kp('domain', 'set', 'cli.example', '--clear-secondaries', '--secondary', '192.0.2.9', '--json');
    assert.deepEqual(JSON.parse(cleared.stdout).domain.dns.secondaries, [{ address: '192.0.2.9' }]);

    const show = await kp('domain', 'show', 'cli.example');
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /next hop\s+smtp:\/\/10\.0\.0\.5:25/);
    assert.match(show.stdout, /tsig keys\s+xfr\.cli\.example/);
    assert.ok(!show.stdout.includes(secret));

    assert.match(show.stdout, /transparency\s+on/, 'a zone keeps a transparency log unless told otherwise');
    const quiet = await kp('domain', 'set', 'cli.example', '--transparency', 'off', '--json');
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(JSON.parse(quiet.stdout).domain.transparency, false);
    assert.ok(JSON.parse(quiet.stdout).domain.serial > changed.serial, 'the head leaving DNS bumps the serial');

    const rotated = await kp('domain', 'token', 'rotate', 'cli.example', '--json');
    assert.equal(rotated.code, 0, `rotate: ${rotated.stderr}${rotated.stdout}`);
    assert.notEqual(JSON.parse(rotated.stdout).owner_token, owner_token);

    const removed = await kp('domain', 'remove', 'cli.example');
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /removed cli\.example/);
    assert.equal((await kp('domain', 'show', 'cli.example')).code, 1);
  });

  test('input mistakes are usage errors (exit 2); state conflicts exit 1 with a code', async () => {
    const usage: string[][] = [
      ['domain', 'add', 'not_a_domain'],
      ['domain', 'add', 'x.example', '--endpoint', 'http://mx.example'],
      ['domain', 'add', 'x.example', '--endpoint', 'smtp://mx.example/path'],
      ['domain', 'add', 'x.example', '--next-hop', 'smtp://user:pw@mx.example:25'],
      ['domain', 'add', 'x.example', '--pow', '41'],
      ['domain', 'add', 'x.example', '--api', 'ftp://x.example'],
      ['domain', 'add', 'x.example', '--ns', 'ns1.x.example=999.1.1.1'],
      ['domain', 'add', 'x.example', '--hostmaster', 'nobody'],
      ['domain', 'set', 'x.example', '--secondary', '192.0.2.1/missing-key'],
      ['domain', 'set', 'x.example', '--tsig-key', 'k=c2hvcnQ='],
      ['domain', 'set', 'x.example', '--soa-retry', '7200', '--soa-refresh', '3600'],
      ['domain', 'set', 'x.example'],
      ['domain', 'frobnicate'],
      ['domain', 'add'],
      ['domain', 'add', 'x.example', '--bogus'],
      ['domain', 'add', 'x.example', '--transparency', 'maybe'],
    ];
    await kp('domain', 'add', 'x.example');
    for (const args of usage) {
      const run = await kp(...args);
      assert.equal(run.code, 2, `${args.join(' ')} → ${run.code}: ${run.stderr}`);
      assert.match(run.stderr, /^keypost: /);
    }
    const twice = await kp('domain', 'add', 'x.example');
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /DIR_DOMAIN_EXISTS/);
    const unlogged = await kp('domain', 'add', 'y.example', '--transparency', 'off', '--json');
    assert.equal(unlogged.code, 0, unlogged.stderr);
    assert.equal(JSON.parse(unlogged.stdout).domain.transparency, false);
    const onion = await kp('domain', 'set', 'x.example', '--endpoint', 'smtp://abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion:25', '--json');
    assert.equal(onion.code, 0, onion.stderr);
  });
});

describe('while keypost serve runs', () => {
  let serving: ServingKeypost | undefined;
  let dataDir: string;
  let env: Record<string, string>;
  let dropScratch: (() => Promise<void>) | undefined;

  before(async () => {
    // A short path: the embedded database's Unix socket lives in the data directory.
    dataDir = mkdtempSync(path.join(tmpdir(), 'kps-'));
    env = { KEYPOST_DATA_DIR: dataDir };
    if (testBackend === 'postgres') {
      const scratch = await createScratchPostgres(process.env.DATABASE_URL!);
      env.DATABASE_URL = scratch.url;
      dropScratch = scratch.drop;
    }
    serving = await startServe(['--only', 'api'], env);
  });

  after(async () => {
    await serving?.stop();
    await dropScratch?.();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('domain and key commands work, and the running API accepts the printed token', async () => {
    const added = await runKeypost(['domain', 'add', 'live.example', '--json'], env);
    assert.equal(added.code, 0, added.stderr);
    const token = JSON.parse(added.stdout).owner_token;

    const key = await makeKey(['live@live.example']);
    const ring = path.join(dataDir, 'ring.asc');
    writeFileSync(ring, key.publicKey);
    const imported = await runKeypost(['key', 'import', '--domain', 'live.example', ring, '--json'], env);
    assert.equal(imported.code, 0, imported.stderr);
    assert.equal(JSON.parse(imported.stdout).published, 1);

    const base = `http://${serving!.addresses.api}`;
    const response = await fetch(`${base}/v1/domains/live.example`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200);
    const body = (await response.json()) as any;
    assert.deepEqual(body.addresses.map((a: any) => [a.address, a.fingerprint, a.source]), [['live@live.example', key.fingerprint, 'import']]);

    const list = await runKeypost(['domain', 'list', '--json'], env);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout).map((d: any) => [d.name, d.published_addresses]), [['live.example', 1]]);

    const removed = await runKeypost(['domain', 'remove', 'live.example'], env);
    assert.equal(removed.code, 0, removed.stderr);
    const gone = await fetch(`${base}/v1/domains/live.example`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(gone.status, 403);
    assert.equal(serving!.child.exitCode, null, 'serve is still running');
  });
});

// The data-directory trap: a one-shot command run where there is no keypost database (another
// working directory, a typo in KEYPOST_DATA_DIR) must say so and create nothing, instead of
// starting an empty database that no running server reads. Only serve and migrate create one.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createScratchPostgres, testBackend } from '../support/database.js';
import { runKeypost, startServe } from '../support/keypost-process.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'kp-nodb-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const COMMANDS = [
  ['domain', 'add', 'other.example'],
  ['domain', 'list'],
  ['key', 'rebuild', '--check'],
  ['dns', 'records', 'other.example'],
  ['queue', 'list'],
  ['stamp', 'purge'],
];

for (const args of COMMANDS) {
  test(`keypost ${args.join(' ')} without an embedded database exits 2 and creates nothing`, async () => {
    const dataDir = path.join(scratch, `data-${args.join('-')}`);
    const result = await runKeypost(args, { DATABASE_URL: '', KEYPOST_DATA_DIR: dataDir });
    assert.equal(result.code, 2, result.stderr);
    assert.equal(
      result.stderr,
      `keypost: no keypost database at ${dataDir}: start keypost serve first, or set KEYPOST_DATA_DIR / DATABASE_URL\n`,
    );
    assert.equal(existsSync(dataDir), false, 'the data directory was created');
  });
}

test('migrate up creates the embedded database, and then commands find it', async () => {
  const dataDir = path.join(scratch, 'migrated');
  const env = { DATABASE_URL: '', KEYPOST_DATA_DIR: dataDir };
  const up = await runKeypost(['migrate', 'up'], env);
  assert.equal(up.code, 0, up.stderr);
  const list = await runKeypost(['domain', 'list', '--json'], env);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(JSON.parse(list.stdout), []);
});

test('on PostgreSQL, a database without keypost tables is refused and left without them', { skip: testBackend !== 'postgres' }, async () => {
  const empty = await createScratchPostgres(process.env.DATABASE_URL!);
  try {
    const result = await runKeypost(['domain', 'add', 'other.example'], { DATABASE_URL: empty.url });
    assert.equal(result.code, 2, result.stderr);
    const name = new URL(empty.url).pathname.slice(1);
    assert.match(result.stderr, new RegExp(`^keypost: no keypost database at PostgreSQL database ${name} on [^:]+:\\d+: start keypost serve first`));
    const client = new pg.Client({ connectionString: empty.url });
    await client.connect();
    const { rows } = await client.query(`select count(*)::int as n from information_schema.tables where table_schema = 'public'`);
    await client.end();
    assert.equal(rows[0].n, 0);
  } finally {
    await empty.drop();
  }
});

test('the first serve on a new data directory says it is creating the database, and how long it took', async () => {
  const dataDir = path.join(scratch, 'first-start');
  const server = await startServe(['--only', 'dns'], { DATABASE_URL: '', KEYPOST_DATA_DIR: dataDir }, 180_000);
  try {
    const lines = server.log().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: number; msg: string; ms?: number });
    const creating = lines.findIndex((l) => l.msg === `creating the embedded database in ${dataDir} (first start)`);
    const created = lines.findIndex((l) => l.msg === 'embedded database created');
    assert.ok(creating >= 0 && created > creating, server.log());
    assert.equal(lines[creating].level, 30, 'info');
    assert.equal(typeof lines[created].ms, 'number');
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

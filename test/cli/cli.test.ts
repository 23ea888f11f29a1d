import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDatabase } from '../support/database.js';
import { runKeypost } from '../support/keypost-process.js';

const database = await openTestDatabase({ migrate: false });
after(() => database.close());

test('--help lists every command and exits 0', async () => {
  const result = await runKeypost(['--help']);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /serve/);
  assert.match(result.stdout, /migrate/);
});

test('every command answers --help with its usage', async () => {
  const overview = await runKeypost(['--help']);
  const names = [...overview.stdout.matchAll(/^  (\S+)\s{2,}/gm)].map((m) => m[1]);
  assert.ok(names.length >= 2);
  for (const name of names) {
    const result = await runKeypost([name, '--help']);
    assert.equal(result.code, 0, name);
    assert.match(result.stdout, new RegExp(`Usage: keypost ${name}`), name);
  }
});

test('an unknown command is a usage error: exit 2, one line, no stack trace', async () => {
  const result = await runKeypost(['frobnicate']);
  assert.equal(result.code, 2);
  assert.equal(result.stderr.trim().split('\n').length, 1);
  assert.match(result.stderr, /unknown command "frobnicate"/);
});

test('an unknown flag is a usage error', async () => {
  const result = await runKeypost(['migrate', 'status', '--bogus'], database.env);
  assert.equal(result.code, 2);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
});

test('invalid configuration exits 2 with one line naming the variable', async () => {
  const result = await runKeypost(['serve'], { ...database.env, KEYPOST_HTTP_LISTEN: 'nowhere' });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /^keypost: KEYPOST_HTTP_LISTEN: /);
  assert.equal(result.stderr.trim().split('\n').length, 1);
});

test('serve --only with an unknown listener is a usage error naming the valid ones', async () => {
  const result = await runKeypost(['serve', '--only', 'api,smtp'], database.env);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--only takes dns, api, gateway/);
});

test('migrate up, status, down and up again', async () => {
  const up = await runKeypost(['migrate', 'up', '--json'], database.env);
  assert.equal(up.code, 0, up.stderr);
  const applied: string[] = JSON.parse(up.stdout).applied;
  assert.ok(applied.length >= 1);

  const status = await runKeypost(['migrate', 'status', '--json'], database.env);
  const rows: { name: string; executedAt: string | null }[] = JSON.parse(status.stdout);
  assert.deepEqual(rows.map((r) => r.name), applied);
  assert.ok(rows.every((r) => r.executedAt));

  const down = await runKeypost(['migrate', 'down', '--json'], database.env);
  assert.equal(down.code, 0, down.stderr);
  assert.deepEqual(JSON.parse(down.stdout).undone, [applied.at(-1)]);

  const again = await runKeypost(['migrate', 'up', '--json'], database.env);
  assert.deepEqual(JSON.parse(again.stdout).applied, [applied.at(-1)]);
});

test('migrate without an action is a usage error', async () => {
  const result = await runKeypost(['migrate'], database.env);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /up, down, status/);
});

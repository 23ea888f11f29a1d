// Issue 15 item 4: uploaded keys are judged on worker threads with a bounded queue. Uploads still
// work through the pool; when every worker is busy and the queue is full, an upload is refused at
// once with 503 DIR_KEY_CHECK_BUSY and Retry-After, rather than waiting on the event loop.
// (The DNS latency this protects is measured by bench:upload-dns.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { pino } from 'pino';
import { createKeyCheckPool } from '../../src/directory/key-check-pool.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { floodedKey, type FloodedKey } from '../support/flooded-key.js';
import { addDomain, makeKey, postJson, startApi } from './write-side.js';
import { BACKGROUND_NICE, currentThreadId } from '../../src/thread-priority.js';

/** The nice value of each thread of this process (proc(5): field 19 of /proc/self/task/TID/stat). */
function threadNiceValues(): Map<number, number> {
  const values = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // The command name in parentheses may hold spaces; the fields after it are space-separated.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    values.set(Number(tid), Number(fields[16]));
  }
  return values;
}

let testDb: TestDatabase;
let flooded: FloodedKey;

before(async () => {
  testDb = await openTestDatabase();
  await addDomain(testDb.db, 'example.org');
  // About 1 MB armoured: roughly a second of parsing and verification per check.
  flooded = await floodedKey('flood@example.org', 3800);
});

after(async () => {
  await testDb?.close();
});

describe('key checks on worker threads', () => {
  test('key check queue: uploads work through the pool, a full queue answers 503 DIR_KEY_CHECK_BUSY', async () => {
    const api = await startApi(testDb, { KEYPOST_KEY_CHECK_WORKERS: '1', KEYPOST_KEY_CHECK_QUEUE: '1' });
    try {
      const uploads = await Promise.all(
        Array.from({ length: 6 }, () =>
          fetch(`${api.baseUrl}/vks/v1/upload`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ keytext: flooded.armored }),
          }).then(async (response) => ({ status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as any })),
        ),
      );
      const accepted = uploads.filter((u) => u.status === 200);
      const refused = uploads.filter((u) => u.status === 503);
      assert.ok(accepted.length >= 1, `some uploads pass: ${uploads.map((u) => u.status)}`);
      assert.ok(refused.length >= 1, `a full queue refuses: ${uploads.map((u) => u.status)}`);
      assert.equal(accepted.length + refused.length, uploads.length, `only 200 or 503: ${uploads.map((u) => u.status)}`);
      for (const upload of accepted) {
        assert.equal(upload.body.key_fpr, flooded.fingerprint);
        assert.deepEqual(upload.body.status, { 'flood@example.org': 'unpublished' });
      }
      for (const upload of refused) {
        assert.equal(upload.body.code, 'DIR_KEY_CHECK_BUSY');
        assert.ok(Number(upload.retryAfter) > 0, 'Retry-After tells the client when to come back');
      }

      // Once the queue drains, the pool keeps serving: an ordinary key and the owner API.
      const key = await makeKey(['after@example.org']);
      const later = await postJson(`${api.baseUrl}/vks/v1/upload`, { keytext: key.publicKey });
      assert.equal(later.status, 200, JSON.stringify(later.body));
      assert.equal(later.body.key_fpr, key.fingerprint);

      const metrics = await (await fetch(`${api.baseUrl}/metrics`)).text();
      assert.match(metrics, /keypost_key_checks_total\{outcome="busy"\} [1-9]/);
      assert.match(metrics, /keypost_key_checks_total\{outcome="done"\} [1-9]/);
    } finally {
      await api.close();
    }
  });

  test('key check threads run below the main thread priority, so a check never delays a DNS answer', { skip: process.platform !== 'linux' }, async () => {
    const pool = createKeyCheckPool({ workers: 2, maxQueue: 4, log: pino({ level: 'silent' }) });
    try {
      const key = await makeKey(['nice@example.org']);
      // Workers start with the first check; once it is answered both threads have lowered themselves.
      await Promise.all([pool.check(key.publicKey, { now: new Date() }), pool.check(key.publicKey, { now: new Date() })]);
      const values = threadNiceValues();
      assert.equal(values.get(currentThreadId()!), 0, 'the main thread keeps its priority');
      const lowered = [...values.values()].filter((nice) => nice === BACKGROUND_NICE);
      assert.equal(lowered.length, 2, `two key-check threads at nice ${BACKGROUND_NICE}: ${[...values]}`);
    } finally {
      await pool.close();
    }
  });

  test('key check pool: same verdicts as in-thread, refuses after close, close() is safe twice', async () => {
    const pool = createKeyCheckPool({ workers: 2, maxQueue: 4, log: pino({ level: 'silent' }) });
    const key = await makeKey(['Pool <pool@example.org>', 'other@example.net']);
    const now = new Date();
    const [byDomain, byAddress, garbage] = await Promise.all([
      pool.check(key.publicKey, { now, served: { domains: ['example.org'] } }),
      pool.check(new TextEncoder().encode(key.publicKey), { now, served: { addresses: ['other@example.net'] } }),
      pool.check('not a key', { now }),
    ]);
    assert.equal(byDomain.status, 'valid');
    assert.ok('key' in byDomain);
    assert.deepEqual(byDomain.key.addresses.map((a) => a.address), ['pool@example.org']);
    assert.ok(byDomain.key.stripped instanceof Uint8Array);
    assert.ok(byDomain.key.createdAt instanceof Date);
    assert.ok('key' in byAddress);
    assert.deepEqual(byAddress.key.addresses.map((a) => a.address), ['other@example.net']);
    assert.equal(garbage.status, 'invalid');
    assert.ok('code' in garbage && garbage.code === 'DIR_KEY_UNPARSABLE');

    await pool.close();
    await pool.close();
    await assert.rejects(pool.check(key.publicKey, { now }), { code: 'DIR_KEY_CHECK_BUSY' });
  });
});

// The in-memory zone logs the API serves proofs from: they follow new heads through the change
// feed, hold only what the latest head covers, and read the zone again when the stored tree no
// longer gives the head's root.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SealedBox } from '../../src/secrets/sealed-box.js';
import { LogCache } from '../../src/transparency/log-cache.js';
import { appendLeaves, lockLogHead, rootAt } from '../../src/transparency/log-store.js';
import { rangeHash } from '../../src/transparency/merkle.js';
import { signLatestTreeHead } from '../../src/transparency/tree-heads.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { drivenChangeFeed } from '../support/driven-change-feed.js';
import { addDomain } from '../directory/write-side.js';

let testDb: TestDatabase;
const box = new SealedBox(randomBytes(32));
const ZONE = 'cache.example';

async function append(count: number, tag: string): Promise<void> {
  await testDb.db.transaction().execute(async (tx) => {
    const size = await lockLogHead(tx, ZONE);
    await appendLeaves(tx, ZONE, size, Array.from({ length: count }, (_, i) => ({ label: Buffer.from(`${tag}${i}`.padEnd(28, '.')), leaf: Buffer.from(`${tag} ${i}`) })));
  });
}

before(async () => {
  testDb = await openTestDatabase();
  await addDomain(testDb.db, ZONE);
});

after(async () => {
  await testDb?.close();
});

test('the held log follows signed heads, not unsigned leaves, and holds the stored hashes', async () => {
  const changes = drivenChangeFeed();
  const cache = new LogCache(testDb.db, changes);
  assert.equal(await cache.view(ZONE), undefined, 'no head yet');
  await append(5, 'a');
  await signLatestTreeHead(testDb.db, box, ZONE, new Date());
  changes.changed(ZONE);
  const first = (await cache.view(ZONE))!;
  assert.equal(first.head.size, 5);
  assert.deepEqual(rangeHash({ start: 0, end: 5 }, (s) => first.subtree(s)), await rootAt(testDb.db, ZONE, 5));
  assert.equal(first.latestOf(Buffer.from('a3'.padEnd(28, '.')).toString('hex')), 3);

  await append(6, 'b');
  changes.changed(ZONE);
  assert.equal((await cache.view(ZONE))!.head.size, 5, 'leaves without a head are not served');
  await signLatestTreeHead(testDb.db, box, ZONE, new Date());
  assert.equal((await cache.view(ZONE))!.head.size, 5, 'nothing is read again until the feed reports the zone');
  changes.changed(ZONE);
  const second = (await cache.view(ZONE))!;
  assert.equal(second.head.size, 11);
  for (let n = 1; n <= 11; n++) assert.deepEqual(rangeHash({ start: 0, end: n }, (s) => second.subtree(s)), await rootAt(testDb.db, ZONE, n), `size ${n}`);
  assert.deepEqual(second.leaf(7), Buffer.from('b 2'));
  cache.close();
});

test('a stored tree rewritten under the same size is read again, not served from memory', async () => {
  const changes = drivenChangeFeed();
  const cache = new LogCache(testDb.db, changes);
  const before = (await cache.view(ZONE))!;
  await testDb.db.updateTable('log_leaves').set({ leaf_hash: Buffer.alloc(32, 7) }).where('zone', '=', ZONE).where('idx', '=', '0').execute();
  await testDb.db.updateTable('log_heads').set({ sth_size: null }).where('zone', '=', ZONE).execute();
  await testDb.db.updateTable('log_nodes').set({ hash: Buffer.alloc(32, 9) }).where('zone', '=', ZONE).where('level', '=', 3).where('idx', '=', '0').execute();
  const resigned = (await signLatestTreeHead(testDb.db, box, ZONE, new Date()))!;
  assert.notDeepEqual(resigned.root, before.head.root);
  changes.changed(ZONE);
  const after = (await cache.view(ZONE))!;
  assert.deepEqual(rangeHash({ start: 0, end: after.head.size }, (s) => after.subtree(s)), resigned.root);
  cache.close();
});

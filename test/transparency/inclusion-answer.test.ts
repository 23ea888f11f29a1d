// The inclusion proof answer as the hot route writes it (inclusion-answer.ts): its bytes are built
// from stored base64 text, partly shared between the leaves of a block, and cut from a slab. Every
// answer, for every leaf of heads on both sides of the block size, must be valid JSON whose audit
// path the verifier written here from RFC 9162 §2.1.3.2 accepts against the signed root.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SealedBox } from '../../src/secrets/sealed-box.js';
import { inclusionAnswer } from '../../src/transparency/inclusion-answer.js';
import { HELD_PATH_LEVELS, LogCache } from '../../src/transparency/log-cache.js';
import { appendLeaves, lockLogHead } from '../../src/transparency/log-store.js';
import { leafHash } from '../../src/transparency/merkle.js';
import { signLatestTreeHead } from '../../src/transparency/tree-heads.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { drivenChangeFeed } from '../support/driven-change-feed.js';
import { addDomain } from '../directory/write-side.js';
import { hexOf, rfcVerifyInclusion } from './rfc9162.js';

let testDb: TestDatabase;
const box = new SealedBox(randomBytes(32));
const ZONE = 'answers.example';

before(async () => {
  testDb = await openTestDatabase();
  await addDomain(testDb.db, ZONE);
});

after(async () => {
  await testDb?.close();
});

// Blocks of leaves whose lower steps are held with each leaf (log-cache.ts).
const BLOCK = 2 ** HELD_PATH_LEVELS;

test('every leaf of heads on both sides of one and two blocks gets an answer whose path verifies', async () => {
  const feed = drivenChangeFeed();
  // Read 10 leaves per query, so blocks are completed across reads, and heads end inside blocks.
  const cache = new LogCache(testDb.db, feed, 10);
  const headJson = Buffer.from('{"head":true}');
  let size = 0;
  for (const target of [1, 31, 32, 33, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK + 37]) {
    await testDb.db.transaction().execute(async (tx) => {
      const at = await lockLogHead(tx, ZONE);
      const leaves = Array.from({ length: target - size }, (_, i) => ({ label: Buffer.from(`l${size + i}`.padEnd(28, '.')), leaf: Buffer.from(`leaf ${size + i}`) }));
      await appendLeaves(tx, ZONE, at, leaves);
    });
    size = target;
    await signLatestTreeHead(testDb.db, box, ZONE, new Date());
    feed.changed(ZONE);
    const log = (await cache.view(ZONE))!;
    assert.equal(log.head.size, size);
    const root = hexOf(log.head.root);
    const answers = Array.from({ length: size }, (_, index) => inclusionAnswer(log, index, headJson));
    // All answers are read only after all were written: one cut from the slab must not overwrite another.
    for (const [index, bytes] of answers.entries()) {
      const answer = JSON.parse(bytes.toString('utf8'));
      assert.equal(answer.leaf_index, index);
      assert.equal(answer.tree_size, size);
      assert.deepEqual(answer.sth, { head: true });
      const leaf = Buffer.from(answer.leaf, 'base64');
      assert.equal(leaf.toString(), `leaf ${index}`);
      assert.equal(answer.leaf_hash, leafHash(leaf).toString('base64'));
      const path = (answer.inclusion_path as string[]).map((h) => Buffer.from(h, 'base64').toString('hex'));
      assert.ok(rfcVerifyInclusion(index, size, hexOf(leafHash(leaf)), path, root), `leaf ${index} of ${size}`);
    }
  }
  cache.close();
});

test('a cache that reads the whole log at once gives the same answers as one that followed it head by head', async () => {
  const followed = (await new LogCache(testDb.db, drivenChangeFeed(), 10).view(ZONE))!;
  const fresh = (await new LogCache(testDb.db, drivenChangeFeed()).view(ZONE))!;
  const headJson = Buffer.from('{}');
  for (let index = 0; index < fresh.head.size; index++) {
    assert.equal(inclusionAnswer(fresh, index, headJson).toString(), inclusionAnswer(followed, index, headJson).toString(), `leaf ${index}`);
  }
});

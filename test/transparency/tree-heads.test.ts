// Signing tree heads: the log key is made once per zone and stored sealed like the DNSSEC keys
// (bound to its zone), a head is signed once per tree size, and a new size gets a new head that
// moves the zone serial so DNS serves it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SealedBox } from '../../src/secrets/sealed-box.js';
import { appendLeaves, lockLogHead } from '../../src/transparency/log-store.js';
import { EMPTY_ROOT, leafHash, nodeHash } from '../../src/transparency/merkle.js';
import { verifyTreeHead } from '../../src/transparency/sth.js';
import { logKeyContext, signLatestTreeHead } from '../../src/transparency/tree-heads.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { addDomain } from '../directory/write-side.js';

let testDb: TestDatabase;
const box = new SealedBox(randomBytes(32));

before(async () => {
  testDb = await openTestDatabase();
  await addDomain(testDb.db, 'heads.example');
});

after(async () => {
  await testDb?.close();
});

const serial = async () => Number((await testDb.db.selectFrom('domains').select('serial').where('name', '=', 'heads.example').executeTakeFirstOrThrow()).serial);
const headRow = () => testDb.db.selectFrom('log_heads').selectAll().where('zone', '=', 'heads.example').executeTakeFirstOrThrow();

test('the first head makes the zone log key, sealed to the zone; later heads reuse it', async () => {
  const s0 = await serial();
  const empty = await signLatestTreeHead(testDb.db, box, 'heads.example', new Date(1_000));
  assert.ok(empty && verifyTreeHead(empty));
  assert.equal(empty.size, 0);
  assert.deepEqual(empty.root, EMPTY_ROOT);
  assert.equal(await serial(), s0 + 1, 'a new head moves the serial');

  const row = await headRow();
  const der = box.open(row.private_key_sealed!, logKeyContext('heads.example'));
  assert.equal(row.private_key_sealed!.includes(der), false, 'the private key is not stored in the clear');
  assert.throws(() => box.open(row.private_key_sealed!, logKeyContext('other.example')), { code: 'SECRET_UNSEALABLE' });
  assert.throws(() => new SealedBox(randomBytes(32)).open(row.private_key_sealed!, logKeyContext('heads.example')), { code: 'SECRET_UNSEALABLE' });

  const again = await signLatestTreeHead(testDb.db, box, 'heads.example', new Date(2_000));
  assert.deepEqual(again, empty, 'the same size is not signed twice');
  assert.equal(await serial(), s0 + 1);

  const leaves = [Buffer.from('first'), Buffer.from('second')];
  await testDb.db.transaction().execute(async (tx) => {
    const size = await lockLogHead(tx, 'heads.example');
    await appendLeaves(tx, 'heads.example', size, leaves.map((leaf) => ({ label: Buffer.alloc(28), leaf })));
  });
  // A clock that went backwards does not move the head's time back.
  const next = await signLatestTreeHead(testDb.db, box, 'heads.example', new Date(500));
  assert.ok(next && verifyTreeHead(next));
  assert.equal(next.size, 2);
  assert.equal(next.time, 1_000);
  assert.deepEqual(next.root, nodeHash(leafHash(leaves[0]), leafHash(leaves[1])));
  assert.deepEqual(next.publicKey, empty.publicKey);
  assert.equal(await serial(), s0 + 2);
});

test('a zone that is not served gets no head', async () => {
  assert.equal(await signLatestTreeHead(testDb.db, box, 'nowhere.example', new Date()), undefined);
});

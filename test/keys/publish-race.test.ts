// K5: a publication racing a revocation upload must not leave an address published under a
// revoked key, in either order. Both writers lock the stored certificate row before they read or
// change anything of the key, so the second waits for the first and then sees its outcome.
// Each case holds the first transaction open, starts the second on another connection, and waits
// until the second has either finished or is seen waiting for a row lock (pg_stat_activity).
// PGlite runs one transaction at a time on one connection, so the race needs PostgreSQL.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { checkKey, type CheckedKey } from '../../src/keys/key-policy.js';
import { publishAddress, withdrawKey } from '../../src/directory/publish.js';
import type { Db, Tx } from '../../src/db/database.js';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database.js';
import { addDomain, makeKey, revokedCopy } from '../directory/write-side.js';

const skip = testBackend !== 'postgres' && 'needs PostgreSQL: PGlite serialises transactions, so they cannot race';

let testDb: TestDatabase;

before(async () => {
  if (skip) return;
  testDb = await openTestDatabase();
  await addDomain(testDb.db, 'example.org');
});

after(async () => {
  await testDb?.close();
});

async function checked(input: string): Promise<CheckedKey> {
  const result = await checkKey(input, { now: new Date() });
  assert.ok('key' in result, JSON.stringify(result));
  return result.key;
}

/** Resolves once `work` has settled or some backend of this database waits for a lock. */
async function settledOrBlocked(db: Db, work: Promise<unknown>): Promise<'settled' | 'blocked'> {
  let settled = false;
  work.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (;;) {
    if (settled) return 'settled';
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
      where datname = current_database() and wait_event_type = 'Lock'`.execute(db);
    if (rows[0].n > 0) return 'blocked';
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Runs `first` in a transaction that stays open until `second` has settled or blocked. */
async function race(db: Db, first: (tx: Tx) => Promise<unknown>, second: () => Promise<unknown>) {
  let entered!: () => void;
  const inside = new Promise<void>((resolve) => (entered = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const firstDone = db.transaction().execute(async (tx) => {
    await first(tx);
    entered();
    await released;
  });
  await inside;
  const secondDone = second();
  const how = await settledOrBlocked(db, secondDone);
  release();
  const [a, b] = await Promise.allSettled([firstDone, secondDone]);
  return { how, first: a, second: b };
}

async function addressStatus(db: Db, address: string): Promise<string | undefined> {
  return (await db.selectFrom('addresses').select('status').where('address', '=', address).executeTakeFirst())?.status;
}

describe('K5: publication and revocation upload of one key', { skip }, () => {
  test('K5: a revocation uploaded while a publication is uncommitted withdraws that address too', async () => {
    const key = await makeKey(['nora@example.org']);
    const valid = await checked(key.publicKey);
    const revocation = await checked(await revokedCopy(key));
    const { first, second } = await race(
      testDb.db,
      (tx) => publishAddress(tx, { address: 'nora@example.org', key: valid, source: 'owner' }),
      () => testDb.db.transaction().execute((tx) => withdrawKey(tx, key.fingerprint, { revocation })),
    );
    assert.equal(first.status, 'fulfilled');
    assert.equal(second.status, 'fulfilled');
    assert.equal(await addressStatus(testDb.db, 'nora@example.org'), 'withdrawn');
    const row = await testDb.db.selectFrom('keys').select('revoked').where('fingerprint', '=', key.fingerprint).executeTakeFirstOrThrow();
    assert.equal(row.revoked, true);
  });

  test('K5: a publication started while a revocation is uncommitted is refused with DIR_KEY_REVOKED', async () => {
    const key = await makeKey(['olga@example.org']);
    const valid = await checked(key.publicKey);
    const revocation = await checked(await revokedCopy(key));
    const { second } = await race(
      testDb.db,
      (tx) => withdrawKey(tx, key.fingerprint, { revocation }),
      () => testDb.db.transaction().execute((tx) => publishAddress(tx, { address: 'olga@example.org', key: valid, source: 'owner' })),
    );
    assert.equal(second.status, 'rejected');
    assert.equal((second as PromiseRejectedResult).reason.code, 'DIR_KEY_REVOKED');
    assert.notEqual(await addressStatus(testDb.db, 'olga@example.org'), 'published');
  });
});

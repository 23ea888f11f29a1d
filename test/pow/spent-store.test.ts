// The double-spend table: one spender per stamp, also under concurrency, in the caller's
// transaction, and purged once stamps expire. Runs on whichever backend the suite runs on.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Db } from '../../src/db/database.js';
import { isSpent, purgeExpiredStamps, spendStamp, verifyAndSpend } from '../../src/pow/spent-store.js';
import { formatStampDate } from '../../src/pow/stamp.js';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database.js';
import { craftStamp } from './craft.js';

const DAY_MS = 86_400_000;
let db: TestDatabase;
let serial = 0;
/** A distinct, valid 8-bit stamp for alice@example.org dated today. */
const freshStamp = () =>
  craftStamp({ bits: 8, date: formatStampDate(new Date(), 12), resource: 'alice@example.org', rand: `spent${serial++}` });
const later = () => new Date(Date.now() + 30 * DAY_MS);

before(async () => {
  db = await openTestDatabase();
});
after(async () => {
  await db?.close();
});

describe('spendStamp', () => {
  it('is true for the first spender and false after', async () => {
    const stamp = freshStamp();
    assert.equal(await isSpent(db.db, stamp), false);
    assert.equal(await spendStamp(db.db, stamp, later()), true);
    assert.equal(await isSpent(db.db, stamp), true);
    assert.equal(await spendStamp(db.db, stamp, later()), false);
  });

  it('keys on the exact text: a stamp differing in one character is another stamp', async () => {
    const stamp = freshStamp();
    assert.equal(await spendStamp(db.db, stamp, later()), true);
    assert.equal(await spendStamp(db.db, stamp.replace('alice@', 'Alice@'), later()), true);
  });

  it('commits and rolls back with the caller transaction', async () => {
    const rolledBack = freshStamp();
    await assert.rejects(
      db.db.transaction().execute(async (tx) => {
        assert.equal(await spendStamp(tx, rolledBack, later()), true);
        assert.equal(await isSpent(tx, rolledBack), true, 'visible inside the transaction');
        throw new Error('queueing the mail failed');
      }),
      /queueing the mail failed/,
    );
    assert.equal(await isSpent(db.db, rolledBack), false, 'a rolled-back spend leaves the stamp unspent');

    const committed = freshStamp();
    await db.db.transaction().execute(async (tx) => {
      assert.equal(await spendStamp(tx, committed, later()), true);
    });
    assert.equal(await spendStamp(db.db, committed, later()), false);
  });

  it(`lets exactly one of 64 concurrent spenders win (${testBackend})`, async () => {
    // On PostgreSQL each spender gets its own connection, so the 64 INSERTs really race.
    let racers: Db = db.db;
    let pool: pg.Pool | undefined;
    if (db.backend === 'postgres') {
      pool = new pg.Pool({ ...db.clientConfig, max: 64 });
      // Dropping the scratch database at the end may cut connections that are still closing.
      pool.on('error', () => {});
      racers = new Kysely({ dialect: new PostgresDialect({ pool }) }) as Db;
      const clients = await Promise.all(Array.from({ length: 64 }, () => pool!.connect()));
      for (const c of clients) c.release();
      assert.equal(pool.totalCount, 64, '64 open connections');
    }
    try {
      for (let round = 0; round < 5; round++) {
        const stamp = freshStamp();
        const results = await Promise.all(Array.from({ length: 64 }, () => spendStamp(racers, stamp, later())));
        assert.equal(results.filter(Boolean).length, 1, `round ${round}: exactly one spender wins`);
      }
    } finally {
      if (pool) await racers.destroy();
    }
  });
});

describe('purgeExpiredStamps', () => {
  it('deletes the records of expired stamps only and counts them', async () => {
    const now = new Date('2031-06-01T00:00:00Z');
    const expired = [freshStamp(), freshStamp()];
    const current = freshStamp();
    await spendStamp(db.db, expired[0], new Date(now.getTime() - DAY_MS));
    await spendStamp(db.db, expired[1], now);
    await spendStamp(db.db, current, new Date(now.getTime() + 1000));
    const purged = await purgeExpiredStamps(db.db, now);
    assert.ok(purged >= 2, `purged ${purged}`);
    assert.equal(await isSpent(db.db, expired[0]), false);
    assert.equal(await isSpent(db.db, expired[1]), false);
    assert.equal(await isSpent(db.db, current), true);
    assert.equal(await purgeExpiredStamps(db.db, now), 0);
  });
});

describe('verifyAndSpend', () => {
  const policy = () => ({
    resource: 'alice@example.org',
    bits: 8,
    now: new Date(),
    validitySeconds: 28 * 86_400,
    graceSeconds: 2 * 86_400,
  });

  it('accepts a valid stamp once, then refuses it as POW_STAMP_SPENT', async () => {
    const stamp = freshStamp();
    const first = await verifyAndSpend(db.db, stamp, policy());
    assert.equal(first.ok, true);
    const second = await verifyAndSpend(db.db, stamp, policy());
    assert.equal(second.ok, false);
    assert.equal(!second.ok && second.code, 'POW_STAMP_SPENT');
  });

  it('keeps the record exactly until the stamp expires', async () => {
    const stamp = freshStamp();
    const verdict = await verifyAndSpend(db.db, stamp, policy());
    assert.ok(verdict.ok);
    await purgeExpiredStamps(db.db, new Date(verdict.expiresAt.getTime() - 1000));
    assert.equal(await isSpent(db.db, stamp), true, 'kept while the stamp could still verify');
    assert.ok((await purgeExpiredStamps(db.db, verdict.expiresAt)) >= 1);
    assert.equal(await isSpent(db.db, stamp), false, 'purged once it is refused on its date anyway');
  });

  it('never records a stamp that fails verification', async () => {
    const stamp = freshStamp();
    const verdict = await verifyAndSpend(db.db, stamp, { ...policy(), resource: 'bob@example.org' });
    assert.equal(!verdict.ok && verdict.code, 'POW_RESOURCE_MISMATCH');
    assert.equal(await isSpent(db.db, stamp), false);
  });
});

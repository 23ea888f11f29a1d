// The periodic purge of expired spent-stamp records, driven by an injected clock.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { createSpentStampPurger } from '../../src/pow/purger.js';
import { isSpent, spendStamp } from '../../src/pow/spent-store.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;
before(async () => {
  db = await openTestDatabase();
});
after(async () => {
  await db?.close();
});

const T0 = new Date('2030-01-01T00:00:00Z').getTime();
const HOUR = 3_600_000;

describe('createSpentStampPurger', () => {
  it('purges at start and then on every tick, by the injected clock', async () => {
    const stamps = ['1:0:300101:a::p:1', '1:0:300101:a::p:2', '1:0:300101:a::p:3'];
    await spendStamp(db.db, stamps[0], new Date(T0 - HOUR));
    await spendStamp(db.db, stamps[1], new Date(T0 + HOUR));
    await spendStamp(db.db, stamps[2], new Date(T0 + 10 * HOUR));
    let now = T0;
    const purger = createSpentStampPurger({ db: db.db, log: pino({ level: 'silent' }), now: () => new Date(now), intervalMs: 20 });

    await purger.start();
    assert.equal(await isSpent(db.db, stamps[0]), false, 'expired before start: purged at start');
    assert.equal(await isSpent(db.db, stamps[1]), true);

    now = T0 + 2 * HOUR;
    for (let i = 0; i < 100 && (await isSpent(db.db, stamps[1])); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await isSpent(db.db, stamps[1]), false, 'purged by a later tick');
    assert.equal(await isSpent(db.db, stamps[2]), true, 'not yet expired');

    await purger.close();
    await purger.close();
    // purgeNow reports what it removed; asked of a purger whose 20 ms tick is stopped, so no tick
    // can remove the stamp first (which is how this once read 0).
    now = T0 + 11 * HOUR;
    const once = createSpentStampPurger({ db: db.db, log: pino({ level: 'silent' }), now: () => new Date(now), intervalMs: 60_000 });
    assert.equal(await once.purgeNow(), 1);
    assert.equal(await isSpent(db.db, stamps[2]), false);
    await once.close();
  });

  it('survives a database failure and reports nothing purged', async () => {
    const broken = await openTestDatabase();
    const purger = createSpentStampPurger({ db: broken.db, log: pino({ level: 'silent' }), now: () => new Date(), intervalMs: 60_000 });
    await broken.close();
    assert.equal(await purger.purgeNow(), 0);
    await purger.close();
  });
});

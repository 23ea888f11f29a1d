// The read model of what is published (src/published/), against a real database and change feed:
// it reads only what the change log names, hands watchers exactly the changed addresses, follows
// changes to the key behind an address, catches up to a commit without waiting for the feed, and
// applies the one price precedence (src/protocol/precedence.ts, test/protocol/precedence.test.ts).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createChangeFeed, bumpZoneSerial, type ChangeFeed } from '../../src/db/change-feed.js';
import { checkKey, type CheckedKey } from '../../src/keys/key-policy.js';
import { createPublishedModel, type PublishedModel, type ZoneUpdate } from '../../src/published/model.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { makeKey } from '../directory/key-fixtures.js';
import { insertDomain, publishRow, withdrawRow } from '../directory/serving-fixtures.js';

const log = pino({ level: 'silent' });

async function checked(emails: string[]): Promise<CheckedKey> {
  const result = await checkKey((await makeKey({ emails })).binary, { now: new Date() });
  assert.ok(result.status === 'valid', JSON.stringify(result));
  return result.key;
}

describe('the read model', () => {
  let db: TestDatabase;
  let feed: ChangeFeed;
  let model: PublishedModel;
  const updates: ZoneUpdate[] = [];
  let next: ((update: ZoneUpdate) => void) | undefined;

  /** Resolves with the next update the model hands its watchers for `zone`. */
  function nextUpdate(zone: string): Promise<ZoneUpdate> {
    return new Promise((resolve) => {
      next = (update) => {
        if (update.name !== zone) return;
        next = undefined;
        resolve(update);
      };
    });
  }

  before(async () => {
    db = await openTestDatabase();
    feed = createChangeFeed(db, log, { pollIntervalMs: 50 });
    await feed.start();
    model = createPublishedModel({ db: db.db, changeFeed: feed, log, defaultPowBits: 20 });
    model.watch((update) => {
      updates.push(update);
      next?.(update);
    });
    await insertDomain(db, 'example.org', { powBits: 22, endpoint: 'smtp://mx.example.org:25' });
    await publishRow(db, await checked(['alice@example.org']), 'alice@example.org', { powBits: 26 });
    await model.loadAll();
  });

  after(async () => {
    await model?.close();
    await feed?.close();
    await db?.close();
  });

  it('loads every zone in full first, then hands watchers only the addresses that changed', async () => {
    const first = updates.find((u) => u.name === 'example.org');
    assert.ok(first, 'the first read reached the watcher');
    assert.equal(first.changes, null);
    assert.deepEqual([...first.served!.addresses.keys()], ['alice@example.org']);

    const bob = await checked(['bob@example.org']);
    const changed = nextUpdate('example.org');
    await publishRow(db, bob, 'bob@example.org');
    const update = await changed;
    assert.deepEqual(update.changes?.map((c) => [c.address, c.entry?.fingerprint]), [['bob@example.org', bob.fingerprint]]);
    assert.equal((await model.address('bob@example.org'))?.fingerprint, bob.fingerprint);

    const withdrawn = nextUpdate('example.org');
    await withdrawRow(db, 'bob@example.org');
    assert.deepEqual((await withdrawn).changes?.map((c) => [c.address, c.entry]), [['bob@example.org', null]]);
    assert.equal(await model.address('bob@example.org'), undefined);
  });

  it('follows a change to the key behind an address (its revocation flag) without a change to the address row', async () => {
    const alice = await model.address('alice@example.org');
    assert.equal(alice?.revoked, false);
    const changed = nextUpdate('example.org');
    await db.db.transaction().execute(async (tx) => {
      await tx.updateTable('keys').set({ revoked: true }).where('fingerprint', '=', alice!.fingerprint).execute();
      await bumpZoneSerial(tx, 'example.org');
    });
    assert.deepEqual((await changed).changes?.map((c) => c.address), ['alice@example.org']);
    assert.equal((await model.address('alice@example.org'))?.revoked, true);
  });

  it('answers with one precedence for every reader', async () => {
    const zone = await model.zone('example.org');
    const alice = await model.address('alice@example.org');
    assert.ok(zone && alice);
    assert.equal(model.price(alice, zone), 26);
    assert.equal(model.zonePrice(zone), 22);
    assert.equal(model.endpoint(alice, zone), 'smtp://mx.example.org:25');
  });

  it('catches up to a commit before the change feed delivers it', async () => {
    // A model whose feed never polls: only catchUp() can bring it forward.
    const quietFeed = createChangeFeed(db, log, { pollIntervalMs: 3_600_000 });
    await quietFeed.start();
    const quiet = createPublishedModel({ db: db.db, changeFeed: quietFeed, log, defaultPowBits: 20 });
    try {
      assert.ok(await quiet.address('alice@example.org'));
      assert.equal(quiet.peek('carol@example.org'), null, 'the zone is held in memory');
      await publishRow(db, await checked(['carol@example.org']), 'carol@example.org');
      await quiet.catchUp();
      assert.ok(quiet.peek('carol@example.org'), 'served from memory right after catchUp()');
    } finally {
      await quiet.close();
      await quietFeed.close();
    }
  });

  it('drops a zone that is removed, and its readers get nothing', async () => {
    await insertDomain(db, 'gone.example');
    await publishRow(db, await checked(['dora@gone.example']), 'dora@gone.example');
    await model.catchUp();
    assert.ok(await model.address('dora@gone.example'));
    const removed = nextUpdate('gone.example');
    await db.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('addresses').where('domain', '=', 'gone.example').execute();
      await tx.deleteFrom('domains').where('name', '=', 'gone.example').execute();
    });
    await model.catchUp();
    assert.equal((await removed).served, null);
    assert.equal(await model.zone('gone.example'), undefined);
    assert.equal(await model.address('dora@gone.example'), undefined);
  });
});

// A domain owner's view of the queue (the console) is the operator's (`keypost queue`) narrowed to
// the recipients of one zone: the domain after the last "@", compared whole and case-blind, so a
// subdomain or a name that merely ends the same way is another zone's mail.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { listQueue, queueCounts, retryNow } from '../../src/gateway/queue-admin.js';
import { insertMessages, newQueueId } from '../../src/gateway/queue-store.js';

const MESSAGES: { recipients: string[] }[] = [
  { recipients: ['alice@example.org', 'bob@mail.example.org'] },
  { recipients: ['Carol@Example.ORG'] },
  { recipients: ['dave@notexample.org'] },
  { recipients: ['"erin@example.org"@example.net'] },
];

describe('queue scoped to a zone', () => {
  let db: TestDatabase;
  const ids: string[] = [];

  before(async () => {
    db = await openTestDatabase();
    await db.db.transaction().execute((tx) =>
      insertMessages(
        tx,
        MESSAGES.map(({ recipients }) => {
          const id = newQueueId();
          ids.push(id);
          return {
            message: { id, kind: 'inbound', sender: 'writer@sender.test', traceHeaders: '', body: Buffer.from('Subject: x\r\n\r\nx\r\n') },
            recipients: recipients.map((recipient) => ({ recipient, nextHop: 'smtp://127.0.0.1:9' })),
          };
        }),
      ),
    );
    // Every recipient was tried once and waits an hour.
    await db.db
      .updateTable('mail_queue_recipients')
      .set({ attempts: 1, last_error: '451 4.2.0 try again later', next_attempt_at: sql`now() + interval '1 hour'` })
      .execute();
  });

  after(async () => {
    await db?.close();
  });

  test('counts and lists only the zone’s recipients', async () => {
    const zone = await queueCounts(db.db, { zone: 'example.org' });
    assert.deepEqual({ messages: zone.messages, recipients: zone.recipients, deferred: zone.deferred, due: zone.due }, { messages: 2, recipients: 2, deferred: 2, due: 0 });
    const all = await queueCounts(db.db);
    assert.deepEqual({ messages: all.messages, recipients: all.recipients }, { messages: 4, recipients: 5 });

    const listed = await listQueue(db.db, 100, { zone: 'example.org' });
    assert.deepEqual(listed.map((e) => [e.id, e.recipients]), [[ids[0], 1], [ids[1], 1]]);
    assert.equal(listed[0].lastError, '451 4.2.0 try again later');
  });

  test('retry makes only the zone’s deferred recipients due', async () => {
    assert.equal(await retryNow(db.db, 'all', { zone: 'example.org' }), 2);
    const rows = await db.db.selectFrom('mail_queue_recipients').select(['recipient', sql<boolean>`next_attempt_at <= now()`.as('due')]).orderBy('recipient').execute();
    assert.deepEqual(
      Object.fromEntries(rows.map((r) => [r.recipient, r.due])),
      { '"erin@example.org"@example.net': false, 'Carol@Example.ORG': true, 'alice@example.org': true, 'bob@mail.example.org': false, 'dave@notexample.org': false },
    );
    assert.equal((await queueCounts(db.db, { zone: 'example.org' })).due, 2);
  });
});

// The group commit (src/gateway/acceptor.ts) against a real database: messages that finish DATA
// together share one transaction, and each still gets its own verdict.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { createAcceptor, type AcceptRequest, type AcceptResult } from '../../src/gateway/acceptor.js';
import { newQueueId } from '../../src/gateway/queue-store.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';

let database: TestDatabase;
before(async () => {
  database = await openTestDatabase();
});
after(async () => {
  await database.close();
});

function request(recipients: string[], stamp: string): AcceptRequest {
  return {
    message: { id: newQueueId(), kind: 'inbound', sender: 'sender@sender.test', traceHeaders: '', body: Buffer.from(`Subject: ${stamp}\r\n\r\nhello\r\n`) },
    recipients: recipients.map((recipient) => ({ recipient, nextHop: 'smtp://127.0.0.1:2' })),
    stamps: [{ address: recipients[0], text: stamp, expiresAt: new Date(Date.now() + 86_400_000) }],
  };
}

test('one failing message in a group commit fails alone; the others of its group are queued', async () => {
  const committed: string[][] = [];
  const acceptor = createAcceptor({ db: database.db, log: pino({ level: 'silent' }), maxConcurrentCommits: 1, onCommitted: (ids) => committed.push(ids) });
  // The first message commits alone; the next three, submitted while it is in flight, form one group.
  const first = acceptor.submit(request(['a@example.org'], '1:8:261202:a@example.org::first:0'));
  const good1 = request(['b@example.org'], '1:8:261202:b@example.org::good1:0');
  // The same recipient twice breaks the recipients' primary key: this message cannot be stored.
  const bad = request(['c@example.org', 'c@example.org'], '1:8:261202:c@example.org::bad:0');
  const good2 = request(['d@example.org'], '1:8:261202:d@example.org::good2:0');
  const results: AcceptResult[] = await Promise.all([first, acceptor.submit(good1), acceptor.submit(bad), acceptor.submit(good2)]);
  await acceptor.drain();

  assert.deepEqual(results[0], { ok: true, id: (await first as { id: string }).id });
  assert.deepEqual(results[1], { ok: true, id: good1.message.id });
  assert.equal(results[2].ok, false);
  assert.ok('error' in results[2], 'the failing message gets its own error');
  assert.deepEqual(results[3], { ok: true, id: good2.message.id });

  const stored = await database.db.selectFrom('mail_queue').select('id').execute();
  assert.deepEqual(stored.map((r) => r.id).sort(), [(results[0] as { id: string }).id, good1.message.id, good2.message.id].sort());
  // The failed message's stamp was not spent: it rolled back with the message.
  const spent = await database.db.selectFrom('spent_stamps').select('stamp_sha1').execute();
  assert.equal(spent.length, 3);
  assert.deepEqual(committed.flat().sort(), stored.map((r) => r.id).sort());
});

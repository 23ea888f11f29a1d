// Issue 15 item 3: a sender that lost our 250 (its connection broke after we committed) sends the
// same message again with the same stamp. That is not a replay: it must get 250 with the first
// queue id, not a permanent "stamp already spent", and the message must still arrive once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { mintStamp } from '../../src/pow/mint.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { queueDrained, seedAddress, seedDomain, startDownstream, startGateway, type Downstream, type GatewayUnderTest } from './support.js';

let db: TestDatabase;
let downstream: Downstream;
let gateway: GatewayUnderTest;

before(async () => {
  db = await openTestDatabase();
  downstream = await startDownstream();
  await seedDomain(db, 'example.org', { powBits: 8, nextHop: downstream.hop });
  await seedAddress(db, 'alice@example.org');
  await seedAddress(db, 'bob@example.org');
  gateway = await startGateway(db);
});

after(async () => {
  await gateway?.close();
  await downstream?.close();
  await db?.close();
});

/** One SMTP session sending one message; resolves with the DATA reply (code and text). */
async function send(from: string, to: string[], message: string): Promise<{ code: number; text: string }> {
  const [host, port] = gateway.address.split(':');
  const conn = new SMTPConnection({ host, port: Number(port), name: 'client.test', ignoreTLS: true, logger: false });
  await new Promise<void>((resolve, reject) => {
    conn.once('error', reject);
    conn.connect(() => resolve());
  });
  try {
    return await new Promise((resolve) =>
      conn.send({ from, to }, message, (err, info) => {
        if (err) {
          const e = err as Error & { responseCode?: number; response?: string };
          resolve({ code: e.responseCode ?? 0, text: e.response ?? e.message });
        } else resolve({ code: 250, text: info!.response });
      }),
    );
  } finally {
    conn.quit();
  }
}

const copiesOf = (subject: string) => downstream.mails.filter((m) => m.raw.toString('latin1').includes(`\r\nSubject: ${subject}\r\n`)).length;

test('a message resent after a lost 250 gets 250 with the first queue id and is delivered once', async () => {
  const { stamp } = await mintStamp('alice@example.org', 8);
  const message = `From: <sender@sender.test>\r\nSubject: lost reply\r\nX-Hashcash: ${stamp}\r\n\r\nsent twice\r\n`;
  const first = await send('sender@sender.test', ['alice@example.org'], message);
  assert.equal(first.code, 250, first.text);
  const id = /queued as ([0-9A-F]{16})/.exec(first.text)?.[1];
  assert.ok(id, first.text);

  const again = await send('sender@sender.test', ['alice@example.org'], message);
  assert.equal(again.code, 250, `the resend is acknowledged, not bounced: ${again.text}`);
  assert.equal(/queued as ([0-9A-F]{16})/.exec(again.text)?.[1], id, 'with the queue id of the first copy');

  // Once the queue is empty every delivery has been made and recorded: a second copy would have
  // had to be queued, and so would be delivered before the queue could drain.
  await queueDrained(db);
  assert.equal(copiesOf('lost reply'), 1, 'delivered once');

  // Still recognised after delivery (the queue row is gone; the spent stamp remembers).
  const late = await send('sender@sender.test', ['alice@example.org'], message);
  assert.equal(late.code, 250, late.text);
  assert.equal(/queued as ([0-9A-F]{16})/.exec(late.text)?.[1], id);
  await queueDrained(db);
  assert.equal(copiesOf('lost reply'), 1, 'still delivered once');
});

test('the same stamp on another message, sender or recipient list is still refused as spent', async () => {
  const { stamp } = await mintStamp('alice@example.org', 8);
  const { stamp: bobStamp } = await mintStamp('bob@example.org', 8);
  const message = `Subject: original\r\nX-Hashcash: ${stamp}\r\n\r\nbody\r\n`;
  assert.equal((await send('sender@sender.test', ['alice@example.org'], message)).code, 250);
  const cases: [string, string, string[], string][] = [
    ['another body', 'sender@sender.test', ['alice@example.org'], message.replace('body', 'other body')],
    ['another sender', 'mallory@sender.test', ['alice@example.org'], message],
    ['another recipient list', 'sender@sender.test', ['alice@example.org', 'bob@example.org'], message.replace('\r\n\r\n', `\r\nX-Hashcash: ${bobStamp}\r\n\r\n`)],
  ];
  for (const [name, from, to, text] of cases) {
    const reply = await send(from, to, text);
    assert.equal(reply.code, 550, `${name}: ${reply.text}`);
    assert.match(reply.text, /stamp was already spent/, name);
  }
});

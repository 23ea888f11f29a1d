// Relaying: a next hop that is down for a while gets its mail when it returns; one that refuses
// (or defers past the maximum age) makes the gateway send an RFC 3464 DSN to the sender through
// the same queue; the queue's state shows in /metrics.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import {
  dataReplies,
  hashcashStamp,
  queueDrained,
  seedAddress,
  seedDomain,
  startDownstream,
  startGateway,
  swaks,
  type Downstream,
  type GatewayUnderTest,
} from './support.js';

const skip = requireTool('hashcash', 'swaks');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('relay worker', { skip }, () => {
  let db: TestDatabase;
  let mailbox: Downstream;
  let senders: Downstream;
  let gateway: GatewayUnderTest;

  before(async () => {
    db = await openTestDatabase();
    mailbox = await startDownstream();
    senders = await startDownstream();
    await seedDomain(db, 'example.org', { powBits: 8, nextHop: mailbox.hop });
    await seedAddress(db, 'alice@example.org');
    // The senders' own domain is served too, so bounces to them have somewhere to go.
    await seedDomain(db, 'sender.example', { nextHop: senders.hop });
    await seedAddress(db, 'writer@sender.example');
    // No worker dies here, so no lease needs to run out: a long one keeps a slow machine (a
    // delivery outliving a short lease) from handing a row to the other node mid-delivery.
    gateway = await startGateway(db, { KEYPOST_RELAY_MAX_AGE: '4s', KEYPOST_RELAY_LEASE: '60s' });
  });

  after(async () => {
    await gateway?.close();
    await mailbox?.close();
    await senders?.close();
    await db?.close();
  });

  async function send(subject: string): Promise<string> {
    const stamp = await hashcashStamp('alice@example.org', 8);
    const data = `From: <writer@sender.example>\r\nSubject: ${subject}\r\nX-Hashcash: ${stamp}\r\n\r\n${subject} body\r\n.\r\n`;
    const result = await swaks({ server: gateway.address, from: 'writer@sender.example', to: 'alice@example.org', data });
    const reply = dataReplies(result.stdout).at(-1) ?? '';
    const id = /queued as ([0-9A-F]{16})$/.exec(reply)?.[1];
    assert.ok(id, result.stdout);
    return id;
  }

  const subjects = (d: Downstream) => d.mails.map((m) => /^Subject: (.*)$/m.exec(m.raw.toString('latin1'))?.[1]?.trim());

  async function metric(name: string, labels = ''): Promise<number> {
    const text = await gateway.running.services.metrics.metrics();
    const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
    return line ? Number(line.split(' ').at(-1)) : 0;
  }

  test('a downstream that is down for a while gets the message once it returns', async () => {
    await mailbox.stop();
    const id = await send('while down');
    const row = await (async () => {
      for (const deadline = Date.now() + 10_000; ; await sleep(50)) {
        const r = await db.db.selectFrom('mail_queue_recipients').selectAll().where('message_id', '=', id).executeTakeFirstOrThrow();
        if ((r.attempts >= 2 && r.last_error) || Date.now() > deadline) return r;
      }
    })();
    assert.ok(row.attempts >= 2, `retried with backoff (attempts ${row.attempts})`);
    assert.match(row.last_error ?? '', /ECONNREFUSED|ECONNECTION|connect/i);
    assert.ok((await metric('keypost_gateway_queue_recipients')) >= 1, 'the queue depth shows in the metrics');
    await mailbox.restart();
    await mailbox.waitForCount(1, 10_000);
    assert.deepEqual(subjects(mailbox), ['while down']);
    await queueDrained(db);
    assert.equal(mailbox.mails.length, 1, 'delivered once');
    assert.ok((await metric('keypost_gateway_deliveries_total', '{outcome="deferred"}')) >= 2);
    assert.ok((await metric('keypost_gateway_deliveries_total', '{outcome="delivered"}')) >= 1);
  });

  test('two gateway nodes share the queue and deliver each message once', async () => {
    const second = await startGateway(db, { KEYPOST_RELAY_LEASE: '60s' });
    try {
      const before = mailbox.mails.length;
      // Both nodes accept; both relay whatever is due, claiming rows with SKIP LOCKED.
      const ids = await Promise.all(
        Array.from({ length: 30 }, async (_, i) => {
          const stamp = await hashcashStamp('alice@example.org', 8);
          const server = i % 2 ? second.address : gateway.address;
          const result = await swaks({ server, to: 'alice@example.org', data: `Subject: shared ${i}\r\nX-Hashcash: ${stamp}\r\n\r\nx\r\n.\r\n` });
          return /queued as ([0-9A-F]{16})/.exec(result.stdout)?.[1];
        }),
      );
      assert.equal(ids.filter(Boolean).length, 30);
      await mailbox.waitForCount(before + 30, 20_000);
      await queueDrained(db);
      const got = subjects(mailbox).slice(before).sort();
      assert.deepEqual(got, Array.from({ length: 30 }, (_, i) => `shared ${i}`).sort());
    } finally {
      await second.close();
    }
  });

  test('a permanent refusal bounces an RFC 3464 DSN to the sender', async () => {
    mailbox.mode = 'refuse';
    try {
      const id = await send('refused');
      await senders.waitForCount(1, 10_000);
      const dsn = senders.mails[0];
      assert.equal(dsn.from, '', 'bounces come from the null sender');
      assert.deepEqual(dsn.to, ['writer@sender.example']);
      const text = dsn.raw.toString('latin1');
      assert.match(text, /Content-Type: multipart\/report; report-type=delivery-status;/);
      assert.match(text, /Content-Type: message\/delivery-status\r\n\r\nReporting-MTA: dns; gw\.test\r\n/);
      assert.match(text, new RegExp(`X-Keypost-Queue-ID: ${id}`));
      assert.match(text, /Final-Recipient: rfc822; alice@example\.org\r\nAction: failed\r\nStatus: 5\.1\.1\r\nRemote-MTA: dns; 127\.0\.0\.1\r\nDiagnostic-Code: smtp; 550 5\.1\.1 mailbox does not exist/);
      assert.match(text, /Content-Type: text\/rfc822-headers\r\n\r\nReceived: from client\.test[\s\S]*Subject: refused\r\n/);
      assert.match(text, /Auto-Submitted: auto-replied/);
      // The failed recipient is gone from the queue, and so is the DSN once delivered.
      await queueDrained(db);
      const left = await db.db.selectFrom('mail_queue').select('id').execute();
      assert.deepEqual(left, []);
      assert.ok((await metric('keypost_gateway_deliveries_total', '{outcome="bounced"}')) >= 1);
    } finally {
      mailbox.mode = 'accept';
    }
  });

  test('mail deferred past the maximum age expires into a DSN', async () => {
    mailbox.mode = 'defer';
    const before = senders.mails.length;
    try {
      await send('expires');
      await senders.waitForCount(before + 1, 15_000);
      const text = senders.mails[before].raw.toString('latin1');
      assert.match(text, /Final-Recipient: rfc822; alice@example\.org\r\nAction: failed\r\nStatus: 4\.2\.0\r\n/);
      assert.match(text, /Diagnostic-Code: x-keypost; delivery time expired; last error: 451 4\.2\.0 try again later/);
      assert.ok((await metric('keypost_gateway_deliveries_total', '{outcome="expired"}')) >= 1);
    } finally {
      mailbox.mode = 'accept';
    }
  });
});

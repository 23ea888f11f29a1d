// Block files on disk: each block is checked against the length and SHA-256 the queue recorded
// before it is sent, so a damaged file defers the delivery (the hop gets no message) instead of
// relaying altered mail; put right, the message goes out whole. A block-stored message that
// bounces brings its sender a failure report with its header section, and its files go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { mintStamp } from '../../src/pow/mint.js';
import { openTestDatabase } from '../support/database.js';
import { sendLargeByData, smtpClient, startHashingDownstream } from '../support/large-mail.js';
import { queueDrained, seedAddress, seedDomain, startDownstream, startGateway } from './support.js';

test('a damaged block file defers the delivery; restored, the message is relayed whole', { timeout: 120_000 }, async () => {
  const db = await openTestDatabase();
  const downstream = await startHashingDownstream();
  try {
    await seedDomain(db, 'example.org', { powBits: 8, nextHop: downstream.hop });
    await seedAddress(db, 'alice@example.org');
    // Accepted by a gateway that does not relay, so the file can be damaged before delivery.
    const receiver = await startGateway(db, { KEYPOST_RELAY_ENABLED: 'false', KEYPOST_SMTP_MAX_SIZE: String(64 * 1024 * 1024) });
    let sent;
    try {
      const client = await smtpClient(receiver.address);
      await client.command('EHLO client.test');
      const { stamp } = await mintStamp('alice@example.org', 8);
      sent = await sendLargeByData(client, { from: 'big@sender.test', to: 'alice@example.org' }, `Subject: damaged\r\nX-Hashcash: ${stamp}\r\n`, 20 * 1024 * 1024);
      assert.match(sent.reply, /^250 /);
      await client.command('QUIT');
    } finally {
      await receiver.close();
    }
    const dir = path.join(db.env.KEYPOST_DATA_DIR, 'queue-blocks');
    const block = readdirSync(dir).find((name) => name.endsWith('.1'));
    assert.ok(block, 'the message was written in blocks');
    const good = readFileSync(path.join(dir, block));
    const bad = Buffer.from(good);
    bad[1000] ^= 0x01;
    writeFileSync(path.join(dir, block), bad);

    const relay = await startGateway(db, { KEYPOST_RELAY_RETRY_MIN: '1s', KEYPOST_RELAY_RETRY_MAX: '1s' });
    try {
      let error: string | null = null;
      while (!error) {
        const row = await db.db.selectFrom('mail_queue_recipients').select('last_error').executeTakeFirstOrThrow();
        error = row.last_error;
        if (!error) await new Promise((r) => setTimeout(r, 50));
      }
      assert.match(error, /block 1 of queued message [0-9A-F]{16} does not match its recorded length and SHA-256/);
      assert.equal(downstream.mails.length, 0, 'nothing altered was relayed');
      writeFileSync(path.join(dir, block), good);
      await queueDrained(db, 60_000);
      assert.equal(downstream.mails.length, 1);
      assert.equal(downstream.mails[0].bodySha256, sent.sha256);
    } finally {
      await relay.close();
    }
  } finally {
    await downstream.close();
    await db.close();
  }
});

test('a block-stored message refused by the next hop bounces a report with its header section, and its files go', { timeout: 120_000 }, async () => {
  const db = await openTestDatabase();
  const mailbox = await startDownstream();
  const senders = await startDownstream();
  mailbox.mode = 'refuse';
  try {
    await seedDomain(db, 'example.org', { powBits: 8, nextHop: mailbox.hop });
    await seedAddress(db, 'alice@example.org');
    // The sender's domain is served too, so the report has somewhere to go.
    await seedDomain(db, 'sender.example', { nextHop: senders.hop });
    await seedAddress(db, 'writer@sender.example');
    const gateway = await startGateway(db, { KEYPOST_SMTP_MAX_SIZE: String(64 * 1024 * 1024) });
    try {
      const client = await smtpClient(gateway.address);
      await client.command('EHLO client.test');
      const { stamp } = await mintStamp('alice@example.org', 8);
      const sent = await sendLargeByData(
        client,
        { from: 'writer@sender.example', to: 'alice@example.org', mailParameters: 'RET=FULL ENVID=big-bounce' },
        `Subject: bounced large\r\nX-Hashcash: ${stamp}\r\n`,
        12 * 1024 * 1024,
      );
      assert.match(sent.reply, /^250 /);
      await client.command('QUIT');
      await senders.waitForCount(1, 60_000);
      const report = senders.mails[0].raw.toString('latin1');
      assert.match(report, /Original-Envelope-Id: big-bounce\r\n/);
      assert.match(report, /Action: failed\r\n/);
      // The header section comes back, not 12 MB of body (RFC 3461 section 4.3 leaves that to us).
      assert.match(report, /Content-Type: text\/rfc822-headers\r\n[\s\S]*Subject: bounced large\r\n/);
      assert.ok(senders.mails[0].raw.length < 64 * 1024, `report of ${senders.mails[0].raw.length} octets`);
      await queueDrained(db);
      const dir = path.join(db.env.KEYPOST_DATA_DIR, 'queue-blocks');
      while (readdirSync(dir).some((name) => name !== 'ID')) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await gateway.close();
    }
  } finally {
    await mailbox.close();
    await senders.close();
    await db.close();
  }
});

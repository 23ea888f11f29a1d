// Block files on disk: each block is checked against the length and SHA-256 the queue recorded
// before it is sent, so a damaged file defers the delivery (the hop gets no message) instead of
// relaying altered mail; put right, the message goes out whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { mintStamp } from '../../src/pow/mint.js';
import { openTestDatabase } from '../support/database.js';
import { sendLargeByData, smtpClient, startHashingDownstream } from '../support/large-mail.js';
import { queueDrained, seedAddress, seedDomain, startGateway } from './support.js';

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

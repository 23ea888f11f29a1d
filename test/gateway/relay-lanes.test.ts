// Large messages are relayed in a lane of their own: with KEYPOST_RELAY_CONCURRENCY=1, a small
// message queued behind a large one whose delivery is stuck at the next hop still goes out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { mintStamp } from '../../src/pow/mint.js';
import { openTestDatabase } from '../support/database.js';
import { sendLargeByData, smtpClient } from '../support/large-mail.js';
import { queueDrained, seedAddress, seedDomain, startGateway } from './support.js';

test('a small message is relayed while a large one is stuck at the next hop', { timeout: 120_000 }, async () => {
  const db = await openTestDatabase();
  // A next hop that holds its reply to any message over 1 MB until the test lets it go.
  const received: { subject: string; bytes: number }[] = [];
  let holding: (() => void) | undefined;
  let heldSubject: string | undefined;
  const hop = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    size: 1024 ** 3,
    onData(stream, _session, callback) {
      let bytes = 0;
      let head = '';
      stream.on('data', (c: Buffer) => {
        bytes += c.length;
        if (head.length < 4096) head += c.toString('latin1');
      });
      stream.on('end', () => {
        const subject = /Subject: ([^\r\n]*)/.exec(head)?.[1] ?? '';
        const done = () => {
          received.push({ subject, bytes });
          callback();
        };
        if (bytes > 1024 * 1024) {
          heldSubject = subject;
          holding = done;
        } else done();
      });
    },
  });
  await new Promise<void>((resolve) => hop.listen(0, '127.0.0.1', resolve));
  const port = (hop.server.address() as AddressInfo).port;
  try {
    await seedDomain(db, 'example.org', { powBits: 8, nextHop: `smtp://127.0.0.1:${port}` });
    await seedAddress(db, 'alice@example.org');
    await seedAddress(db, 'bob@example.org');
    const gateway = await startGateway(db, { KEYPOST_RELAY_CONCURRENCY: '1', KEYPOST_RELAY_LEASE: '60s', KEYPOST_RELAY_TIMEOUT: '60s', KEYPOST_SMTP_MAX_SIZE: String(64 * 1024 * 1024) });
    try {
      const client = await smtpClient(gateway.address);
      await client.command('EHLO client.test');
      const large = await sendLargeByData(
        client,
        { from: 'writer@sender.test', to: 'alice@example.org' },
        `Subject: large\r\nX-Hashcash: ${(await mintStamp('alice@example.org', 8)).stamp}\r\n`,
        20 * 1024 * 1024,
      );
      assert.match(large.reply, /^250 /);
      // The large message reaches the hop and waits there for its reply.
      while (!holding) await new Promise((r) => setTimeout(r, 20));
      assert.equal(heldSubject, 'large');
      const small = await sendLargeByData(
        client,
        { from: 'writer@sender.test', to: 'bob@example.org' },
        `Subject: small\r\nX-Hashcash: ${(await mintStamp('bob@example.org', 8)).stamp}\r\n`,
        2048,
      );
      assert.match(small.reply, /^250 /);
      await client.command('QUIT');
      while (!received.some((m) => m.subject === 'small')) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(received.map((m) => m.subject), ['small'], 'the small message went first, the large one is still held');
      holding();
      await queueDrained(db, 60_000);
      assert.deepEqual(received.map((m) => m.subject), ['small', 'large']);
    } finally {
      await gateway.close();
    }
  } finally {
    await new Promise<void>((resolve) => hop.close(() => resolve()));
    await db.close();
  }
});

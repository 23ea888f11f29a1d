// CHUNKING (RFC 3030): messages sent in BDAT chunks are checked, queued and relayed like DATA ones,
// including one that ends with `BDAT 0 LAST`, pipelined chunks, and chunks large enough for the
// message to go to block files; SIZE holds for chunks, and BDAT without recipients is refused.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { mintStamp } from '../../src/pow/mint.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { bodyChunks, smtpClient, startHashingDownstream, type HashingDownstream, type SmtpClient } from '../support/large-mail.js';
import { queueDrained, seedAddress, seedDomain, startGateway, type GatewayUnderTest } from './support.js';

const MAX_SIZE = 64 * 1024 * 1024;

describe('BDAT', () => {
  let db: TestDatabase;
  let downstream: HashingDownstream;
  let gateway: GatewayUnderTest;

  before(async () => {
    db = await openTestDatabase();
    downstream = await startHashingDownstream();
    await seedDomain(db, 'example.org', { powBits: 8, nextHop: downstream.hop });
    await seedAddress(db, 'alice@example.org');
    gateway = await startGateway(db, { KEYPOST_SMTP_MAX_SIZE: String(MAX_SIZE), KEYPOST_RELAY_LEASE: '60s' });
  });

  after(async () => {
    await gateway?.close();
    await downstream?.close();
    await db?.close();
  });

  async function session(): Promise<SmtpClient> {
    const client = await smtpClient(gateway.address);
    assert.match(await client.command('EHLO client.test'), /^250[ -]/);
    return client;
  }

  async function header(subject: string): Promise<Buffer> {
    const { stamp } = await mintStamp('alice@example.org', 8);
    return Buffer.from(`From: <writer@sender.test>\r\nSubject: ${subject}\r\nX-Hashcash: ${stamp}\r\n\r\n`, 'latin1');
  }

  async function envelope(client: SmtpClient): Promise<void> {
    assert.match(await client.command('MAIL FROM:<writer@sender.test>'), /^250 /);
    assert.match(await client.command('RCPT TO:<alice@example.org>'), /^250 /);
  }

  async function bdat(client: SmtpClient, chunk: Buffer, last = false): Promise<string> {
    await client.write(Buffer.from(`BDAT ${chunk.length}${last ? ' LAST' : ''}\r\n`, 'latin1'));
    await client.write(chunk);
    return client.reply();
  }

  const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

  test('EHLO announces CHUNKING', async () => {
    const client = await smtpClient(gateway.address);
    assert.match(await client.command('EHLO client.test'), /^250[ -]CHUNKING\r?$/m);
    await client.command('QUIT');
  });

  test('several chunks and BDAT 0 LAST: queued, relayed byte for byte', async () => {
    const client = await session();
    await envelope(client);
    const head = await header('chunks then zero last');
    // A chunk boundary inside a line and one right after a CRLF: chunks are octets, not lines;
    // a line starting with a dot goes as it is (BDAT has no dot-stuffing).
    const body = Buffer.from('first line\r\n.a dotted line\r\nsecond line\r\n', 'latin1');
    const parts = [head, body.subarray(0, 5), body.subarray(5, 12), body.subarray(12)];
    for (const part of parts) assert.match(await bdat(client, part), new RegExp(`^250 2\\.0\\.0 ${part.length} octets received$`));
    const reply = await bdat(client, Buffer.alloc(0), true);
    assert.match(reply, /^250 .*queued as [0-9A-F]{16}$/);
    await client.command('QUIT');
    await queueDrained(db);
    const mail = downstream.mails.find((m) => m.headers.includes('Subject: chunks then zero last'));
    assert.ok(mail);
    assert.equal(mail.bodySha256, sha(body));
    assert.match(mail.headers, /^Received: from client\.test/);
  });

  test('pipelined chunks with LAST on the final data chunk, then a second transaction on the same connection', async () => {
    const client = await session();
    await envelope(client);
    const head = await header('pipelined');
    const body = Buffer.from('pipelined body\r\n', 'latin1');
    client.socket.write(Buffer.concat([Buffer.from(`BDAT ${head.length}\r\n`), head, Buffer.from(`BDAT ${body.length} LAST\r\n`), body]));
    assert.match(await client.reply(), /^250 2\.0\.0 \d+ octets received$/);
    assert.match(await client.reply(), /^250 .*queued as/);
    // The same connection carries on with DATA.
    await envelope(client);
    assert.match(await client.command('DATA'), /^354 /);
    await client.write(Buffer.concat([await header('after bdat'), Buffer.from('by data\r\n.\r\n')]));
    assert.match(await client.reply(), /^250 .*queued as/);
    await client.command('QUIT');
    await queueDrained(db);
    assert.equal(downstream.mails.find((m) => m.headers.includes('Subject: pipelined'))?.bodySha256, sha(body));
    assert.ok(downstream.mails.find((m) => m.headers.includes('Subject: after bdat')));
  });

  test('a 24 MB message in 5 MB chunks goes through block files and arrives whole', async () => {
    const client = await session();
    await envelope(client);
    const body = Buffer.concat([...bodyChunks(24 * 1024 * 1024)]);
    const message = Buffer.concat([await header('big chunks'), body]);
    for (let at = 0; at < message.length; at += 5 * 1024 * 1024) {
      const part = message.subarray(at, at + 5 * 1024 * 1024);
      const last = at + part.length >= message.length;
      assert.match(await bdat(client, part, last), last ? /^250 .*queued as/ : /^250 2\.0\.0/);
    }
    await client.command('QUIT');
    await queueDrained(db);
    const mail = downstream.mails.find((m) => m.headers.includes('Subject: big chunks'));
    assert.equal(mail?.bodySha256, sha(body));
    assert.equal(mail?.bodyBytes, body.length);
  });

  test('SIZE holds for chunks: the chunk that goes over gets 552, later ones 503, nothing is queued', async () => {
    const client = await session();
    await envelope(client);
    const before = downstream.mails.length;
    assert.match(await bdat(client, await header('too big')), /^250 /);
    const big = Buffer.alloc(MAX_SIZE, 0x61);
    assert.match(await bdat(client, big), /^552 5\.3\.4 /);
    assert.match(await bdat(client, Buffer.from('more\r\n'), true), /^503 5\.5\.1 /);
    // The session is usable again.
    await envelope(client);
    await client.command('RSET');
    await client.command('QUIT');
    await queueDrained(db);
    assert.equal(downstream.mails.length, before);
    assert.equal((await db.db.selectFrom('mail_queue').select('id').execute()).length, 0);
  });

  test('a client gone in the middle of a chunk: its block files are removed and nothing is queued', async () => {
    const client = await session();
    await envelope(client);
    const dir = path.join(db.env.KEYPOST_DATA_DIR, 'queue-blocks');
    const blocks = () => readdirSync(dir).filter((name) => name !== 'ID');
    assert.match(await bdat(client, Buffer.concat([await header('gone'), ...bodyChunks(12 * 1024 * 1024)])), /^250 /);
    // The message goes to block files as it arrives.
    while (blocks().length === 0) await new Promise((r) => setTimeout(r, 20));
    await client.write(Buffer.from('BDAT 1000000 LAST\r\npartial'));
    client.socket.destroy();
    while (blocks().length > 0) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await db.db.selectFrom('mail_queue').select('id').execute()).length, 0);
  });

  test('BDAT without a recipient is refused once its octets are read', async () => {
    const client = await session();
    assert.match(await client.command('MAIL FROM:<writer@sender.test>'), /^250 /);
    assert.match(await bdat(client, Buffer.from('RCPT TO:<alice@example.org>\r\n'), true), /^503 /);
    // The octets were data, not a command: the session is still without recipients.
    assert.match(await client.command('NOOP'), /^250 /);
    await client.command('QUIT');
  });
});

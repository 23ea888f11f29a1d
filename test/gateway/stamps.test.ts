// The stamp rule end to end: swaks sends through the gateway with stamps minted by the Debian
// hashcash tool; accepted mail reaches a real downstream SMTP server once, byte for byte.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import {
  dataReplies,
  hashcashHeader,
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

describe('stamp rule', { skip }, () => {
  let db: TestDatabase;
  let downstream: Downstream;
  let gateway: GatewayUnderTest;

  before(async () => {
    db = await openTestDatabase();
    downstream = await startDownstream();
    await seedDomain(db, 'example.org', { powBits: 10, nextHop: downstream.hop });
    await seedAddress(db, 'alice@example.org');
    await seedAddress(db, 'bob@example.org', { powBits: 12 });
    await seedAddress(db, 'carol@example.org', { status: 'withdrawn' });
    gateway = await startGateway(db, { KEYPOST_RELAY_DOMAINS: `relay.test=${downstream.hop}` });
  });

  after(async () => {
    await gateway?.close();
    await downstream?.close();
    await db?.close();
  });

  async function queued(): Promise<number> {
    const row = await db.db.selectFrom('mail_queue').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  test('a good stamp is accepted with the queue id and relayed once, body byte for byte', async () => {
    const stamp = await hashcashStamp('alice@example.org', 10);
    const headers = `From: <sender@sender.test>\r\nTo: <alice@example.org>\r\nSubject: good stamp\r\nX-Hashcash: ${stamp}\r\n`;
    const body = 'first line\r\n.a line that starts with a dot\r\n\r\ntrailing spaces   \r\n\tindented\r\nlast line\r\n';
    // swaks dot-stuffs the line that starts with a dot (RFC 5321 section 4.5.2); the gateway must
    // unstuff it and stuff it again on the way out, so the downstream reads the original text.
    const result = await swaks({ server: gateway.address, to: 'alice@example.org', data: `${headers}\r\n${body}.\r\n` });
    const reply = dataReplies(result.stdout).at(-1) ?? '';
    const id = /^250 2\.0\.0 Ok: queued as ([0-9A-F]{16})$/.exec(reply)?.[1];
    assert.ok(id, `expected 250 with a queue id, got ${JSON.stringify(reply)}\n${result.stdout}`);
    await downstream.waitForCount(1);
    const mail = downstream.mails[0];
    assert.deepEqual(mail.to, ['alice@example.org']);
    assert.equal(mail.from, 'sender@sender.test');
    assert.equal(mail.secure, true, 'the next hop offered STARTTLS, so the relay used it');
    const raw = mail.raw.toString('latin1');
    assert.ok(raw.endsWith(`${headers}\r\n${body}`), 'the message arrives byte for byte after the added trace fields');
    assert.equal(raw.slice(raw.indexOf('\r\n\r\n') + 4), body);
    assert.match(raw, new RegExp(`^Received: from client\\.test \\(unknown \\[127\\.0\\.0\\.1\\]\\)\\r\\n\\tby gw\\.test \\(keypost\\) with ESMTP id ${id}`));
    assert.match(raw, /\r\nX-Keypost-Stamp: gw\.test; hashcash=pass bits=10 recipients=1\r\n/);
    assert.ok(raw.includes(`X-Hashcash: ${stamp}\r\n`));
    // Delivered means gone from the queue. Once the queue is empty every delivery has been made
    // and recorded (the downstream records a mail before its 250, the gateway removes the row
    // after it), so a second copy would already be here.
    await queueDrained(db);
    assert.equal(downstream.mails.length, 1, 'delivered exactly once');
  });

  const rejections: [string, () => Promise<string[]>, RegExp][] = [
    ['a missing stamp', async () => ['X-Note: no stamp'], /X-Hashcash: 10 bits required for alice@example\.org \(no X-Hashcash stamp in the message\)/],
    [
      'a stamp for another address',
      async () => [`X-Hashcash: ${await hashcashStamp('mallory@example.org', 10)}`],
      /X-Hashcash: 10 bits required for alice@example\.org \(stamp is for "mallory@example\.org", not "alice@example\.org"\)/,
    ],
    [
      'too few bits',
      async () => [`X-Hashcash: ${await hashcashStamp('alice@example.org', 6)}`],
      /X-Hashcash: 10 bits required for alice@example\.org \(10 bits required, it is worth 6 bits\)/,
    ],
    [
      'an expired stamp',
      async () => [`X-Hashcash: ${await hashcashStamp('alice@example.org', 10, '200101')}`],
      /X-Hashcash: 10 bits required for alice@example\.org \(stamp dated 2020-01-01T00:00:00\.000Z expired at .*\)/,
    ],
  ];
  for (const [name, headers, expected] of rejections) {
    test(`${name} is refused with 550 5.7.1 and the reason`, async () => {
      const before = downstream.mails.length;
      const result = await swaks({ server: gateway.address, to: 'alice@example.org', headers: await headers() });
      const replies = dataReplies(result.stdout);
      assert.equal(replies.length, 1, result.stdout);
      assert.match(replies[0], /^550 5\.7\.1 /);
      assert.match(replies[0], expected);
      assert.equal(await queued(), 0, 'nothing stored');
      assert.equal(downstream.mails.length, before);
    });
  }

  test('a replayed stamp is refused as spent, and the first copy is delivered only once', async () => {
    const before = downstream.mails.length;
    const stamp = await hashcashStamp('alice@example.org', 10);
    const first = await swaks({ server: gateway.address, to: 'alice@example.org', headers: [`X-Hashcash: ${stamp}`] });
    assert.match(dataReplies(first.stdout).at(-1) ?? '', /^250 /);
    const replay = await swaks({ server: gateway.address, to: 'alice@example.org', headers: [`X-Hashcash: ${stamp}`] });
    assert.match(dataReplies(replay.stdout).at(-1) ?? '', /^550 5\.7\.1 X-Hashcash: 10 bits required for alice@example\.org \(stamp was already spent\)$/);
    await downstream.waitForCount(before + 1);
    await queueDrained(db);
    assert.equal(downstream.mails.length, before + 1);
  });

  test('the same stamp sent in several sessions at once is accepted exactly once', async () => {
    const stamp = await hashcashStamp('alice@example.org', 10);
    const results = await Promise.all(
      [1, 2, 3, 4].map(() => swaks({ server: gateway.address, to: 'alice@example.org', headers: [`X-Hashcash: ${stamp}`] })),
    );
    const replies = results.map((r) => dataReplies(r.stdout).at(-1) ?? '');
    assert.equal(replies.filter((r) => r.startsWith('250 ')).length, 1, replies.join('\n'));
    assert.equal(replies.filter((r) => /^550 5\.7\.1 .*stamp was already spent/.test(r)).length, 3, replies.join('\n'));
  });

  test('a folded X-Hashcash header as hashcash -X writes it is accepted', async () => {
    const header = await hashcashHeader('alice@example.org', 10);
    assert.match(header, /\n\s/, 'hashcash folds the header');
    const data = `${header.replace(/\r?\n/g, '\r\n')}\r\nSubject: folded\r\n\r\nbody\r\n.\r\n`;
    const result = await swaks({ server: gateway.address, to: 'alice@example.org', data });
    assert.match(dataReplies(result.stdout).at(-1) ?? '', /^250 2\.0\.0 Ok: queued as /, result.stdout);
  });

  test('every failing recipient is named in one reply with the bits it needs', async () => {
    const result = await swaks({
      server: gateway.address,
      to: ['alice@example.org', 'bob@example.org'],
      headers: [`X-Hashcash: ${await hashcashStamp('bob@example.org', 10)}`],
    });
    const replies = dataReplies(result.stdout);
    assert.equal(replies.length, 2, result.stdout);
    assert.match(replies[0], /^550-5\.7\.1 X-Hashcash: 10 bits required for alice@example\.org/);
    assert.match(replies[1], /^550 5\.7\.1 X-Hashcash: 12 bits required for bob@example\.org \(12 bits required, it is worth 10 bits\)/);
  });

  test('recipients with enough stamps each are accepted in one message', async () => {
    const before = downstream.mails.length;
    const result = await swaks({
      server: gateway.address,
      to: ['alice@example.org', 'bob@example.org'],
      headers: [`X-Hashcash: ${await hashcashStamp('alice@example.org', 10)}`, `X-Hashcash: ${await hashcashStamp('bob@example.org', 12)}`],
    });
    assert.match(dataReplies(result.stdout).at(-1) ?? '', /^250 /, result.stdout);
    await downstream.waitForCount(before + 1);
    // Grouped per next hop: one delivery carrying both recipients.
    assert.deepEqual(downstream.mails[before].to.sort(), ['alice@example.org', 'bob@example.org']);
  });

  test('recipients are checked at RCPT: unknown, withdrawn, foreign and relay domains', async () => {
    const cases: [string, RegExp][] = [
      ['nobody@example.org', /550 5\.1\.1 <nobody@example\.org>: Recipient address rejected/],
      ['carol@example.org', /550 5\.1\.1 <carol@example\.org>: Recipient address rejected/],
      ['someone@elsewhere.test', /554 5\.7\.1 <someone@elsewhere\.test>: Relay access denied/],
    ];
    for (const [to, expected] of cases) {
      const result = await swaks({ server: gateway.address, to });
      assert.match(result.stdout, expected, result.stdout);
    }
    // A configured relay domain is accepted at the global price (20 bits) and relayed to its hop.
    const before = downstream.mails.length;
    const relay = await swaks({ server: gateway.address, to: 'x@relay.test', headers: [`X-Hashcash: ${await hashcashStamp('x@relay.test', 20)}`] });
    assert.match(dataReplies(relay.stdout).at(-1) ?? '', /^250 /, relay.stdout);
    await downstream.waitForCount(before + 1);
    assert.deepEqual(downstream.mails[before].to, ['x@relay.test']);
  });

  // Issue 15 item 10: the X-Hashcash fields of a message are capped at 2 × recipients + 16.
  test('more X-Hashcash fields than 2 × recipients + 16 are refused with 552 5.7.0, even with a good stamp among them', async () => {
    const good = await hashcashStamp('alice@example.org', 10);
    const filler = await hashcashStamp('mallory@example.org', 1);
    const atCap = [good, ...Array.from({ length: 17 }, () => filler)].map((s) => `X-Hashcash: ${s}`);
    const accepted = await swaks({ server: gateway.address, to: 'alice@example.org', headers: atCap });
    assert.match(dataReplies(accepted.stdout).at(-1) ?? '', /^250 /, 'exactly at the cap (18 for one recipient) is fine');
    const over = await swaks({
      server: gateway.address,
      to: 'alice@example.org',
      headers: [...atCap, `X-Hashcash: ${await hashcashStamp('alice@example.org', 10)}`],
    });
    assert.match(dataReplies(over.stdout).at(-1) ?? '', /^552 5\.7\.0 Too many X-Hashcash fields \(19 for 1 recipient, at most 18\)$/, over.stdout);
  });

  test('a forged X-Keypost-Stamp from the sender is removed', async () => {
    const before = downstream.mails.length;
    const result = await swaks({
      server: gateway.address,
      to: 'alice@example.org',
      headers: [`X-Hashcash: ${await hashcashStamp('alice@example.org', 10)}`, 'X-Keypost-Stamp: gw.test; hashcash=pass bits=99'],
    });
    assert.match(dataReplies(result.stdout).at(-1) ?? '', /^250 /);
    await downstream.waitForCount(before + 1);
    const raw = downstream.mails[before].raw.toString('latin1');
    assert.equal(raw.match(/X-Keypost-Stamp:/g)?.length, 1);
    assert.doesNotMatch(raw, /bits=99/);
  });
});

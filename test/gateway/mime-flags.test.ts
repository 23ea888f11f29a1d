// Issue 15 item 25: the gateway advertises 8BITMIME and SMTPUTF8, so what a sender declares with
// them must reach the next hop, or come back to the sender when the hop cannot take the message
// (RFC 6152 section 3, RFC 6531 section 3.4). swaks cannot send BODY=8BITMIME or SMTPUTF8; the
// client here is Python's smtplib, which refuses SMTPUTF8 to a server that does not offer it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { seedAddress, smtplibSend, seedDomain, startDownstream, startGateway, type Downstream, type GatewayUnderTest } from './support.js';

const skip = requireTool('python3');

async function send(gateway: GatewayUnderTest, to: string, options: string[], message: Buffer): Promise<string> {
  return smtplibSend(gateway.address, { from: 'sender@sender.test', to: [to], mailParams: options, message });
}

const utf8 = (text: string) => Buffer.from(text, 'utf8');

describe('8BITMIME and SMTPUTF8 towards the next hop', { skip }, () => {
  let db: TestDatabase;
  let full: Downstream;
  let plain: Downstream;
  let bounces: Downstream;
  let gateway: GatewayUnderTest;

  before(async () => {
    db = await openTestDatabase();
    full = await startDownstream();
    plain = await startDownstream(0, { without: ['8BITMIME', 'SMTPUTF8'] });
    bounces = await startDownstream();
    await seedDomain(db, 'full.test', { nextHop: full.hop });
    await seedDomain(db, 'plain.test', { nextHop: plain.hop });
    for (const a of ['alice@full.test', 'jörg@full.test', 'bob@plain.test', 'carol@plain.test', 'dave@plain.test', 'jürgen@plain.test']) await seedAddress(db, a);
    gateway = await startGateway(db, { KEYPOST_SMTP_EXEMPT_NETWORKS: '127.0.0.0/8', KEYPOST_RELAY_SMARTHOST: bounces.hop });
  });

  after(async () => {
    await gateway?.close();
    for (const d of [full, plain, bounces]) await d?.close();
    await db?.close();
  });

  const dsnFor = async (recipient: RegExp): Promise<string> => {
    for (let i = 0; ; i++) {
      const found = bounces.mails.find((m) => recipient.test(m.raw.toString('latin1')));
      if (found) return found.raw.toString('latin1');
      await bounces.waitForCount(bounces.mails.length + 1);
    }
  };

  test('BODY=8BITMIME and SMTPUTF8 are queued with the message and passed on to a hop that offers them', async () => {
    const message = utf8('Subject: Grüße\r\n\r\nDas Böse ist immer und überall.\r\n');
    assert.match(await send(gateway, 'jörg@full.test', ['BODY=8BITMIME', 'SMTPUTF8'], message), /^250 2\.0\.0 Ok: queued as /);
    await full.waitForCount(1);
    const mail = full.mails[0];
    assert.deepEqual(mail.to, ['jörg@full.test']);
    assert.equal(mail.bodyType, '8bitmime');
    assert.equal(mail.smtpUtf8, true);
    assert.ok(mail.raw.subarray(mail.raw.length - message.length).equals(message), 'the 8-bit message arrives byte for byte');

    assert.match(await send(gateway, 'alice@full.test', ['BODY=8BITMIME'], utf8('Subject: x\r\n\r\nnaïve\r\n')), /^250 /);
    await full.waitForCount(2);
    assert.equal(full.mails[1].bodyType, '8bitmime');
    assert.equal(full.mails[1].smtpUtf8, false);
  });

  test('8-bit content declared BODY=8BITMIME is returned with a 5.6.3 DSN by a hop without 8BITMIME, not sent', async () => {
    assert.match(await send(gateway, 'bob@plain.test', ['BODY=8BITMIME'], utf8('Subject: eight\r\n\r\nnaïve\r\n')), /^250 /);
    const dsn = await dsnFor(/Final-Recipient: rfc822; bob@plain\.test/);
    assert.match(dsn, /Final-Recipient: rfc822; bob@plain\.test\r\nAction: failed\r\nStatus: 5\.6\.3\r\n/);
    assert.match(dsn, /does not offer 8BITMIME; keypost does not convert messages \(RFC 6152 section 3\); next hop 127\.0\.0\.1/);
    assert.ok(!plain.mails.some((m) => m.to.includes('bob@plain.test')));
  });

  test('a body declared BODY=8BITMIME that is 7-bit goes to a hop without 8BITMIME as it is', async () => {
    assert.match(await send(gateway, 'carol@plain.test', ['BODY=8BITMIME'], Buffer.from('Subject: seven\r\n\r\nplain ascii\r\n')), /^250 /);
    for (;;) {
      if (plain.mails.some((m) => m.to.includes('carol@plain.test'))) break;
      await plain.waitForCount(plain.mails.length + 1);
    }
    assert.notEqual(plain.mails.find((m) => m.to.includes('carol@plain.test'))!.bodyType, '8bitmime', 'no BODY=8BITMIME to a hop that does not offer it');
  });

  test('a non-ASCII address with SMTPUTF8 is returned with a 5.6.7 DSN by a hop without SMTPUTF8', async () => {
    assert.match(await send(gateway, 'jürgen@plain.test', ['SMTPUTF8'], Buffer.from('Subject: hi\r\n\r\nhi\r\n')), /^250 /);
    const dsn = await dsnFor(/Final-Recipient: rfc822; j\?+rgen@plain\.test/);
    assert.match(dsn, /Status: 5\.6\.7\r\n/);
    assert.match(dsn, /non-ASCII envelope address and the next hop does not offer SMTPUTF8 \(RFC 6531 section 3\.4\)/);
  });

  test('UTF-8 header fields with SMTPUTF8 are returned with a 5.6.9 DSN by a hop without SMTPUTF8', async () => {
    assert.match(await send(gateway, 'dave@plain.test', ['SMTPUTF8'], utf8('Subject: Grüße\r\n\r\nhi\r\n')), /^250 /);
    const dsn = await dsnFor(/Final-Recipient: rfc822; dave@plain\.test/);
    assert.match(dsn, /Status: 5\.6\.9\r\n/);
    assert.match(dsn, /UTF-8 header fields and the next hop does not offer SMTPUTF8/);
  });
});

// Delivery status notifications the sender asks for (RFC 3461): NOTIFY, ORCPT, RET and ENVID are
// kept with the queued message; a next hop that offers DSN gets them passed on, one that does not
// makes the gateway report "relayed" itself; a next hop that stays down brings one delay report and
// then the failure report; NOTIFY=NEVER brings nothing. Reports are RFC 3464 multipart/report
// messages from the null sender, routed to the sender like any mail (here the smarthost).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEntity, walkEntities } from '../../src/mime/entity.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { queueDrained, seedAddress, seedDomain, smtplibSend, startDownstream, startGateway, type Downstream, type GatewayUnderTest, type ReceivedMail } from './support.js';

const skip = requireTool('python3');
const SENDER = 'sender@sender.test';

describe('delivery status notifications', { skip }, () => {
  let db: TestDatabase;
  let withoutDsn: Downstream;
  let withDsn: Downstream;
  let reports: Downstream;
  let gateway: GatewayUnderTest;

  before(async () => {
    db = await openTestDatabase();
    withoutDsn = await startDownstream(0, { without: ['DSN'] });
    withDsn = await startDownstream();
    reports = await startDownstream();
    await seedDomain(db, 'plain.test', { nextHop: withoutDsn.hop });
    await seedDomain(db, 'dsnhop.test', { nextHop: withDsn.hop });
    // Nothing listens on port 1: every attempt is refused at connect, a temporary failure.
    await seedDomain(db, 'down.test', { nextHop: 'smtp://127.0.0.1:1' });
    for (const a of ['alice@plain.test', 'bob@dsnhop.test', 'carol@down.test', 'dave@down.test', 'erin@down.test']) await seedAddress(db, a);
    gateway = await startGateway(db, {
      KEYPOST_SMTP_EXEMPT_NETWORKS: '127.0.0.0/8',
      KEYPOST_RELAY_SMARTHOST: reports.hop,
      KEYPOST_RELAY_DELAY_WARNING: '1s',
      KEYPOST_RELAY_MAX_AGE: '4s',
    });
  });

  after(async () => {
    await gateway?.close();
    for (const d of [withoutDsn, withDsn, reports]) await d?.close();
    await db?.close();
  });

  const send = (to: [string, string[]], mailParams: string[], body = 'hello') =>
    smtplibSend(gateway.address, { from: SENDER, to: [to], mailParams, message: Buffer.from(`Subject: report test\r\n\r\n${body}\r\n`) });

  /** The report about the message sent with `envid` whose delivery-status says `action`. */
  async function reportFor(envid: string, action: string): Promise<{ mail: ReceivedMail; status: string; all: string }> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      for (const mail of reports.mails) {
        const all = mail.raw.toString('latin1');
        const status = [...walkEntities(parseEntity(mail.raw))].find((e) => e.contentType.mediaType === 'message/delivery-status');
        const text = status?.body.toString('latin1') ?? '';
        if (text.includes(`Original-Envelope-Id: ${envid}\r\n`) && text.includes(`Action: ${action}\r\n`)) return { mail, status: text, all };
      }
      assert.ok(Date.now() < deadline, `a "${action}" report about ${envid} arrived`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const reportsAbout = (envid: string) => reports.mails.filter((m) => m.raw.toString('latin1').includes(`Original-Envelope-Id: ${envid}\r\n`));

  test('NOTIFY=SUCCESS through a next hop without DSN: the gateway reports "relayed", with ORCPT and ENVID', async () => {
    assert.match(await send(['alice@plain.test', ['NOTIFY=SUCCESS', 'ORCPT=rfc822;Alice@plain.test']], ['RET=HDRS', 'ENVID=env-relayed']), /^250 /);
    await withoutDsn.waitForCount(1);
    const { mail, status } = await reportFor('env-relayed', 'relayed');
    assert.equal(mail.from, '');
    assert.deepEqual(mail.to, [SENDER]);
    const root = parseEntity(mail.raw);
    assert.equal(root.contentType.mediaType, 'multipart/report');
    assert.equal(root.contentType.params['report-type'], 'delivery-status');
    assert.match(status, /Original-Recipient: rfc822; Alice@plain\.test\r\nFinal-Recipient: rfc822; alice@plain\.test\r\nAction: relayed\r\nStatus: 2\.0\.0\r\n/);
    assert.ok(root.children.some((c) => c.contentType.mediaType === 'text/rfc822-headers'));
  });

  test('a next hop that offers DSN is handed NOTIFY, ORCPT, RET and ENVID, and the gateway sends no report of its own', async () => {
    assert.match(await send(['bob@dsnhop.test', ['NOTIFY=SUCCESS,FAILURE', 'ORCPT=rfc822;bob@dsnhop.test']], ['RET=FULL', 'ENVID=env-passed']), /^250 /);
    await withDsn.waitForCount(1);
    const relayed = withDsn.mails[0];
    assert.deepEqual(relayed.dsn, { ret: 'FULL', envid: 'env-passed' });
    assert.deepEqual(relayed.rcptDsn, [{ notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;bob@dsnhop.test' }]);
    // A report would be queued in the transaction that records the delivery: once the queue is
    // empty, any report there is has been delivered.
    await queueDrained(db);
    assert.deepEqual(reportsAbout('env-passed'), []);
  });

  test('a next hop that stays down: one delay report after KEYPOST_RELAY_DELAY_WARNING, then the failure report with the whole message (RET=FULL)', async () => {
    assert.match(await send(['carol@down.test', ['NOTIFY=DELAY,FAILURE']], ['RET=FULL', 'ENVID=env-down'], 'the body comes back'), /^250 /);
    const delayed = await reportFor('env-down', 'delayed');
    assert.match(delayed.status, /Final-Recipient: rfc822; carol@down\.test\r\nAction: delayed\r\nStatus: 4\.4\.7\r\n/);
    assert.match(delayed.all, /Subject: Delayed Mail \(still being retried\)/);
    const failed = await reportFor('env-down', 'failed');
    assert.match(failed.all, /Subject: Undelivered Mail Returned to Sender/);
    const returned = [...walkEntities(parseEntity(failed.mail.raw))].find((e) => e.contentType.mediaType === 'message/rfc822');
    assert.ok(returned, 'RET=FULL returns the message');
    assert.match(returned.raw.toString('latin1'), /the body comes back/);
    await queueDrained(db);
    assert.equal(reportsAbout('env-down').filter((m) => /Action: delayed/.test(m.raw.toString('latin1'))).length, 1, 'one delay report per message');
  });

  test('NOTIFY=NEVER: a failed recipient brings no report, while NOTIFY=FAILURE beside it does', async () => {
    assert.match(await send(['dave@down.test', ['NOTIFY=NEVER']], ['ENVID=env-never']), /^250 /);
    assert.match(await send(['erin@down.test', ['NOTIFY=FAILURE']], ['ENVID=env-failure']), /^250 /);
    await reportFor('env-failure', 'failed');
    await queueDrained(db);
    assert.deepEqual(reportsAbout('env-never'), []);
    // NOTIFY=FAILURE alone asked for no delay report either.
    assert.equal(reportsAbout('env-failure').length, 1);
  });
});

// A mailing list's worker decrypts each post whole, so the gateway takes a post for a list only
// when it fits in one block (8 MB): a larger one is refused at the end of DATA with 552 5.3.4
// (GW_LIST_POST_TOO_LARGE) and nothing is queued, while the same message to an ordinary address
// goes to block files and is accepted.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LIST_HOP } from '../../src/gateway/next-hop.js';
import { mintStamp } from '../../src/pow/mint.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { sendLargeByData, smtpClient, startHashingDownstream, type HashingDownstream } from '../support/large-mail.js';
import { seedAddress, seedDomain, startGateway, type GatewayUnderTest } from './support.js';

const NINE_MB = 9 * 1024 * 1024;

describe('post size for a mailing list', () => {
  let db: TestDatabase;
  let downstream: HashingDownstream;
  let gateway: GatewayUnderTest;

  before(async () => {
    db = await openTestDatabase();
    downstream = await startHashingDownstream();
    await seedDomain(db, 'example.org', { powBits: 8, nextHop: downstream.hop });
    await seedAddress(db, 'alice@example.org');
    await seedAddress(db, 'team@example.org', { nextHop: LIST_HOP });
    gateway = await startGateway(db, { KEYPOST_SMTP_MAX_SIZE: String(64 * 1024 * 1024) });
  });

  after(async () => {
    await gateway?.close();
    await downstream?.close();
    await db?.close();
  });

  async function send(to: string): Promise<string> {
    const client = await smtpClient(gateway.address);
    await client.command('EHLO client.test');
    const { stamp } = await mintStamp(to, 8);
    const { reply } = await sendLargeByData(client, { from: 'writer@sender.test', to }, `From: <writer@sender.test>\r\nSubject: big\r\nX-Hashcash: ${stamp}\r\n`, NINE_MB);
    await client.command('QUIT');
    return reply;
  }

  const queued = async (to: string) =>
    (await db.db.selectFrom('mail_queue_recipients').select('recipient').where('recipient', '=', to).execute()).length;

  test('a post over one block to a list is refused whole, and nothing is queued', async () => {
    const reply = await send('team@example.org');
    assert.match(reply, /^552 5\.3\.4 /);
    assert.match(reply, /mailing list/);
    assert.equal(await queued('team@example.org'), 0);
  });

  test('the same size to an ordinary address is accepted', async () => {
    assert.match(await send('alice@example.org'), /^250 /);
  });
});

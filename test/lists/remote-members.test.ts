// A list's copies for members of other keypost domains go out as submission mail: to the member's
// published endpoint, with a stamp minted at the member's published price (the remote gateway
// takes nothing without one), while a member with no keypost records gets its copy the ordinary
// way, without a stamp. The remote domains' records come from a DNS server of the test's own.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import * as openpgp from 'openpgp';
import { createDomain } from '../../src/directory/domains.js';
import { addMember, createList } from '../../src/lists/list-admin.js';
import { dnsMemberKeys } from '../../src/lists/member-keys.js';
import { mintStamp } from '../../src/pow/mint.js';
import { verifyStamp } from '../../src/pow/verify.js';
import { openSecretBox } from '../../src/secrets/sealed-box.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { startDownstream, startGateway, startTxtServer, type Downstream, type GatewayUnderTest } from '../gateway/support.js';

const LIST = 'open@lists.test';
const h = (local: string) => createHash('sha256').update(local.toLowerCase()).digest('hex').slice(0, 56);

describe('list copies for remote members', { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let remote: Downstream;
  let smarthost: Downstream;
  let dns: { port: number; close(): void };
  let gateway: GatewayUnderTest;

  before(async () => {
    db = await openTestDatabase();
    [remote, smarthost] = await Promise.all([startDownstream(), startDownstream()]);
    dns = await startTxtServer({
      [`${h('eve')}._keypost.remote.test`]: 'v=kp1; fpr=0123456789ABCDEF0123456789ABCDEF01234567; pow=12',
      '_keypost.remote.test': `v=kp1; ep=smtp://127.0.0.1:${remote.port}; pow=10`,
    });
    gateway = await startGateway(db, { KEYPOST_DNS_RESOLVER: `127.0.0.1:${dns.port}`, KEYPOST_RELAY_SMARTHOST: smarthost.hop });
    await db.db.transaction().execute((tx) => createDomain(tx, { name: 'lists.test', policy: { powBits: 8 }, now: new Date() }));
    const config = gateway.running.services.config;
    await createList(db.db, { box: openSecretBox(config.secrets), now: new Date() }, { address: LIST, membersOnly: false, encryptedOnly: false });
    // The owner gives both keys: the records above are enough to route, not to find a key.
    const findKey = dnsMemberKeys({ dns: { host: '127.0.0.1', port: dns.port } });
    for (const member of ['eve@remote.test', 'frank@plain.test']) {
      const { publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ email: member }], format: 'armored' });
      await addMember(db.db, { findKey, now: new Date() }, LIST, member, publicKey);
    }
  });

  after(async () => {
    await gateway?.close();
    await remote?.close();
    await smarthost?.close();
    dns?.close();
    await db?.close();
  });

  test("a remote keypost member's copy carries a stamp minted at its price; a plain member's goes without", async () => {
    const [host, port] = gateway.address.split(':');
    const conn = new SMTPConnection({ host, port: Number(port), name: 'sender.test', ignoreTLS: true, logger: false });
    await new Promise<void>((resolve, reject) => {
      conn.once('error', reject);
      conn.connect(() => resolve());
    });
    const { stamp } = await mintStamp(LIST, 8);
    const info = await new Promise<{ response: string }>((resolve, reject) =>
      conn.send({ from: 'someone@sender.test', to: [LIST] }, `From: <someone@sender.test>\r\nSubject: hello list\r\nX-Hashcash: ${stamp}\r\n\r\nhello\r\n`, (err, res) => (err ? reject(err) : resolve(res!))),
    );
    conn.quit();
    assert.match(info.response, /^250 /);

    await remote.waitForCount(1, 30_000);
    const copy = remote.mails[0];
    assert.deepEqual(copy.to, ['eve@remote.test']);
    const raw = copy.raw.toString('latin1');
    assert.match(raw, /Content-Type: multipart\/encrypted;/);
    assert.match(raw, /X-Keypost-Stamp: gw\.test; hashcash=minted bits=12/);
    const minted = /^X-Hashcash: (\S+)\r$/m.exec(raw)?.[1];
    assert.ok(minted, raw);
    const checked = verifyStamp(minted, { resource: 'eve@remote.test', bits: 12, now: new Date(), validitySeconds: 86_400, graceSeconds: 3600 });
    assert.equal(checked.ok, true, JSON.stringify(checked));

    await smarthost.waitForCount(1, 30_000);
    assert.deepEqual(smarthost.mails[0].to, ['frank@plain.test']);
    assert.doesNotMatch(smarthost.mails[0].raw.toString('latin1'), /X-Hashcash/);
  });
});

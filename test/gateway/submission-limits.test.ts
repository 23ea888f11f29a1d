// Issue 15 item 12: submission mode mints the stamp a remote recipient's records ask for, and a
// record can ask for up to 40 bits (the kp1 ceiling). Prices above KEYPOST_SUBMISSION_MAX_BITS fail that recipient
// with a DSN naming the price and the cap; a mint that runs too long is retried later.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hashPassword } from '../../src/gateway/auth-users.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { dataReplies, startDownstream, startGateway, startTxtServer, swaks, type Downstream, type GatewayUnderTest } from './support.js';

const skip = requireTool('swaks');
const h = (local: string) => createHash('sha256').update(local.toLowerCase()).digest('hex').slice(0, 56);
const FPR = '0123456789ABCDEF0123456789ABCDEF01234567';

describe('submission minting limits', { skip }, () => {
  let db: TestDatabase;
  let remote: Downstream;
  let smarthost: Downstream;
  let dns: { port: number; close(): void };
  let gateway: GatewayUnderTest;
  let dir: string;

  before(async () => {
    db = await openTestDatabase();
    remote = await startDownstream();
    smarthost = await startDownstream();
    dns = await startTxtServer({
      [`${h('greedy')}._keypost.remote.test`]: `v=kp1; fpr=${FPR}; pow=40`,
      [`${h('dear')}._keypost.remote.test`]: `v=kp1; fpr=${FPR}; pow=39`,
      [`${h('carl')}._keypost.remote.test`]: `v=kp1; fpr=${FPR}`,
      '_keypost.remote.test': `v=kp1; ep=smtp://127.0.0.1:${remote.port}; pow=8`,
    });
    dir = mkdtempSync(path.join(tmpdir(), 'kp-gw-sub-'));
    writeFileSync(path.join(dir, 'users'), `maria:${await hashPassword('s3cret')}\n`);
    gateway = await startGateway(db, {
      KEYPOST_SMTP_AUTH_USERS: path.join(dir, 'users'),
      KEYPOST_SMTP_ALLOW_INSECURE_AUTH: 'true',
      KEYPOST_DNS_RESOLVER: `127.0.0.1:${dns.port}`,
      KEYPOST_RELAY_SMARTHOST: smarthost.hop,
      KEYPOST_SUBMISSION_MINT_TIMEOUT: '1s',
      // The cap sits just under the kp1 ceiling, so that a price within it (39 bits) is one that no
      // machine mints within the one-second timeout: at 10^8 hashes a second a 39-bit stamp is found
      // in that second with a chance of about 2 in 10,000. A lower price made the timeout test a race
      // the fast minter often won.
      KEYPOST_SUBMISSION_MAX_BITS: '39',
    });
  });

  after(async () => {
    await gateway?.close();
    await remote?.close();
    await smarthost?.close();
    dns?.close();
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const auth = ['--auth', 'PLAIN', '--auth-user', 'maria', '--auth-password', 's3cret'];

  test('a remote price above KEYPOST_SUBMISSION_MAX_BITS fails that recipient with a DSN naming the price and the cap', async () => {
    const result = await swaks({
      server: gateway.address,
      from: 'maria@provider.test',
      to: ['greedy@remote.test', 'carl@remote.test'],
      data: 'Subject: two recipients\r\n\r\nhi\r\n.\r\n',
      extra: auth,
    });
    assert.match(dataReplies(result.stdout).at(-1) ?? '', /^250 2\.0\.0 Ok: queued as /, result.stdout);
    // The recipient within the cap is delivered with its 8-bit stamp...
    await remote.waitForCount(1);
    assert.deepEqual(remote.mails[0].to, ['carl@remote.test']);
    // ...and the sender learns why the other one failed.
    await smarthost.waitForCount(1);
    const dsn = smarthost.mails[0];
    assert.deepEqual(dsn.to, ['maria@provider.test']);
    assert.equal(dsn.from, '');
    const text = dsn.raw.toString('latin1');
    assert.match(text, /Final-Recipient: rfc822; greedy@remote\.test\r\nAction: failed\r\nStatus: 5\.7\.0\r\n/);
    assert.match(text, /published stamp price is 40 bits; this gateway mints stamps of at most 39 bits \(KEYPOST_SUBMISSION_MAX_BITS\)/);
    assert.doesNotMatch(text, /Final-Recipient: rfc822; carl@/);
  });

  test('a mint that runs past KEYPOST_SUBMISSION_MINT_TIMEOUT is deferred with the reason, never sent unstamped', async () => {
    const result = await swaks({ server: gateway.address, from: 'maria@provider.test', to: 'dear@remote.test', extra: auth });
    const id = /queued as ([0-9A-F]{16})/.exec(dataReplies(result.stdout).at(-1) ?? '')?.[1];
    assert.ok(id, result.stdout);
    const deadline = Date.now() + 20_000;
    let row: { last_error: string | null; stamp: string | null } | undefined;
    for (;;) {
      row = await db.db
        .selectFrom('mail_queue_recipients')
        .select(['last_error', 'stamp'])
        .where('message_id', '=', id)
        .executeTakeFirst();
      if (row?.last_error) break;
      assert.ok(Date.now() < deadline, 'the first attempt was recorded');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(row!.last_error!, /minting a 39-bit stamp did not finish within 1000 ms \(KEYPOST_SUBMISSION_MINT_TIMEOUT\)/);
    assert.equal(row!.stamp, null);
    assert.ok(!remote.mails.some((m) => m.to.includes('dear@remote.test')));
  });
});

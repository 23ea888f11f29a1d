// Outbound paths: submission mode (an authenticated user writes to a remote keypost address: the
// gateway looks the recipient up in DNS, mints the stamp the recipient's price asks for and
// delivers to the published endpoint) and .onion next hops reached through a SOCKS5 proxy.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hashPassword } from '../../src/gateway/auth-users.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { startSocksProxy, type SocksProxy } from '../support/socks5-proxy.js';
import { requireTool } from '../support/tools.js';
import {
  dataReplies,
  hashcashStamp,
  run,
  seedAddress,
  seedDomain,
  startDownstream,
  startGateway,
  startTxtServer,
  swaks,
  type Downstream,
  type GatewayUnderTest,
} from './support.js';

const skip = requireTool('hashcash', 'swaks');
const h = (local: string) => createHash('sha256').update(local.toLowerCase()).digest('hex').slice(0, 56);

describe('outbound delivery', { skip }, () => {
  let db: TestDatabase;
  let remote: Downstream;
  let smarthost: Downstream;
  let hidden: Downstream;
  let dns: { port: number; close(): void };
  let socks: SocksProxy;
  let gateway: GatewayUnderTest;
  let dir: string;

  before(async () => {
    db = await openTestDatabase();
    remote = await startDownstream();
    smarthost = await startDownstream();
    hidden = await startDownstream();
    dns = await startTxtServer({
      [`${h('bob')}._keypost.remote.test`]: 'v=kp1; fpr=0123456789ABCDEF0123456789ABCDEF01234567; pow=12',
      '_keypost.remote.test': `v=kp1; api=https://keys.remote.test; ep=smtp://127.0.0.1:${remote.port}; pow=10`,
      '_keypost.partial.test': `v=kp1; ep=smtp://127.0.0.1:${remote.port}; pow=10`,
      [`${h('eve')}._keypost.sealed.test`]: 'v=kp1; fpr=0123456789ABCDEF0123456789ABCDEF01234567',
      '_keypost.sealed.test': `v=kp1; ep=smtp://127.0.0.1:${remote.port}; pow=4; req=encrypted`,
    });
    socks = await startSocksProxy(hidden.port);
    await seedDomain(db, 'hidden.example', { powBits: 8, nextHop: 'smtp://exampleonionaddressxyz.onion:25' });
    await seedAddress(db, 'ann@hidden.example');
    dir = mkdtempSync(path.join(tmpdir(), 'kp-gw-out-'));
    writeFileSync(path.join(dir, 'users'), `maria:${await hashPassword('s3cret')}\n`);
    gateway = await startGateway(db, {
      KEYPOST_SMTP_AUTH_USERS: path.join(dir, 'users'),
      KEYPOST_SMTP_ALLOW_INSECURE_AUTH: 'true',
      KEYPOST_DNS_RESOLVER: `127.0.0.1:${dns.port}`,
      KEYPOST_RELAY_SMARTHOST: smarthost.hop,
      KEYPOST_SOCKS_PROXY: `127.0.0.1:${socks.port}`,
    });
  });

  after(async () => {
    await gateway?.close();
    for (const d of [remote, smarthost, hidden]) await d?.close();
    dns?.close();
    await socks?.close();
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const auth = ['--auth', 'PLAIN', '--auth-user', 'maria', '--auth-password', 's3cret'];

  test('an authenticated user reaches a remote keypost address with a stamp minted at its price', async () => {
    const result = await swaks({
      server: gateway.address,
      from: 'maria@provider.test',
      to: ['bob@remote.test', 'dave@plain.test'],
      data: 'Subject: hello bob\r\n\r\nhi\r\n.\r\n',
      extra: auth,
    });
    assert.match(dataReplies(result.stdout).at(-1) ?? '', /^250 2\.0\.0 Ok: queued as /, result.stdout);
    await remote.waitForCount(1, 20_000);
    const mail = remote.mails[0];
    assert.deepEqual(mail.to, ['bob@remote.test']);
    const raw = mail.raw.toString('latin1');
    const stamp = /^X-Hashcash: (\S+)\r$/m.exec(raw)?.[1];
    assert.ok(stamp, raw);
    assert.match(raw, /X-Keypost-Stamp: gw\.test; hashcash=minted bits=12/);
    // The Debian tool accepts the minted stamp for bob at the 12 bits his record asks.
    const check = await run('hashcash', ['-c', '-y', '-b', '12', '-r', 'bob@remote.test', stamp]);
    assert.equal(check.code, 0, `${check.stdout}${check.stderr}`);
    // A recipient without keypost records goes out the ordinary way, with no stamp.
    await smarthost.waitForCount(1);
    assert.deepEqual(smarthost.mails[0].to, ['dave@plain.test']);
    assert.doesNotMatch(smarthost.mails[0].raw.toString('latin1'), /X-Hashcash/);
  });

  test('an address a keypost domain does not publish is refused at RCPT', async () => {
    const result = await swaks({ server: gateway.address, from: 'maria@provider.test', to: 'carol@partial.test', extra: auth });
    assert.match(result.stdout, /550 5\.1\.1 <carol@partial\.test>: Recipient address rejected/);
  });

  test("a remote keypost recipient's req= is checked at DATA, so the user is told at once and nothing is minted or relayed", async () => {
    const before = remote.mails.length;
    const result = await swaks({ server: gateway.address, from: 'maria@provider.test', to: 'eve@sealed.test', data: 'Subject: plain\r\n\r\nhi\r\n.\r\n', extra: auth });
    assert.match(dataReplies(result.stdout).at(-1) ?? '', /^550 5\.7\.1 <eve@sealed\.test> accepts only encrypted mail \(req=encrypted\)/, result.stdout);
    assert.equal((await db.db.selectFrom('mail_queue_recipients').select('recipient').where('recipient', '=', 'eve@sealed.test').execute()).length, 0);
    assert.equal(remote.mails.length, before);
  });

  test('without AUTH, remote domains are relay denied', async () => {
    const result = await swaks({ server: gateway.address, to: 'bob@remote.test' });
    assert.match(result.stdout, /554 5\.7\.1 <bob@remote\.test>: Relay access denied/);
  });

  test('an .onion next hop is reached through the SOCKS5 proxy, the name resolved by the proxy', async () => {
    const result = await swaks({
      server: gateway.address,
      to: 'ann@hidden.example',
      headers: [`X-Hashcash: ${await hashcashStamp('ann@hidden.example', 8)}`],
    });
    assert.match(dataReplies(result.stdout).at(-1) ?? '', /^250 /, result.stdout);
    await hidden.waitForCount(1);
    assert.deepEqual(hidden.mails[0].to, ['ann@hidden.example']);
    assert.deepEqual(socks.targets, ['exampleonionaddressxyz.onion:25']);
  });
});

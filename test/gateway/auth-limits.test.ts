// Issue 15 item 11: AUTH attempts are limited per connection and per client address, and the
// password hashes (16 MiB scrypt each) running at once are bounded; each limit answers before any
// hash is computed. Each test is a different loopback client, so their counts do not mix.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hashPassword } from '../../src/gateway/auth-users.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { rawSmtp, seedAddress, seedDomain, startDownstream, startGateway, swaks, type Downstream, type GatewayUnderTest } from './support.js';

const skip = requireTool('swaks');
const plain = (user: string, password: string) => Buffer.from(`\0${user}\0${password}`).toString('base64');

describe('AUTH limits', { skip }, () => {
  let db: TestDatabase;
  let downstream: Downstream;
  let gateway: GatewayUnderTest;
  let dir: string;

  before(async () => {
    db = await openTestDatabase();
    downstream = await startDownstream();
    await seedDomain(db, 'example.org', { powBits: 8, nextHop: downstream.hop });
    await seedAddress(db, 'alice@example.org');
    dir = mkdtempSync(path.join(tmpdir(), 'kp-gw-auth-'));
    // "slow" has a costlier hash (64 MiB), so its checks overlap when started together.
    writeFileSync(
      path.join(dir, 'users'),
      `maria:${await hashPassword('s3cret')}\nslow:${await hashPassword('patience', { N: 65536, r: 8, p: 1 })}\n`,
    );
    gateway = await startGateway(db, {
      KEYPOST_SMTP_AUTH_USERS: path.join(dir, 'users'),
      KEYPOST_SMTP_ALLOW_INSECURE_AUTH: 'true',
      KEYPOST_SMTP_AUTH_MAX_FAILURES: '3',
      KEYPOST_SMTP_AUTH_MAX_FAILURES_PER_IP: '4',
      KEYPOST_SMTP_AUTH_CONCURRENCY: '1',
      KEYPOST_RELAY_ENABLED: 'false',
    });
  });

  after(async () => {
    await gateway?.close();
    await downstream?.close();
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a connection that failed AUTH 3 times is closed with 421 4.7.0 at the next attempt', async () => {
    const client = await rawSmtp(gateway.address, '127.0.0.11');
    await client.waitFor(/^220 /);
    client.socket.write('EHLO client.test\r\n');
    await client.waitFor(/250 /);
    for (let i = 1; i <= 3; i++) {
      client.socket.write(`AUTH PLAIN ${plain('maria', `guess${i}`)}\r\n`);
      await client.waitFor(new RegExp(`(535 5\\.7\\.8 [^\\n]*\\n[^]*){${i}}`));
    }
    client.socket.write(`AUTH PLAIN ${plain('maria', 's3cret')}\r\n`);
    await client.waitFor(/421 4\.7\.0 Too many failed authentication attempts, closing connection\r\n/);
    await client.closed;
    assert.doesNotMatch(client.text(), /235 /, 'the fourth attempt was not checked, even with the right password');
  });

  test('an address that failed AUTH 4 times in the window gets 454 4.7.0; another address still authenticates', async () => {
    const auth = (password: string, source: string) =>
      swaks({
        server: gateway.address,
        from: 'maria@example.org',
        to: 'alice@example.org',
        extra: ['--auth', 'PLAIN', '--auth-user', 'maria', '--auth-password', password, '--local-interface', source, '--quit-after', 'AUTH'],
      });
    for (let i = 1; i <= 4; i++) {
      const wrong = await auth(`wrong${i}`, '127.0.0.12');
      assert.match(wrong.stdout, /535 5\.7\.8 Authentication credentials invalid/, wrong.stdout);
    }
    const refused = await auth('s3cret', '127.0.0.12');
    assert.match(refused.stdout, /454 4\.7\.0 Too many failed authentication attempts from your address, try again later/, refused.stdout);
    const other = await auth('s3cret', '127.0.0.13');
    assert.match(other.stdout, /235 /, other.stdout);
  });

  test('AUTH beyond KEYPOST_SMTP_AUTH_CONCURRENCY hashes in flight gets 454 4.7.0 at once, and the slot is given back', async () => {
    const clients = await Promise.all(['127.0.0.14', '127.0.0.15', '127.0.0.16'].map((source) => rawSmtp(gateway.address, source)));
    for (const c of clients) {
      await c.waitFor(/^220 /);
      c.socket.write('EHLO client.test\r\n');
      await c.waitFor(/250 /);
    }
    for (const c of clients) c.socket.write(`AUTH PLAIN ${plain('slow', 'patience')}\r\n`);
    const replies = await Promise.all(clients.map((c) => c.waitFor(/\n(235|454) [^\n]*\n$/).then((t) => /\n(\d{3} [^\r\n]*)\r\n$/.exec(t)![1])));
    assert.equal(replies.filter((r) => r.startsWith('235 ')).length, 1, replies.join('\n'));
    const busy = replies.filter((r) => r.startsWith('454 '));
    assert.equal(busy.length, 2, replies.join('\n'));
    for (const r of busy) assert.match(r, /^454 4\.7\.0 Temporary authentication failure: too many authentications in progress/);
    // The refused clients try again once the hash is done, and get in.
    const retry = clients.find((c, i) => replies[i].startsWith('454 '))!;
    retry.socket.write(`AUTH PLAIN ${plain('slow', 'patience')}\r\n`);
    await retry.waitFor(/235 /);
    for (const c of clients) c.socket.destroy();
  });
});

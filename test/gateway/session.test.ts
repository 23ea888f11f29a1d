// Session policy: STARTTLS with the configured certificate, SMTP AUTH users and exempt networks
// skipping the stamp rule, and the limits enforced while reading (recipients, line length,
// message size, connections, idle and total session time).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hashPassword } from '../../src/gateway/auth-users.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import {
  dataReplies,
  hashcashStamp,
  run,
  seedAddress,
  seedDomain,
  startDownstream,
  startGateway,
  swaks,
  type Downstream,
  type GatewayUnderTest,
} from './support.js';

const skip = requireTool('hashcash', 'swaks', 'openssl');

/** A raw connection that collects what the server says. */
async function rawSession(address: string): Promise<{ socket: Socket; text(): string; waitFor(re: RegExp, ms?: number): Promise<string> }> {
  const [host, port] = address.split(':');
  const socket = connect(Number(port), host);
  let text = '';
  socket.on('data', (d) => (text += d));
  socket.on('error', () => undefined);
  await new Promise((r) => socket.once('connect', r));
  return {
    socket,
    text: () => text,
    async waitFor(re, ms = 5000) {
      const deadline = Date.now() + ms;
      while (!re.test(text)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; got ${JSON.stringify(text)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return text;
    },
  };
}

describe('session policy', { skip }, () => {
  let db: TestDatabase;
  let downstream: Downstream;
  let secure: GatewayUnderTest;
  let limited: GatewayUnderTest;
  let exempt: GatewayUnderTest;
  let dir: string;

  before(async () => {
    db = await openTestDatabase();
    downstream = await startDownstream();
    await seedDomain(db, 'example.org', { powBits: 8, nextHop: downstream.hop });
    await seedAddress(db, 'alice@example.org');
    await seedAddress(db, 'bob@example.org');
    await seedAddress(db, 'carol@example.org');
    dir = mkdtempSync(path.join(tmpdir(), 'kp-gw-tls-'));
    const cert = await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=gw.test', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
    ]);
    assert.equal(cert.code, 0, cert.stderr);
    writeFileSync(path.join(dir, 'users'), `# provider users\nmaria:${await hashPassword('correct horse')}\n`);
    secure = await startGateway(db, {
      KEYPOST_SMTP_TLS_CERT: path.join(dir, 'cert.pem'),
      KEYPOST_SMTP_TLS_KEY: path.join(dir, 'key.pem'),
      KEYPOST_SMTP_AUTH_USERS: path.join(dir, 'users'),
      KEYPOST_RELAY_ENABLED: 'false',
    });
    limited = await startGateway(db, {
      KEYPOST_SMTP_MAX_RECIPIENTS: '2',
      KEYPOST_SMTP_MAX_LINE_LENGTH: '200',
      KEYPOST_SMTP_MAX_SIZE: '4096',
      KEYPOST_SMTP_MAX_CONNECTIONS: '3',
      KEYPOST_SMTP_IDLE_TIMEOUT: '1s',
      KEYPOST_SMTP_SESSION_TIMEOUT: '3s',
      KEYPOST_RELAY_ENABLED: 'false',
    });
    exempt = await startGateway(db, { KEYPOST_SMTP_EXEMPT_NETWORKS: '10.0.0.0/8, 127.0.0.1/32', KEYPOST_RELAY_ENABLED: 'false' });
  });

  after(async () => {
    await secure?.close();
    await limited?.close();
    await exempt?.close();
    await downstream?.close();
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function queuedMessage(id: string) {
    return db.db.selectFrom('mail_queue').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  }
  const queueId = (transcript: string) => /queued as ([0-9A-F]{16})/.exec(transcript)?.[1];

  test('STARTTLS uses the configured certificate and stamped mail is accepted over it', async () => {
    const result = await swaks({
      server: secure.address,
      to: 'alice@example.org',
      headers: [`X-Hashcash: ${await hashcashStamp('alice@example.org', 8)}`],
      extra: ['--tls', '--tls-get-peer-cert', path.join(dir, 'peer.pem')],
    });
    assert.match(result.stdout, /250-STARTTLS/);
    const pem = (file: string) => readFileSync(path.join(dir, file), 'utf8').replace(/\s+/g, '');
    assert.equal(pem('peer.pem'), pem('cert.pem'), 'the peer certificate is the configured one');
    const id = queueId(result.stdout);
    assert.ok(id, result.stdout);
    assert.match((await queuedMessage(id)).trace_headers, /with ESMTPS \(TLS_/);
  });

  test('AUTH is offered only inside TLS, and a configured user skips the stamp rule', async () => {
    const plain = await swaks({ server: secure.address, to: 'alice@example.org', extra: ['--quit-after', 'EHLO'] });
    assert.doesNotMatch(plain.stdout, /250-AUTH/);
    const result = await swaks({
      server: secure.address,
      from: 'maria@example.org',
      to: 'alice@example.org',
      extra: ['--tls', '--auth', 'PLAIN', '--auth-user', 'maria', '--auth-password', 'correct horse'],
    });
    assert.match(result.stdout, /235 /);
    const id = queueId(result.stdout);
    assert.ok(id, result.stdout);
    const row = await queuedMessage(id);
    assert.match(row.trace_headers, /with ESMTPSA/);
    assert.match(row.trace_headers, /X-Keypost-Stamp: gw\.test; hashcash=none \(exempt: authenticated user maria\)/);
    assert.equal(row.auth_user, 'maria');
  });

  test('a wrong password is refused with 535 5.7.8', async () => {
    const result = await swaks({
      server: secure.address,
      to: 'alice@example.org',
      extra: ['--tls', '--auth', 'PLAIN', '--auth-user', 'maria', '--auth-password', 'wrong'],
    });
    assert.match(result.stdout, /535 5\.7\.8 Authentication credentials invalid/);
  });

  test('an exempt network skips the stamp rule; STARTTLS is not offered without a certificate', async () => {
    const result = await swaks({ server: exempt.address, to: 'alice@example.org' });
    assert.doesNotMatch(result.stdout, /STARTTLS/);
    const id = queueId(result.stdout);
    assert.ok(id, result.stdout);
    assert.match((await queuedMessage(id)).trace_headers, /hashcash=none \(exempt: network 127\.0\.0\.1\/32\)/);
  });

  test('recipients per message are limited', async () => {
    const result = await swaks({ server: limited.address, to: 'alice@example.org,bob@example.org,carol@example.org' });
    assert.match(result.stdout, /RCPT TO:<carol@example\.org>\r?\n\s*<\*\* 452 Error: too many recipients/);
  });

  test('a line over the limit is refused at the end of DATA and nothing is stored', async () => {
    const stamp = await hashcashStamp('alice@example.org', 8);
    const data = `X-Hashcash: ${stamp}\r\n\r\n${'y'.repeat(300)}\r\n.\r\n`;
    const result = await swaks({ server: limited.address, to: 'alice@example.org', data });
    assert.match(dataReplies(result.stdout).at(-1) ?? '', /^550 5\.6\.0 Message line too long \(limit 200 octets including CRLF/);
  });

  test('a message over SIZE is refused with 552 during DATA and nothing is stored', async () => {
    const before = await db.db.selectFrom('mail_queue').select('id').execute();
    const ehlo = await swaks({ server: limited.address, to: 'alice@example.org', extra: ['--quit-after', 'EHLO'] });
    assert.match(ehlo.stdout, /250 SIZE 4096/);
    const stamp = await hashcashStamp('alice@example.org', 8);
    const data = `X-Hashcash: ${stamp}\r\n\r\n${`${'z'.repeat(78)}\r\n`.repeat(100)}.\r\n`;
    const result = await swaks({ server: limited.address, to: 'alice@example.org', data });
    assert.match(dataReplies(result.stdout).at(-1) ?? '', /^552 5\.3\.4 Message size exceeds fixed maximum message size \(\d+ > 4096 octets\)/);
    assert.deepEqual(await db.db.selectFrom('mail_queue').select('id').execute(), before);
  });

  test('an idle client is disconnected with 421', async () => {
    const session = await rawSession(limited.address);
    await session.waitFor(/^220 /);
    const started = Date.now();
    await session.waitFor(/421 [^\r\n]*Timeout/i, 4000);
    assert.ok(Date.now() - started >= 900);
    session.socket.destroy();
  });

  test('a session that talks too long is closed with 421 4.4.2', async () => {
    const session = await rawSession(limited.address);
    await session.waitFor(/^220 /);
    session.socket.write('EHLO client.test\r\n');
    const keepAlive = setInterval(() => session.socket.write('NOOP\r\n'), 300);
    try {
      await session.waitFor(/421 4\.4\.2 Session time limit exceeded/, 6000);
    } finally {
      clearInterval(keepAlive);
      session.socket.destroy();
    }
  });

  test('connections over the limit are turned away with 421', async () => {
    const sessions = await Promise.all([1, 2, 3].map(() => rawSession(limited.address)));
    await Promise.all(sessions.map((s) => s.waitFor(/^220 /)));
    const extra = await rawSession(limited.address);
    await extra.waitFor(/^421 /);
    for (const s of [...sessions, extra]) s.socket.destroy();
  });
});

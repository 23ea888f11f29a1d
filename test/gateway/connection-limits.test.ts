// Issue 15 item 8 (SMTP): one client could take every SMTP slot, and a client trickling a line one
// byte at a time held its slot for the whole session. Each client address now has its own cap,
// and a line has a deadline of its own. Loopback sources 127.0.0.x stand for different clients.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import {
  dataReplies,
  hashcashStamp,
  rawSmtp,
  run,
  seedAddress,
  seedDomain,
  startDownstream,
  startGateway,
  swaks,
  type Downstream,
  type GatewayUnderTest,
  type RawSmtp,
} from './support.js';

const skip = requireTool('hashcash', 'swaks', 'openssl');

describe('SMTP connection limits', { skip }, () => {
  let db: TestDatabase;
  let downstream: Downstream;
  let gateway: GatewayUnderTest;
  let tlsGateway: GatewayUnderTest;
  let dir: string;

  before(async () => {
    db = await openTestDatabase();
    downstream = await startDownstream();
    await seedDomain(db, 'example.org', { powBits: 8, nextHop: downstream.hop });
    await seedAddress(db, 'alice@example.org');
    gateway = await startGateway(db, {
      KEYPOST_SMTP_MAX_CONNECTIONS: '10',
      KEYPOST_SMTP_MAX_CONNECTIONS_PER_IP: '3',
      KEYPOST_SMTP_LINE_TIMEOUT: '1s',
      // Far longer than any wait below: a 421 seen here is the line deadline, not idleness.
      KEYPOST_SMTP_IDLE_TIMEOUT: '60s',
      KEYPOST_RELAY_ENABLED: 'false',
    });
    dir = mkdtempSync(path.join(tmpdir(), 'kp-gw-limits-'));
    const cert = await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=gw.test', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
    ]);
    assert.equal(cert.code, 0, cert.stderr);
    tlsGateway = await startGateway(db, {
      KEYPOST_SMTP_TLS_CERT: path.join(dir, 'cert.pem'),
      KEYPOST_SMTP_TLS_KEY: path.join(dir, 'key.pem'),
      KEYPOST_SMTP_LINE_TIMEOUT: '1s',
      KEYPOST_SMTP_IDLE_TIMEOUT: '60s',
      KEYPOST_RELAY_ENABLED: 'false',
    });
  });

  after(async () => {
    await gateway?.close();
    await tlsGateway?.close();
    rmSync(dir, { recursive: true, force: true });
    await downstream?.close();
    await db?.close();
  });

  const greeted = (c: RawSmtp) => c.waitFor(/^(220|421) /).then((t) => t.startsWith('220 '));

  test('one address gets at most KEYPOST_SMTP_MAX_CONNECTIONS_PER_IP sessions; a client from another address still sends mail', async () => {
    // As many connections as the whole gateway allows, all from one address.
    const flood = await Promise.all(Array.from({ length: 10 }, () => rawSmtp(gateway.address, '127.0.0.21')));
    const outcomes = await Promise.all(flood.map(greeted));
    assert.equal(outcomes.filter(Boolean).length, 3, 'three sessions for the flooding address');
    for (const [i, c] of flood.entries()) {
      if (outcomes[i]) continue;
      assert.match(c.text(), /^421 4\.7\.0 Too many connections from your address, try again later \(limit 3\)\r\n$/);
      await c.closed;
    }
    const result = await swaks({
      server: gateway.address,
      to: 'alice@example.org',
      headers: [`X-Hashcash: ${await hashcashStamp('alice@example.org', 8)}`],
      extra: ['--local-interface', '127.0.0.22'],
    });
    assert.match(dataReplies(result.stdout).at(-1) ?? '', /^250 2\.0\.0 Ok: queued as /, result.stdout);
    // A session that ends gives its slot back to its address.
    const held = flood.filter((_, i) => outcomes[i]);
    held[0].socket.destroy();
    await held[0].closed;
    let again: RawSmtp | undefined;
    for (let attempt = 0; attempt < 50; attempt++) {
      again = await rawSmtp(gateway.address, '127.0.0.21');
      if (await greeted(again)) break;
      again.socket.destroy();
      again = undefined;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(again, 'the address was greeted again once one of its sessions ended');
    for (const c of [...flood, again]) c.socket.destroy();
  });

  test('a command line left incomplete is closed with 421 4.4.2 after KEYPOST_SMTP_LINE_TIMEOUT, however it trickles', async () => {
    const client = await rawSmtp(gateway.address, '127.0.0.23');
    await client.waitFor(/^220 /);
    const started = Date.now();
    client.socket.write('EHLO slow');
    // A byte now and then restarts the idle timeout, never the line's deadline.
    const trickle = setInterval(() => client.socket.write('w'), 300);
    try {
      await client.waitFor(/421 4\.4\.2 Line not completed in time, closing connection \(1 s\)\r\n/, 8000);
      await client.closed;
    } finally {
      clearInterval(trickle);
    }
    assert.ok(Date.now() - started >= 900, 'not before the deadline');
    assert.doesNotMatch(client.text(), /250/);
  });

  test('a message line left incomplete in DATA is closed the same way, and nothing is queued', async () => {
    const client = await rawSmtp(gateway.address, '127.0.0.24');
    await client.waitFor(/^220 /);
    client.socket.write('EHLO client.test\r\nMAIL FROM:<s@sender.test>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n');
    await client.waitFor(/354 /);
    client.socket.write('Subject: never ends');
    await client.waitFor(/421 4\.4\.2 Line not completed in time/, 8000);
    await client.closed;
    const queued = await db.db.selectFrom('mail_queue').select('id').where('client_address', '=', '127.0.0.24').execute();
    assert.equal(queued.length, 0);
  });

  test('after STARTTLS the deadline watches the TLS session (openssl s_client)', async () => {
    const [host, port] = tlsGateway.address.split(':');
    const client = spawn('openssl', ['s_client', '-starttls', 'smtp', '-quiet', '-connect', `${host}:${port}`], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    client.stdout.on('data', (d) => (out += d));
    client.stderr.on('data', () => undefined);
    const exited = new Promise<void>((resolve) => client.once('exit', () => resolve()));
    try {
      // s_client prints nothing of its own on stdout with -quiet; the server's first TLS reply
      // comes after our first complete line.
      client.stdin.write('NOOP\r\n');
      const deadline = Date.now() + 10_000;
      while (!/250 /.test(out)) {
        assert.ok(Date.now() < deadline, `no reply inside TLS: ${JSON.stringify(out)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      client.stdin.write('EHLO half');
      while (!/421 4\.4\.2 Line not completed in time/.test(out)) {
        assert.ok(Date.now() < deadline, `no 421 inside TLS: ${JSON.stringify(out)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      await exited;
    } finally {
      client.kill();
    }
  });

  test('a quiet client between complete commands is not affected by the line deadline', async () => {
    const client = await rawSmtp(gateway.address, '127.0.0.25');
    await client.waitFor(/^220 /);
    client.socket.write('EHLO client.test\r\n');
    await client.waitFor(/250 /);
    await new Promise((r) => setTimeout(r, 1500));
    client.socket.write('NOOP\r\n');
    await client.waitFor(/250 [^\r\n]*\r\n(?![^]*421)[^]*$/);
    assert.doesNotMatch(client.text(), /421/);
    client.socket.destroy();
  });
});

// Item 8 of issue 15 (DNS part): one client used to be able to hold every DNS TCP slot. Now each
// address has its own cap, a full server closes its longest-idle connection to admit a new one
// (RFC 7766 §6.2.2) instead of refusing it, and a query once begun must be complete quickly.
// These hold per thread that accepts: the listener is tested alone (no DNS workers), then with
// workers, where each thread holds a client to the per-address cap.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import type { DnsComponent } from '../../src/dns/component.js';
import { addZone } from './support/fixtures.js';
import { dig, section, startDns, status, waitFor, type DnsServer } from './support/server.js';

const skip = requireTool('dig');
const ZONE = 'tcp.test';

let db: TestDatabase;
let server: DnsServer;
const dns = () => server.keypost.components.find((c) => c.name === 'dns') as DnsComponent;

before(async () => {
  if (skip) return;
  db = await openTestDatabase();
  await addZone(db.db, ZONE);
  server = await startDns(db, {
    KEYPOST_DNS_WORKERS: '0',
    KEYPOST_DNS_TCP_MAX_CONNECTIONS: '8',
    KEYPOST_DNS_TCP_MAX_PER_IP: '4',
    KEYPOST_DNS_TCP_IDLE_TIMEOUT: '60s',
    KEYPOST_DNS_TCP_QUERY_TIMEOUT: '300ms',
  });
});

after(async () => {
  await server?.close();
  await db?.close();
});

interface Held {
  socket: Socket;
  closed: Promise<number>;
}

/** Opens a connection from `address` and keeps it idle; `closed` resolves with when it ended. */
async function hold(address: string, on: DnsServer = server): Promise<Held> {
  const socket = connect({ host: on.host, port: on.port, localAddress: address });
  socket.on('error', () => {});
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('close', () => reject(new Error('refused')));
  });
  // The server accepts asynchronously; give its accept handler a round trip before the next one.
  await new Promise((r) => setTimeout(r, 20));
  return { socket, closed };
}

async function tcpSoa(address: string): Promise<string> {
  return dig(server, '-b', address, '+tcp', ZONE, 'SOA');
}

test('one address holding many idle DNS TCP connections cannot lock other clients out', { skip }, async () => {
  const held: Held[] = [];
  try {
    for (let i = 0; i < 12; i++) held.push(await hold('127.0.0.2'));
    const opened = Date.now();
    // The address kept at most its own cap: its oldest idle connections were closed to admit the
    // new ones, at once, long before the idle timeout (60 s here) would have closed them.
    const closedAt = await Promise.all(held.slice(0, 8).map((h) => h.closed));
    assert.ok(Math.max(...closedAt) - opened < 5000, `closed ${Math.max(...closedAt) - opened} ms after opening`);
    assert.ok(dns().counters.tcpShed >= 8);
    const out = await tcpSoa('127.0.0.3');
    assert.equal(status(out), 'NOERROR', out);
    assert.equal(section(out, 'ANSWER').length, 1);
  } finally {
    for (const h of held) h.socket.destroy();
  }
});

test('a full DNS TCP listener sheds its longest-idle connection rather than refusing a new one', { skip }, async () => {
  const held: Held[] = [];
  try {
    for (const a of ['127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7']) for (let i = 0; i < 2; i++) held.push(await hold(a));
    const asked = Date.now();
    const out = await tcpSoa('127.0.0.8');
    assert.equal(status(out), 'NOERROR', out);
    // The oldest of the idle ones made room, at once rather than at its idle timeout.
    assert.ok((await held[0].closed) - asked < 5000);
    assert.equal(held[1].socket.destroyed, false, 'only one connection was shed');
  } finally {
    for (const h of held) h.socket.destroy();
  }
});

test('a DNS TCP query left incomplete is cut off after the short query timeout, not the idle one', { skip }, async () => {
  const h = await hold('127.0.0.9');
  const started = Date.now();
  h.socket.write(Buffer.from([0x00, 0x40, 0x12])); // announces 64 octets, sends one
  const closedAt = await h.closed;
  // The idle timeout here is 60 s (and 10 s by default); the query timeout is 300 ms.
  assert.ok(closedAt - started < 5000, `closed after ${closedAt - started} ms`);
});

test('with DNS workers, every thread that accepts holds an address to its cap, and other clients get in', { skip }, async () => {
  const threaded = await startDns(db, { KEYPOST_DNS_WORKERS: '2', KEYPOST_DNS_TCP_MAX_PER_IP: '2', KEYPOST_DNS_TCP_IDLE_TIMEOUT: '60s' });
  const held: Held[] = [];
  try {
    for (let i = 0; i < 12; i++) held.push(await hold('127.0.0.10', threaded));
    // Three threads accept (the main one and two workers), each holding the address to 2: at
    // least 6 of its 12 connections are closed, long before the idle timeout would close them.
    await waitFor('the address to be held to its cap on every thread', async () => (held.filter((h) => h.socket.destroyed).length >= 6 ? true : undefined), 5000);
    const out = await dig(threaded, '-b', '127.0.0.11', '+tcp', ZONE, 'SOA');
    assert.equal(status(out), 'NOERROR', out);
  } finally {
    for (const h of held) h.socket.destroy();
    await threaded.close();
  }
});

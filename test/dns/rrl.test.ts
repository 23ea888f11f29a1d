// Item 9 of issue 15: UDP reflection. Response-rate limiting per client prefix (/24) with NSD's
// slip (every 2nd limited response goes out truncated), and DNS cookies (RFC 7873, RFC 9018): a
// flood from one source is limited while other sources are answered, and a client that returns
// our server cookie has proved its address and is answered in full.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import type { DnsComponent } from '../../src/dns/component.js';
import { addZone } from './support/fixtures.js';
import { dig, flags, section, startDns, status, waitFor, type DnsServer } from './support/server.js';
import { buildQuery, flagsOf } from './support/wire-client.js';

const skip = requireTool('dig');
const ZONE = 'rrl.test';
const RATE = 20;

let db: TestDatabase;
let server: DnsServer;
let dns: DnsComponent;

before(async () => {
  if (skip) return;
  db = await openTestDatabase();
  await addZone(db.db, ZONE);
  server = await startDns(db, { KEYPOST_DNS_RRL_RATE: String(RATE) });
  dns = server.keypost.components.find((c) => c.name === 'dns') as DnsComponent;
});

after(async () => {
  await server?.close();
  await db?.close();
});

/** A query with OPT carrying a COOKIE option (RFC 7873 §4). */
function withCookie(query: Buffer, cookie: Buffer): Buffer {
  const opt = Buffer.alloc(11 + 4 + cookie.length);
  opt.writeUInt16BE(41, 1);
  opt.writeUInt16BE(1232, 3);
  opt.writeUInt16BE(4 + cookie.length, 9);
  opt.writeUInt16BE(10, 11);
  opt.writeUInt16BE(cookie.length, 13);
  cookie.copy(opt, 15);
  const out = Buffer.concat([query, opt]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}

/** The COOKIE option data of a reply's OPT, if any. */
function replyCookie(reply: Buffer): Buffer | undefined {
  const at = reply.lastIndexOf(Buffer.from([0x00, 0x0a]));
  if (at < 0) return undefined;
  const length = reply.readUInt16BE(at + 2);
  return at + 4 + length === reply.length ? reply.subarray(at + 4) : undefined;
}

interface Client {
  socket: Socket;
  replies: Buffer[];
  close(): void;
}

async function client(address: string): Promise<Client> {
  const socket = createSocket('udp4');
  const replies: Buffer[] = [];
  socket.on('message', (msg) => replies.push(msg));
  await new Promise<void>((resolve) => socket.bind(0, address, () => resolve()));
  return { socket, replies, close: () => socket.close() };
}

const send = (c: Client, msg: Buffer) => c.socket.send(msg, server.port, server.host);

test('a flood from one source is rate-limited while other sources are answered', { skip }, async () => {
  const flooder = await client('127.0.1.1');
  const neighbour = await client('127.0.1.2');
  try {
    const before = dns.counters.udpQueries;
    const dropsBefore = dns.counters.dropped;
    const FLOOD = 400;
    for (let i = 0; i < FLOOD; i++) send(flooder, buildQuery(ZONE, 6, { id: i }));
    // Every reply the server chose to send has arrived once the counts add up.
    await waitFor('the flood to be answered or dropped', async () =>
      dns.counters.udpQueries - before >= FLOOD && flooder.replies.length + (dns.counters.dropped - dropsBefore) >= FLOOD ? true : undefined,
    );
    const full = flooder.replies.filter((r) => !flagsOf(r).tc);
    const truncated = flooder.replies.filter((r) => flagsOf(r).tc);
    const dropped = dns.counters.dropped - dropsBefore;
    // The allowance (RATE, plus what accrues while the flood is sent) is answered in full; of the
    // rest, every second response slips out truncated and the others are dropped.
    assert.ok(full.length >= RATE && full.length < FLOOD / 4, `${full.length} full answers`);
    assert.ok(Math.abs(truncated.length - dropped) <= 1, `${truncated.length} truncated, ${dropped} dropped`);
    for (const r of truncated) assert.equal(r.readUInt16BE(6), 0, 'a slipped response carries no records');

    // The same /24 shares the account: the neighbour is limited too (its slips arrive truncated).
    for (let i = 0; i < 10; i++) send(neighbour, buildQuery(ZONE, 6, { id: i }));
    await waitFor('truncated answers to the neighbour', async () => (neighbour.replies.filter((r) => flagsOf(r).tc).length >= 4 ? true : undefined));

    // Other networks are answered in full, by dig, while the flood's debt is still being paid.
    for (let n = 2; n <= 9; n++) {
      const out = await dig(server, '-b', `127.0.${n}.1`, '+ignore', ZONE, 'SOA');
      assert.equal(status(out), 'NOERROR', out);
      assert.ok(!flags(out).includes('tc'), out);
      assert.equal(section(out, 'ANSWER').length, 1, out);
    }
  } finally {
    flooder.close();
    neighbour.close();
  }
});

test('a client that returns a valid server cookie is exempt from rate limiting; a stale one gets BADCOOKIE', { skip }, async () => {
  const c = await client('127.0.3.1');
  try {
    const clientCookie = Buffer.from('0123456789abcdef', 'hex');
    // Run the account into debt without cookies.
    const dropsBefore = dns.counters.dropped;
    for (let i = 0; i < 200; i++) send(c, buildQuery(ZONE, 6, { id: i }));
    await waitFor('the account to be limited', async () => (dns.counters.dropped - dropsBefore >= 50 ? true : undefined));

    // A client cookie alone is no proof: limited responses slip as BADCOOKIE carrying a server cookie.
    for (let i = 0; i < 20; i++) send(c, withCookie(buildQuery(ZONE, 6, { id: 1000 + i }), clientCookie));
    const badcookie = await waitFor('a BADCOOKIE reply', async () => c.replies.find((r) => r.readUInt16BE(0) >= 1000 && flagsOf(r).rcode === (23 & 0xf)));
    const f = flagsOf(badcookie);
    assert.equal(f.rcode, 23 & 0xf);
    assert.equal(badcookie.readUInt16BE(6), 0);
    const cookie = replyCookie(badcookie)!;
    assert.equal(cookie.length, 24);
    assert.ok(cookie.subarray(0, 8).equals(clientCookie));
    assert.equal(cookie[8], 1, 'RFC 9018 version 1');

    // Returning it: every query is answered in full, though the address is still over its rate.
    c.replies.length = 0;
    for (let i = 0; i < 60; i++) send(c, withCookie(buildQuery(ZONE, 6, { id: 2000 + i }), cookie));
    await waitFor('60 answers', async () => (c.replies.length >= 60 ? true : undefined));
    for (const r of c.replies) {
      assert.equal(flagsOf(r).rcode, 0);
      assert.equal(flagsOf(r).tc, false);
      assert.equal(r.readUInt16BE(6), 1);
    }
  } finally {
    c.close();
  }
});

test('dig accepts the server cookie and sends it back as good', { skip }, async () => {
  const first = await dig(server, '-b', '127.0.4.1', '+cookie', ZONE, 'SOA');
  const cookie = /; COOKIE: ([0-9a-f]+) \(good\)/.exec(first)?.[1];
  assert.ok(cookie && cookie.length === 48, first);
  const again = await dig(server, '-b', '127.0.4.1', `+cookie=${cookie}`, ZONE, 'SOA');
  assert.match(again, /; COOKIE: [0-9a-f]{48} \(good\)/);
  assert.equal(status(again), 'NOERROR');
  // A malformed COOKIE option (RFC 7873 §5.2.2) is a format error.
  const bad = await dig(server, '-b', '127.0.4.1', '+cookie=0123', ZONE, 'SOA');
  assert.equal(status(bad), 'FORMERR', bad);
});

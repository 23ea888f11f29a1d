// 200,000 malformed or mutated messages over UDP and TCP: random bytes, truncations, compression
// loops, wrong section counts, oversized labels and names, broken OPT and TSIG records, bit flips
// of valid queries. The server must stay up, never fail internally, and answer correct queries
// correctly in between and afterwards.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { openpgpkeyLabel } from '../../src/protocol/address-hashes.js';
import type { DnsComponent } from '../../src/dns/component.js';
import { signRequest } from '../../src/dns/tsig.js';
import { encodeName } from '../../src/protocol/dns-wire.js';
import { addZone, makeKey, publish, type TestKey } from './support/fixtures.js';
import { startDns, type DnsServer } from './support/server.js';
import { buildQuery, parse, tcpExchange, udpExchange } from './support/wire-client.js';

const ZONE = 'fuzz.test';
const UDP_MESSAGES = Number(process.env.DNS_FUZZ_UDP ?? 170_000);
const TCP_MESSAGES = Number(process.env.DNS_FUZZ_TCP ?? 30_000);
const seed = Number(process.env.DNS_FUZZ_SEED ?? Date.now() % 2 ** 31);

let db: TestDatabase;
let server: DnsServer;
let key: TestKey;

/** mulberry32: a small seeded PRNG so a failure can be replayed with DNS_FUZZ_SEED. */
function prng(s: number): () => number {
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeGenerator(random: () => number) {
  const int = (n: number) => Math.floor(random() * n);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  const valid = () =>
    buildQuery(
      [`${openpgpkeyLabel(`u${int(5)}`)}._openpgpkey.${ZONE}`, ZONE, `_keypost.${ZONE}`, 'elsewhere.example'][int(4)],
      [1, 6, 16, 61, 37, 255, 252, 251][int(8)],
      { id: int(65536), edns: random() < 0.5 ? { payload: int(5000), version: int(3) } : undefined },
    );
  const header = (qd: number, an: number, ns: number, ar: number) => {
    const h = Buffer.alloc(12);
    h.writeUInt16BE(int(65536), 0);
    h.writeUInt16BE(int(65536) & 0x7fff, 2);
    h.writeUInt16BE(qd, 4);
    h.writeUInt16BE(an, 6);
    h.writeUInt16BE(ns, 8);
    h.writeUInt16BE(ar, 10);
    return h;
  };
  const kinds: (() => Buffer)[] = [
    // random bytes, any length
    () => bytes(int(600)),
    // truncation of a valid query
    () => {
      const q = valid();
      return q.subarray(0, int(q.length));
    },
    // bit flips and byte mutations of a valid query
    () => {
      const q = Buffer.from(valid());
      for (let i = 0, n = 1 + int(6); i < n; i++) q[int(q.length)] ^= 1 << int(8);
      return q;
    },
    // compression loops and forward pointers, in the question and in additional records
    () => {
      const self = Buffer.concat([header(1, 0, 0, 0), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
      const mutual = Buffer.concat([header(1, 0, 0, 1), encodeName(ZONE), Buffer.from([0, 1, 0, 1]), Buffer.from([0xc0, 31, 0xc0, 29, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0])]);
      const forward = Buffer.concat([header(1, 0, 0, 0), Buffer.from([0xc0, 200, 0, 1, 0, 1])]);
      const deep = Buffer.concat([valid(), ...Array.from({ length: 40 }, (_, i) => Buffer.from([0xc0, 12 + (i % 5)]))]);
      return [self, mutual, forward, deep][int(4)];
    },
    // wrong section counts on a valid query
    () => {
      const q = Buffer.from(valid());
      q.writeUInt16BE([0, 2, 65535, int(65536)][int(4)], 4 + 2 * int(4));
      return q;
    },
    // oversized labels and names
    () => {
      const label = Buffer.concat([Buffer.from([64 + int(192)]), bytes(int(300))]);
      const long = Buffer.concat([...Array.from({ length: 5 }, () => Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 97)])), Buffer.from([0])]);
      return Buffer.concat([header(1, 0, 0, 0), random() < 0.5 ? label : long, Buffer.from([0, 1, 0, 1])]);
    },
    // broken OPT: bad owner, short RDATA, two OPTs, huge RDLENGTH
    () => {
      const base = buildQuery(ZONE, 6);
      base.writeUInt16BE(1 + int(2), 10);
      const opt = Buffer.from([random() < 0.3 ? 1 : 0, 0, 41, 16, 0, 0, 0, 0, 0, int(256), int(256)]);
      return Buffer.concat([base, opt, random() < 0.5 ? opt : bytes(int(8))]);
    },
    // TSIG: signed then damaged, or TSIG not last
    () => {
      const signed = signRequest(buildQuery(ZONE, 252), { keyWire: encodeName('k'), secret: Buffer.alloc(32, 1), nowSeconds: Math.floor(Date.now() / 1000) }).message;
      if (random() < 0.5) return signed.subarray(0, signed.length - 1 - int(40));
      const moved = Buffer.concat([signed, Buffer.from([0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0])]);
      moved.writeUInt16BE(moved.readUInt16BE(10) + 1, 10);
      return moved;
    },
  ];
  return () => kinds[int(kinds.length)]();
}

before(async () => {
  db = await openTestDatabase();
  await addZone(db.db, ZONE, { dns: { secondaries: [{ address: '127.0.0.1' }] } });
  key = await makeKey(`u0@${ZONE}`);
  await publish(db.db, `u0@${ZONE}`, key);
  server = await startDns(db);
});

after(async () => {
  await server?.close();
  await db?.close();
});

async function healthy(): Promise<void> {
  const q = buildQuery(`${openpgpkeyLabel('u0')}._openpgpkey.${ZONE}`, 61, { id: 7, edns: { payload: 1232 } });
  // UDP may lose a datagram behind a full socket buffer; retry as any resolver would.
  let viaUdp: Buffer | null = null;
  for (let attempt = 0; attempt < 5 && !viaUdp; attempt++) viaUdp = await udpExchange(server.host, server.port, q, 1000);
  assert.ok(viaUdp, 'UDP answer');
  assert.deepEqual((parse(viaUdp).answers[0] as unknown as { data: Buffer }).data, key.binary);
  const [viaTcp] = await tcpExchange(server.host, server.port, [q]);
  assert.deepEqual((parse(viaTcp).answers[0] as unknown as { data: Buffer }).data, key.binary);
}

function component(): DnsComponent {
  return server.keypost.components.find((c) => c.name === 'dns') as DnsComponent;
}

test(`fuzz over UDP: ${UDP_MESSAGES} messages (seed ${seed})`, async () => {
  const next = makeGenerator(prng(seed));
  const socket = createSocket('udp4');
  socket.on('message', () => undefined);
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  const received = component().counters.udpQueries;
  for (let sent = 0; sent < UDP_MESSAGES; ) {
    // Small bursts, then yield, so the in-process server reads them rather than the kernel dropping them.
    for (let i = 0; i < 50; i++, sent++) socket.send(next(), server.port, '127.0.0.1');
    // Let the in-process server catch up, so the kernel does not drop what it has not read yet.
    for (let spins = 0; spins < 50 && component().counters.udpQueries - received < sent - 100; spins++) {
      await new Promise((r) => setImmediate(r));
    }
    if (sent % 40_000 === 0) await healthy();
  }
  await new Promise((r) => setTimeout(r, 200));
  socket.close();
  await healthy();
  const processed = component().counters.udpQueries - received;
  assert.ok(processed >= UDP_MESSAGES * 0.9, `server read ${processed} of ${UDP_MESSAGES}`);
  assert.equal(component().counters.internalErrors, 0);
});

test(`fuzz over TCP: ${TCP_MESSAGES} messages on pipelined connections (seed ${seed + 1})`, async () => {
  const random = prng(seed + 1);
  const next = makeGenerator(random);
  const perConnection = 100;
  const received = component().counters.tcpQueries;
  for (let c = 0; c < TCP_MESSAGES / perConnection; c += 10) {
    await Promise.all(
      Array.from({ length: 10 }, () => {
        const frames: Buffer[] = [];
        for (let i = 0; i < perConnection; i++) {
          const m = next();
          const len = Buffer.alloc(2);
          len.writeUInt16BE(m.length);
          frames.push(len, m);
        }
        // Sometimes end with a length prefix that promises more than follows.
        if (random() < 0.2) frames.push(Buffer.from([0xff, 0xff, 1, 2, 3]));
        return new Promise<void>((resolve) => {
          const socket = connect({ host: server.host, port: server.port }, () => socket.end(Buffer.concat(frames)));
          socket.on('data', () => undefined);
          socket.on('error', () => resolve());
          socket.on('close', () => resolve());
        });
      }),
    );
  }
  await healthy();
  assert.ok(component().counters.tcpQueries - received >= TCP_MESSAGES, 'every complete frame was read');
  assert.equal(component().counters.internalErrors, 0);
});

// KEYPOST_DNS_WORKERS: several threads read the one UDP socket and accept on the one TCP listener.
// Every worker answers (its own counter on /metrics rises), the main thread reads no datagram, and
// a publish reaches every worker within a second of the main thread serving it; each worker signs
// DO answers of a signed zone with signatures made in the background, before the query. A zone
// transfer accepted by a worker streams, TSIG-signed, what the loading thread serves.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { openpgpkeyLabel } from '../../src/protocol/address-hashes.js';
import { nameKey } from '../../src/protocol/dns-wire.js';
import { lookupNode } from '../../src/dns/zone-snapshot.js';
import type { DnsComponent } from '../../src/dns/component.js';
import { addZone, makeKey, publish } from './support/fixtures.js';
import { signZone } from './support/dnssec.js';
import { dig, startDns, waitFor, type DnsServer } from './support/server.js';
import { buildQuery, flagsOf, tcpExchange } from './support/wire-client.js';

const skip = requireTool('dig');
const ZONE = 'workers.test';
const SIGNED = 'signed-workers.test';
const WORKERS = 2;
const OPENPGPKEY = 61;
const TSIG_SECRET = randomBytes(32).toString('base64');
/** Enough addresses that a transfer takes several messages (transfer.ts fills ~16 KiB each). */
const FILLER = 60;
let db: TestDatabase;
let server: DnsServer;
let dns: DnsComponent;

before(async () => {
  if (skip) return;
  db = await openTestDatabase();
  await addZone(db.db, ZONE, { dns: { secondaries: [{ address: '127.0.0.1', tsigKey: 'xfr-key' }], tsigKeys: { 'xfr-key': TSIG_SECRET } } });
  const aliceKey = await makeKey(`alice@${ZONE}`);
  await publish(db.db, `alice@${ZONE}`, aliceKey);
  for (let i = 0; i < FILLER; i++) await publish(db.db, `filler${i}@${ZONE}`, aliceKey);
  await addZone(db.db, SIGNED);
  await signZone(db, SIGNED, 13);
  await publish(db.db, `carol@${SIGNED}`, await makeKey(`carol@${SIGNED}`));
  server = await startDns(db, { KEYPOST_DNS_WORKERS: String(WORKERS) });
  dns = server.keypost.components.find((c) => c.name === 'dns') as DnsComponent;
});
after(async () => {
  await server?.close();
  await db?.close();
});

/** Queries received per thread over UDP or TCP, from /metrics (worker "0" is the main thread). */
async function perWorker(transport: 'udp' | 'tcp' = 'udp'): Promise<Map<string, number>> {
  const text = await (await fetch(`http://${server.keypost.addresses.ops}/metrics`)).text();
  const counts = new Map<string, number>();
  const line = new RegExp(`^keypost_dns_worker_${transport}_queries_total\\{worker="(\\d+)"\\} (\\d+)$`, 'gm');
  for (const m of text.matchAll(line)) counts.set(m[1], Number(m[2]));
  return counts;
}

/** The workers whose count in `now` is above the one in `from`. */
const rose = (from: Map<string, number>, now: Map<string, number>) =>
  Array.from({ length: WORKERS }, (_, i) => String(i + 1)).filter((w) => (now.get(w) ?? 0) > (from.get(w) ?? 0));

/** Sends `count` queries for `name` at once from one socket and resolves with the replies. */
function burst(name: string, count: number, dnssecOk = false): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const replies: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`${replies.length} of ${count} replies`));
    }, 5000);
    socket.on('message', (msg) => {
      replies.push(msg);
      if (replies.length === count) {
        clearTimeout(timer);
        socket.close();
        resolve(replies);
      }
    });
    for (let id = 0; id < count; id++) socket.send(buildQuery(name, OPENPGPKEY, { id, edns: { dnssecOk } }), server.port, server.host);
  });
}

/** Sends bursts for `name` until every worker's counter has risen past `from`; returns every reply. */
async function untilEveryWorkerAnswered(name: string, from: Map<string, number>, dnssecOk = false): Promise<Buffer[]> {
  const replies: Buffer[] = [];
  await waitFor(
    'every worker to answer',
    async () => {
      replies.push(...(await burst(name, 50, dnssecOk)));
      const now = await perWorker();
      for (let w = 1; w <= WORKERS; w++) if ((now.get(String(w)) ?? 0) <= (from.get(String(w)) ?? 0)) return undefined;
      return true;
    },
    10_000,
    0,
  );
  return replies;
}

const alice = `${openpgpkeyLabel('alice')}._openpgpkey.${ZONE}`;

test('every worker answers queries; the main thread reads none of them', { skip }, async () => {
  const before = await perWorker();
  assert.deepEqual([...before.keys()].sort(), ['0', '1', '2']);
  const replies = await untilEveryWorkerAnswered(alice, before);
  for (const r of replies) {
    assert.equal(flagsOf(r).rcode, 0);
    assert.equal(r.readUInt16BE(6), 1, 'one OPENPGPKEY record');
  }
  assert.equal((await perWorker()).get('0'), 0, 'the main thread read no datagram');
  assert.equal(dns.counters.udpQueries, [...(await perWorker()).values()].reduce((a, b) => a + b), 'the totals sum the workers');
});

test('a publish is served by every worker within a second of the main thread serving it', { skip }, async () => {
  const bob = `${openpgpkeyLabel('bob')}._openpgpkey.${ZONE}`;
  await publish(db.db, `bob@${ZONE}`, await makeKey(`bob@${ZONE}`));
  const rel = nameKey(bob).slice(0, -nameKey(ZONE).length);
  await waitFor('the main thread to serve bob', async () => (lookupNode(dns.snapshots().zones.get(nameKey(ZONE))!, rel) ? true : undefined), 10_000, 1);
  const served = Date.now();
  await dns.workersSynced();
  const synced = Date.now() - served;
  assert.ok(synced < 1000, `workers took ${synced} ms`);
  // From here on, whichever worker answers must know bob.
  const replies = await untilEveryWorkerAnswered(bob, await perWorker());
  for (const r of replies) {
    assert.equal(flagsOf(r).rcode, 0);
    assert.equal(r.readUInt16BE(6), 1, 'bob answered with his OPENPGPKEY');
  }
});

test('every worker answers DO queries of a signed zone with signatures made before the query', { skip }, async () => {
  await dns.signingIdle();
  const onQuery = dns.counters.signaturesOnQuery;
  const replies = await untilEveryWorkerAnswered(`${openpgpkeyLabel('carol')}._openpgpkey.${SIGNED}`, await perWorker(), true);
  for (const r of replies) {
    assert.equal(flagsOf(r).rcode, 0);
    assert.equal(r.readUInt16BE(6), 2, 'the OPENPGPKEY record and its RRSIG');
  }
  assert.equal(dns.counters.signaturesOnQuery, onQuery, 'no signature was made on the query path');
});

test('workers accept TCP connections and answer on them', { skip }, async () => {
  const from = await perWorker('tcp');
  const answered = new Set<string>();
  const replies: Buffer[] = [];
  // Every thread accepts on the one listener and the kernel gives each connection to one of them,
  // so connect until every worker has answered on a connection of its own.
  await waitFor(
    'every worker to answer over TCP',
    async () => {
      const before = await perWorker('tcp');
      replies.push(...(await tcpExchange(server.host, server.port, [buildQuery(alice, OPENPGPKEY, { id: 1 }), buildQuery(alice, OPENPGPKEY, { id: 2 })])));
      for (const w of rose(before, await perWorker('tcp'))) answered.add(w);
      return answered.size === WORKERS ? true : undefined;
    },
    10_000,
    0,
  );
  assert.equal(rose(from, await perWorker('tcp')).length, WORKERS);
  for (const r of replies) {
    assert.equal(flagsOf(r).rcode, 0);
    assert.equal(r.readUInt16BE(6), 1, 'one OPENPGPKEY record');
  }
});

test('a zone transfer accepted by a worker streams the zone the loading thread serves, TSIG-signed', { skip }, async () => {
  const key = `hmac-sha256:xfr-key:${TSIG_SECRET}`;
  const servedSerial = () => dns.snapshots().zones.get(nameKey(ZONE))!.serial;
  const serialBefore = servedSerial();
  // Transfer until one lands on a worker (its TCP count rises while nothing else uses TCP).
  const transfer = await waitFor(
    'a worker to accept a transfer',
    async () => {
      const before = await perWorker('tcp');
      const out = await dig(server, '-y', key, ZONE, 'AXFR');
      return rose(before, await perWorker('tcp')).length ? out : undefined;
    },
    10_000,
    0,
  );
  // dig checks the TSIG of every message and says so when one fails.
  assert.doesNotMatch(transfer, /Transfer failed|tsig verify failure|communications error/i);
  const messages = Number(/XFR size: \d+ records \(messages (\d+)/.exec(transfer)?.[1]);
  assert.ok(messages > 1, `the transfer took several messages (${messages})`);
  const records = transfer.split('\n').filter((l) => l && !l.startsWith(';') && !/\sTSIG\s/.test(l));
  assert.match(records[0], /\sSOA\s/);
  assert.equal(records[records.length - 1], records[0], 'SOA first and last');
  const serial = Number(records[0].split(/\s+/)[6]);
  assert.ok(serial >= serialBefore && serial <= servedSerial(), `serial ${serial}: one the loading thread served`);
  const published = await db.db.selectFrom('addresses').select((eb) => eb.fn.countAll<string>().as('n')).where('domain', '=', ZONE).executeTakeFirstOrThrow();
  const openpgpkeys = records.filter((l) => /\sOPENPGPKEY\s/.test(l));
  assert.ok(Number(published.n) > FILLER);
  assert.equal(openpgpkeys.length, Number(published.n), 'every published address');
  assert.ok(openpgpkeys.some((l) => l.startsWith(`${alice}.`)));
  assert.ok(records.some((l) => /\sZONEMD\s/.test(l)), 'the zone digest, which only the loading thread makes');
  // Unsigned, the same worker path refuses: the transfer ACL names the key.
  const refused = await waitFor(
    'a worker to refuse an unsigned transfer',
    async () => {
      const before = await perWorker('tcp');
      const out = await dig(server, ZONE, 'AXFR');
      return rose(before, await perWorker('tcp')).length ? out : undefined;
    },
    10_000,
    0,
  );
  assert.match(refused, /Transfer failed/);
});

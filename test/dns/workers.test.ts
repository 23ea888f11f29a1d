// KEYPOST_DNS_WORKERS: several threads read the one UDP socket. Every worker answers (its own
// counter on /metrics rises), the main thread reads none of it, and a publish reaches every worker
// within a second of the main thread serving it; each worker signs DO answers of a signed zone
// with signatures made in the background, before the query.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { openpgpkeyLabel } from '../../src/protocol/address-hashes.js';
import { nameKey } from '../../src/protocol/dns-wire.js';
import { lookupNode } from '../../src/dns/zone-snapshot.js';
import type { DnsComponent } from '../../src/dns/component.js';
import { addZone, makeKey, publish } from './support/fixtures.js';
import { signZone } from './support/dnssec.js';
import { startDns, waitFor, type DnsServer } from './support/server.js';
import { buildQuery, flagsOf } from './support/wire-client.js';

const skip = requireTool('dig');
const ZONE = 'workers.test';
const SIGNED = 'signed-workers.test';
const WORKERS = 2;
const OPENPGPKEY = 61;
let db: TestDatabase;
let server: DnsServer;
let dns: DnsComponent;

before(async () => {
  if (skip) return;
  db = await openTestDatabase();
  await addZone(db.db, ZONE);
  await publish(db.db, `alice@${ZONE}`, await makeKey(`alice@${ZONE}`));
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

/** UDP queries received per thread, from /metrics (worker "0" is the main thread). */
async function perWorker(): Promise<Map<string, number>> {
  const text = await (await fetch(`http://${server.keypost.addresses.ops}/metrics`)).text();
  const counts = new Map<string, number>();
  for (const m of text.matchAll(/^keypost_dns_worker_udp_queries_total\{worker="(\d+)"\} (\d+)$/gm)) counts.set(m[1], Number(m[2]));
  return counts;
}

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

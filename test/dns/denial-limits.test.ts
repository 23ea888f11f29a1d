// Issue 9, online denial under abuse: compact denial (RFC 9824) signs each missing name online,
// so fresh denial signatures are admitted per client prefix (the RRL /24) and server-wide. Over
// either budget a UDP query gets TC=1 with no records, and the same question over TCP is answered
// signed; other prefixes, cached denials and positive answers keep their signed answers, which
// delv validates. RRL is off here so that only the denial budgets act.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { openpgpkeyLabel } from '../../src/protocol/address-hashes.js';
import { addZone, makeKey, publish } from './support/fixtures.js';
import { dig, flags, section, startDns, status, type DnsServer } from './support/server.js';
import { delv, signZone, writeAnchors } from './support/dnssec.js';

const skip = requireTool('dig', 'delv');
const ZONE = 'denial.test';
// Low budgets, so that the floods exceed them however slowly a loaded machine starts dig.
const PREFIX_RATE = 2;

/** A DNSSEC query over UDP from `source` that does not retry a truncated answer over TCP. */
const udpFrom = (server: DnsServer, source: string, name: string, type = 'OPENPGPKEY') => dig(server, '-b', source, '+dnssec', '+ignore', name, type);
const missing = (tag: string, i: number) => `${openpgpkeyLabel(`${tag}${i}`)}._openpgpkey.${ZONE}`;

/** Sends `count` distinct missing names from `sources` (round robin), `parallel` at a time. */
async function flood(server: DnsServer, sources: string[], tag: string, count: number, parallel = 20): Promise<{ truncated: number; signed: number; outputs: string[] }> {
  const outputs: string[] = [];
  for (let from = 0; from < count; from += parallel) {
    const batch = Array.from({ length: Math.min(parallel, count - from) }, (_, k) => udpFrom(server, sources[(from + k) % sources.length], missing(tag, from + k)));
    outputs.push(...(await Promise.all(batch)));
  }
  const truncated = outputs.filter((o) => flags(o).includes('tc')).length;
  const signed = outputs.filter((o) => section(o, 'AUTHORITY').some((l) => l.split(' ')[3] === 'NSEC')).length;
  return { truncated, signed, outputs };
}

async function metric(server: DnsServer, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`http://${server.keypost.addresses.ops}/metrics`)).text();
  return Number(pattern.exec(text)?.[1] ?? NaN);
}

let db: TestDatabase;
let anchors: string;

before(async () => {
  if (skip) return;
  db = await openTestDatabase();
  await addZone(db.db, ZONE);
  await signZone(db, ZONE, 13);
  await publish(db.db, `alice@${ZONE}`, await makeKey(`alice@${ZONE}`));
});

after(async () => {
  await db?.close();
});

describe('per client prefix', () => {
  let server: DnsServer;
  before(async () => {
    if (skip) return;
    // One worker thread answers UDP: the limiter runs there, with the whole rate. Each thread
    // caches the denials it signed, so with several a denial cached by one is fresh to another,
    // and which thread reads a datagram is the kernel's choice.
    server = await startDns(db, { KEYPOST_DNS_WORKERS: '1', KEYPOST_DNS_RRL_RATE: '0', KEYPOST_DNS_DENIAL_RATE: String(PREFIX_RATE), KEYPOST_DNS_DENIAL_BUDGET: '0' });
    anchors = (await writeAnchors(server, ZONE, db.env.KEYPOST_DATA_DIR)).file;
  });
  after(async () => {
    await server?.close();
  });

  test('a flood of distinct missing names from one /24 gets TC while another /24 gets validated denials', { skip }, async () => {
    // Asked once before the flood: its denial is cached and stays answerable from the flooding prefix.
    const cachedName = missing('cached', 0);
    assert.ok(section(await udpFrom(server, '127.0.3.1', cachedName), 'AUTHORITY').some((l) => l.includes(' NSEC ')));

    const started = Date.now();
    const result = await flood(server, ['127.0.2.1', '127.0.2.2', '127.0.2.3'], 'flood', 60);
    const seconds = (Date.now() - started) / 1000;
    assert.ok(result.truncated > 0, 'some answers to the flood are truncated');
    // The bucket starts full (one second's worth) and refills at the rate.
    assert.ok(result.signed <= PREFIX_RATE * (1 + Math.ceil(seconds)), `${result.signed} signed in ${seconds} s`);
    for (const out of result.outputs.filter((o) => flags(o).includes('tc'))) {
      assert.equal(status(out), 'NOERROR');
      assert.deepEqual([section(out, 'ANSWER').length, section(out, 'AUTHORITY').length], [0, 0], 'a truncated answer carries no records');
    }

    // While the prefix is over its budget: a truncated name is answered in full over TCP ...
    const truncatedName = missing('flood', result.outputs.findIndex((o) => flags(o).includes('tc')));
    const overTcp = await dig(server, '-b', '127.0.2.1', '+dnssec', '+tcp', truncatedName, 'OPENPGPKEY');
    assert.ok(!flags(overTcp).includes('tc'));
    assert.ok(section(overTcp, 'AUTHORITY').some((l) => l.split(' ')[3] === 'NSEC'), overTcp);
    // ... a cached denial and a positive answer still come over UDP, signed ...
    const cached = await udpFrom(server, '127.0.2.1', cachedName);
    assert.ok(!flags(cached).includes('tc') && section(cached, 'AUTHORITY').some((l) => l.split(' ')[3] === 'RRSIG'), cached);
    const positive = await udpFrom(server, '127.0.2.1', `${openpgpkeyLabel('alice')}._openpgpkey.${ZONE}`);
    assert.deepEqual(section(positive, 'ANSWER').map((l) => l.split(' ')[3]), ['OPENPGPKEY', 'RRSIG']);
    // ... and another prefix gets new denials, which delv (from 127.0.0.1) validates.
    const neighbour = await udpFrom(server, '127.0.3.1', missing('neighbour', 0));
    assert.ok(!flags(neighbour).includes('tc'));
    assert.ok(section(neighbour, 'AUTHORITY').some((l) => l.split(' ')[3] === 'NSEC'), neighbour);
    const verdict = await delv(server, anchors, ZONE, missing('neighbour', 1), 'OPENPGPKEY');
    assert.match(verdict, /; negative response, fully validated/);

    // Every TC seen was counted (a reply lost on a loaded machine is counted but not seen).
    assert.ok((await metric(server, /^keypost_dns_denials_refused_total\{budget="prefix"\} (\d+)/m)) >= result.truncated);
    assert.equal(await metric(server, /^keypost_dns_denials_refused_total\{budget="overload"\} (\d+)/m), 0);
  });
});

describe('server-wide signing budget', () => {
  let server: DnsServer;
  const BUDGET = 5;
  before(async () => {
    if (skip) return;
    server = await startDns(db, { KEYPOST_DNS_RRL_RATE: '0', KEYPOST_DNS_DENIAL_RATE: '0', KEYPOST_DNS_DENIAL_BUDGET: String(BUDGET) });
  });
  after(async () => {
    await server?.close();
  });

  test('under a flood from many /24s, denials past the budget get TC at once while positive answers stay signed', { skip }, async () => {
    const sources = Array.from({ length: 10 }, (_, i) => `127.0.${20 + i}.1`);
    const started = Date.now();
    const result = await flood(server, sources, 'many', 80, 40);
    const seconds = (Date.now() - started) / 1000;
    assert.ok(result.truncated > 0, 'some answers to the flood are truncated');
    // A burst of a tenth of a second's budget, then the budget's rate.
    assert.ok(result.signed <= Math.ceil(BUDGET / 10) + BUDGET * Math.ceil(seconds), `${result.signed} signed in ${seconds} s`);
    const positive = await udpFrom(server, sources[0], `${openpgpkeyLabel('alice')}._openpgpkey.${ZONE}`);
    assert.deepEqual(section(positive, 'ANSWER').map((l) => l.split(' ')[3]), ['OPENPGPKEY', 'RRSIG']);
    assert.ok((await metric(server, /^keypost_dns_denials_refused_total\{budget="overload"\} (\d+)/m)) >= result.truncated);
    assert.ok((await metric(server, /^keypost_dns_denials_admitted_total (\d+)/m)) >= result.signed);
  });
});

// answer() without sockets: queries built with dns2, responses checked byte for byte where the
// wire rule matters (question copied, OPT, TC) and through dns2's parser elsewhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { answer } from '../../src/dns/answer.js';
import { applyChanges, buildZoneSnapshot, rewriteAddressPolicy, withZone, emptySnapshotSet, zoneNodes, type SnapshotSet } from '../../src/dns/zone-snapshot.js';
import type { AddressSource, ZoneSource } from '../../src/dns/zone-records.js';
import { openpgpkeyLabel, wkdHash } from '../../src/protocol/address-hashes.js';
import { buildQuery, flagsOf, parse } from './support/wire-client.js';

const ZONE: ZoneSource = {
  name: 'example.test',
  serial: 7,
  powBits: 22,
  endpoint: 'smtp://mx.example.test:25',
  apiUrl: 'https://keys.example.test',
  dns: {
    nameservers: [{ name: 'ns1.example.test', ipv4: ['192.0.2.53'], ipv6: ['2001:db8::53'] }, { name: 'ns.other.test' }],
    hostmaster: 'dns.admin@example.test',
    soa: { refresh: 1000, retry: 200, expire: 100000, minimum: 60, ttl: 600 },
    openpgpkeyAddresses: ['192.0.2.80'],
  },
};

const alice: AddressSource = {
  localPart: 'alice',
  fingerprint: 'A'.repeat(40),
  minimalKey: randomBytes(420),
  endpoint: null,
  powBits: null,
};
const bob: AddressSource = {
  localPart: 'bob',
  fingerprint: 'B'.repeat(40),
  minimalKey: randomBytes(3000),
  endpoint: 'smtp://bob.onion:25',
  powBits: 26,
};

const defaults = { powBits: 20 };
const set: SnapshotSet = withZone(emptySnapshotSet(), buildZoneSnapshot(ZONE, [alice, bob], defaults));
const h = (local: string) => `${openpgpkeyLabel(local)}._openpgpkey.example.test`;
const TYPE = { A: 1, NS: 2, SOA: 6, TXT: 16, AAAA: 28, CERT: 37, OPENPGPKEY: 61, AXFR: 252, ANY: 255 };

const udp = { transport: 'udp' as const };
const tcp = { transport: 'tcp' as const };

test('positive answers carry each record type with AA set', async (t) => {
  const cases: { name: string; qname: string; qtype: number; check: (m: ReturnType<typeof parse>) => void }[] = [
    {
      name: 'SOA at the apex',
      qname: 'example.test',
      qtype: TYPE.SOA,
      check: (m) => {
        const soa = m.answers[0] as unknown as Record<string, unknown>;
        assert.equal(soa.primary, 'ns1.example.test');
        // RNAME's first label is the whole local part `dns.admin` (RFC 1035 §8).
        assert.equal(soa.admin, 'dns.admin.example.test');
        assert.equal(soa.serial, 7);
        assert.equal(soa.minimum, 60);
      },
    },
    {
      name: 'NS at the apex',
      qname: 'example.test',
      qtype: TYPE.NS,
      check: (m) => assert.deepEqual(m.answers.map((a) => (a as unknown as { ns: string }).ns).sort(), ['ns.other.test', 'ns1.example.test']),
    },
    {
      name: 'zone policy TXT',
      qname: '_keypost.example.test',
      qtype: TYPE.TXT,
      check: (m) => assert.equal((m.answers[0] as unknown as { data: string[] }).data.join(''), 'v=kp1; api=https://keys.example.test; ep=smtp://mx.example.test:25; pow=22'),
    },
    {
      name: 'WKD host A',
      qname: 'openpgpkey.example.test',
      qtype: TYPE.A,
      check: (m) => assert.equal((m.answers[0] as unknown as { address: string }).address, '192.0.2.80'),
    },
    {
      name: 'in-zone name server AAAA',
      qname: 'ns1.example.test',
      qtype: TYPE.AAAA,
      check: (m) => assert.equal(m.answers.length, 1),
    },
    {
      name: 'OPENPGPKEY carries the key bytes',
      qname: h('alice'),
      qtype: TYPE.OPENPGPKEY,
      check: (m) => assert.deepEqual((m.answers[0] as unknown as { data: Buffer }).data, alice.minimalKey),
    },
    {
      name: 'address TXT leaves out what equals the zone policy',
      qname: `${openpgpkeyLabel('alice')}._keypost.example.test`,
      qtype: TYPE.TXT,
      check: (m) => assert.equal((m.answers[0] as unknown as { data: string[] }).data.join(''), `v=kp1; fpr=${'A'.repeat(40)}`),
    },
    {
      name: 'address TXT carries its own ep and pow',
      qname: `${openpgpkeyLabel('bob')}._keypost.example.test`,
      qtype: TYPE.TXT,
      check: (m) => assert.equal((m.answers[0] as unknown as { data: string[] }).data.join(''), `v=kp1; fpr=${'B'.repeat(40)}; ep=smtp://bob.onion:25; pow=26`),
    },
    {
      name: "PKA CERT is IPGP with the fingerprint and the key's URL at the zone's directory",
      qname: `${wkdHash('alice')}._pka.example.test`,
      qtype: TYPE.CERT,
      check: (m) => {
        const data = (m.answers[0] as unknown as { data: Buffer }).data;
        const url = Buffer.from(`https://keys.example.test/vks/v1/by-fingerprint/${'A'.repeat(40)}`);
        assert.deepEqual(data, Buffer.concat([Buffer.from([0, 6, 0, 0, 0, 20]), Buffer.from('A'.repeat(40), 'hex'), url]));
      },
    },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const reply = answer(set, buildQuery(c.qname, c.qtype, { edns: {} }), udp)!;
      const flags = flagsOf(reply);
      assert.equal(flags.rcode, 0);
      assert.ok(flags.aa && flags.qr);
      const m = parse(reply);
      assert.ok(m.answers.length >= 1);
      assert.ok(m.answers.every((a) => a.type === c.qtype));
      c.check(m);
    });
  }
});

test('negative answers: NXDOMAIN and NODATA both carry the SOA with the negative TTL', async (t) => {
  const cases = [
    { name: 'missing address hash', qname: h('nobody'), qtype: TYPE.OPENPGPKEY, rcode: 3 },
    { name: 'name below the apex that does not exist', qname: 'www.example.test', qtype: TYPE.A, rcode: 3 },
    { name: 'existing name, other type', qname: h('alice'), qtype: TYPE.TXT, rcode: 0 },
    { name: 'empty non-terminal _openpgpkey', qname: '_openpgpkey.example.test', qtype: TYPE.A, rcode: 0 },
    { name: 'empty non-terminal _pka', qname: '_pka.example.test', qtype: TYPE.CERT, rcode: 0 },
    { name: 'apex without A', qname: 'example.test', qtype: TYPE.A, rcode: 0 },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const reply = answer(set, buildQuery(c.qname, c.qtype), udp)!;
      const flags = flagsOf(reply);
      assert.equal(flags.rcode, c.rcode);
      assert.ok(flags.aa);
      const m = parse(reply);
      assert.equal(m.answers.length, 0);
      assert.equal(m.authorities.length, 1);
      assert.equal(m.authorities[0].type, TYPE.SOA);
      assert.equal(m.authorities[0].name, 'example.test');
      assert.equal(m.authorities[0].ttl, 60); // min(600, 60)
    });
  }
});

test('the question comes back byte for byte, case preserved, and answers owners follow it', () => {
  const qname = `${openpgpkeyLabel('alice').toUpperCase()}._OpenPGPKey.ExAmPlE.TeSt`;
  const query = buildQuery(qname, TYPE.OPENPGPKEY, { edns: {} });
  const reply = answer(set, query, tcp)!;
  const questionLength = qname.length + 2 + 4;
  assert.deepEqual(Buffer.from(reply.subarray(12, 12 + questionLength)), query.subarray(12, 12 + questionLength));
  assert.equal(parse(reply).answers[0].name, qname);
});

test('refusals and errors', async (t) => {
  const cases: { name: string; query: Buffer; rcode: number | null; aa?: boolean }[] = [
    { name: 'out of zone → REFUSED', query: buildQuery('example.org', TYPE.A), rcode: 5, aa: false },
    { name: 'parent of the zone → REFUSED', query: buildQuery('test', TYPE.SOA), rcode: 5, aa: false },
    { name: 'CHAOS class → REFUSED', query: buildQuery('example.test', TYPE.TXT, { qclass: 3 }), rcode: 5 },
    { name: 'AXFR over UDP → REFUSED', query: buildQuery('example.test', TYPE.AXFR), rcode: 5 },
    { name: 'opcode STATUS → NOTIMP', query: buildQuery('example.test', TYPE.SOA, { opcode: 2 }), rcode: 4 },
    { name: 'opcode UPDATE → NOTIMP', query: buildQuery('example.test', TYPE.SOA, { opcode: 5 }), rcode: 4 },
    { name: 'QDCOUNT 0 → FORMERR', query: Buffer.from([0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), rcode: 1 },
    { name: 'QDCOUNT 2 → FORMERR', query: Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0]), Buffer.from([0, 0, 1, 0, 1, 0, 0, 1, 0, 1])]), rcode: 1 },
    { name: 'question cut short → FORMERR', query: buildQuery('example.test', TYPE.A).subarray(0, 20), rcode: 1 },
    { name: 'label longer than 63 → FORMERR', query: Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 64]), Buffer.alloc(64, 97), Buffer.from([0, 0, 1, 0, 1])]), rcode: 1 },
    { name: 'compression pointer in the question → FORMERR', query: Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]), rcode: 1 },
    { name: 'ARCOUNT larger than the message → FORMERR', query: (() => { const q = buildQuery('example.test', TYPE.A); q.writeUInt16BE(3, 10); return q; })(), rcode: 1 },
    { name: 'a response (QR set) is dropped', query: (() => { const q = buildQuery('example.test', TYPE.A); q[2] |= 0x80; return q; })(), rcode: null },
    { name: 'shorter than a header is dropped', query: Buffer.from([1, 2, 3]), rcode: null },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const reply = answer(set, c.query, udp);
      if (c.rcode === null) return assert.equal(reply, null);
      assert.ok(reply);
      assert.equal(flagsOf(reply).rcode, c.rcode);
      assert.equal(flagsOf(reply).qr, true);
      assert.equal((reply[0] << 8) | reply[1], (c.query[0] << 8) | c.query[1]);
      if (c.aa !== undefined) assert.equal(flagsOf(reply).aa, c.aa);
    });
  }
});

test('EDNS: OPT echoed with payload 1232, DO copied, BADVERS for version 1', () => {
  const reply = answer(set, buildQuery('example.test', TYPE.SOA, { edns: { payload: 4096, dnssecOk: true } }), udp)!;
  const opt = parse(reply).additionals[0] as unknown as { type: number; class: number; doFlag: boolean; version: number };
  assert.equal(opt.type, 41);
  assert.equal(opt.class, 1232);
  assert.equal(opt.doFlag, true);
  const bad = answer(set, buildQuery('example.test', TYPE.SOA, { edns: { version: 1 } }), udp)!;
  const m = parse(bad);
  assert.equal(m.header.rcode, 16);
  assert.equal(m.answers.length, 0);
  assert.equal((m.additionals[0] as unknown as { version: number }).version, 0);
});

test('TC over UDP when the answer does not fit; the full answer over TCP', async (t) => {
  const big = h('bob');
  const cases = [
    { name: 'no EDNS: 512 octets', edns: undefined, transport: udp, tc: true },
    { name: 'EDNS 4096 is capped at 1232', edns: { payload: 4096 }, transport: udp, tc: true },
    { name: 'TCP carries 3000 octets', edns: { payload: 4096 }, transport: tcp, tc: false },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const reply = answer(set, buildQuery(big, TYPE.OPENPGPKEY, { edns: c.edns }), c.transport)!;
      assert.equal(flagsOf(reply).tc, c.tc);
      const m = parse(reply);
      assert.equal(m.answers.length, c.tc ? 0 : 1);
      if (c.tc) assert.ok(reply.length <= (c.edns ? 1232 : 512));
    });
  }
  // A 420-octet key fits in 512 octets without EDNS? It does not with its name; with EDNS it does.
  const small = answer(set, buildQuery(h('alice'), TYPE.OPENPGPKEY, { edns: { payload: 1232 } }), udp)!;
  assert.equal(flagsOf(small).tc, false);
  const tiny = answer(set, buildQuery(h('alice'), TYPE.OPENPGPKEY, { edns: { payload: 100 } }), udp)!;
  assert.equal(flagsOf(tiny).tc, true, 'payloads below 512 count as 512');
});

test('ANY is answered with one RRset (RFC 8482)', () => {
  const m = parse(answer(set, buildQuery('example.test', TYPE.ANY), udp)!);
  assert.equal(new Set(m.answers.map((a) => a.type)).size, 1);
});

test('RD and the ID are copied; RA is never set', () => {
  const reply = answer(set, buildQuery('example.test', TYPE.SOA, { id: 0xbeef, rd: true }), udp)!;
  assert.equal((reply[0] << 8) | reply[1], 0xbeef);
  assert.equal(flagsOf(reply).rd, true);
  assert.equal(reply[3] & 0x80, 0);
});

test('incremental changes answer exactly like a full rebuild, through every layer merge and fold', () => {
  const full0 = buildZoneSnapshot(ZONE, [alice, bob], defaults);
  const carol: AddressSource = { localPart: 'carol', fingerprint: 'C'.repeat(40), minimalKey: randomBytes(300), endpoint: null, powBits: null };
  let snap = applyChanges(full0, { ...ZONE, serial: 8 }, [{ localPart: 'carol', row: carol }, { localPart: 'bob', row: null }], defaults);
  const expected = buildZoneSnapshot({ ...ZONE, serial: 8 }, [alice, carol], defaults);
  const names = [h('alice'), h('bob'), h('carol'), `${wkdHash('bob')}._pka.example.test`, '_openpgpkey.example.test'];
  const same = (a: typeof snap, b: typeof snap) => {
    for (const name of names) {
      for (const type of [TYPE.OPENPGPKEY, TYPE.CERT, TYPE.SOA]) {
        const q = buildQuery(name, type, { edns: {} });
        assert.deepEqual(answer(withZone(emptySnapshotSet(), a), q, tcp), answer(withZone(emptySnapshotSet(), b), q, tcp), `${name}/${type}`);
      }
    }
    assert.equal(a.addressCount, b.addressCount);
  };
  same(snap, expected);
  // Enough churn, with small layer bounds, to merge `recent` into `older` and fold `older` into the base.
  const limits = { recent: 100, older: 3000 };
  const many: AddressSource[] = [];
  for (let i = 0; i < 2500; i++) many.push({ ...carol, localPart: `user${i}` });
  for (let i = 0; i < many.length; i += 50) {
    const batch = many.slice(i, i + 50);
    snap = applyChanges(snap, { ...ZONE, serial: 9 }, batch.map((row) => ({ localPart: row.localPart, row })), defaults, limits);
  }
  assert.ok(snap.base.size > 3000, 'older was folded into the base');
  assert.equal(snap.addressCount, 2502);
  for (let i = 0; i < many.length; i += 50) {
    const batch = many.slice(i, i + 50);
    snap = applyChanges(snap, { ...ZONE, serial: 10 }, batch.map((row) => ({ localPart: row.localPart, row: null })), defaults, limits);
  }
  assert.ok(snap.recent.size > 0 || snap.older.size > 0, 'some changes still sit in the layers');
  const rebuilt = buildZoneSnapshot({ ...ZONE, serial: 10 }, [alice, carol], defaults);
  same(snap, rebuilt);
  // Transfers and listings walk the layers too: the same names and types as the full build.
  const listing = (z: typeof snap) => [...zoneNodes(z)].map(([owner, sets]) => `${owner}/${sets.map((x) => x.type).join(',')}`).sort();
  assert.deepEqual(listing(snap), listing(rebuilt));
  // The last address withdrawn: the empty non-terminals go away (NXDOMAIN).
  const emptied = applyChanges(expected, { ...ZONE, serial: 11 }, ['alice', 'carol'].map((localPart) => ({ localPart, row: null })), defaults);
  const r = answer(withZone(emptySnapshotSet(), emptied), buildQuery('_openpgpkey.example.test', TYPE.A), udp)!;
  assert.equal(flagsOf(r).rcode, 3);
});

test('IXFR over UDP: a listed secondary gets the current SOA alone, others are refused', () => {
  const zone = buildZoneSnapshot({ ...ZONE, dns: { ...ZONE.dns, secondaries: [{ address: '192.0.2.7' }] } }, [alice], defaults);
  const withSecondary = withZone(emptySnapshotSet(), zone);
  const q = buildQuery('example.test', 251);
  const ok = parse(answer(withSecondary, q, { transport: 'udp', remote: '192.0.2.7' })!);
  assert.equal(ok.header.rcode, 0);
  assert.deepEqual(ok.answers.map((a) => a.type), [TYPE.SOA]);
  assert.equal(flagsOf(answer(withSecondary, q, { transport: 'udp', remote: '192.0.2.8' })!).rcode, 5);
  assert.equal(flagsOf(answer(withSecondary, q, { transport: 'udp', remote: '::ffff:192.0.2.7' })!).rcode, 0);
});

test('the longest served zone answers, with few zones and with many', async (t) => {
  for (const count of [2, 40]) {
    await t.test(`${count} zones`, () => {
      let many = withZone(emptySnapshotSet(), buildZoneSnapshot(ZONE, [alice], defaults));
      many = withZone(many, buildZoneSnapshot({ ...ZONE, name: 'sub.example.test', serial: 99 }, [bob], defaults));
      for (let i = 0; i < count - 2; i++) many = withZone(many, buildZoneSnapshot({ ...ZONE, name: `z${i}.test`, serial: i }, [], defaults));
      const serialOf = (name: string) => {
        const m = parse(answer(many, buildQuery(name, TYPE.SOA), udp)!);
        return (([...m.answers, ...m.authorities][0] ?? {}) as { serial?: number }).serial;
      };
      assert.equal(serialOf('sub.example.test'), 99);
      assert.equal(serialOf('deep.below.sub.example.test'), 99);
      assert.equal(serialOf('xsub.example.test'), 7, 'a suffix that is not a label boundary is not the zone');
      assert.equal(serialOf('example.test'), 7);
      assert.equal(flagsOf(answer(many, buildQuery('ample.test', TYPE.SOA), udp)!).rcode, 5);
      assert.equal(flagsOf(answer(many, buildQuery(`${openpgpkeyLabel('bob')}._openpgpkey.sub.example.test`, TYPE.OPENPGPKEY), tcp)!).rcode, 0);
    });
  }
});

test('a zone policy change re-encodes the address TXT and PKA records and shares the keys', () => {
  const before = buildZoneSnapshot(ZONE, [alice, bob], defaults);
  const changed: ZoneSource = { ...ZONE, serial: 8, powBits: 26, endpoint: 'smtp://bob.onion:25', apiUrl: 'https://directory.example.test/keys' };
  const rows = [alice, bob].map(({ localPart, fingerprint, endpoint, powBits }) => ({ localPart, fingerprint, endpoint, powBits }));
  const rewritten = rewriteAddressPolicy(before, changed, rows, defaults);
  const expected = buildZoneSnapshot(changed, [alice, bob], defaults);
  for (const local of ['alice', 'bob']) {
    // The PKA URL points into the zone's directory, so a new api= moves it too.
    for (const q of [buildQuery(`${openpgpkeyLabel(local)}._keypost.example.test`, TYPE.TXT), buildQuery(`${wkdHash(local)}._pka.example.test`, TYPE.CERT)]) {
      assert.deepEqual(answer(withZone(emptySnapshotSet(), rewritten), q, tcp), answer(withZone(emptySnapshotSet(), expected), q, tcp));
    }
  }
  // bob's own ep and pow now equal the zone's, so his TXT carries neither.
  const bobTxt = parse(answer(withZone(emptySnapshotSet(), rewritten), buildQuery(`${openpgpkeyLabel('bob')}._keypost.example.test`, TYPE.TXT), tcp)!);
  assert.deepEqual((bobTxt.answers[0] as unknown as { data: string[] }).data, [`v=kp1; fpr=${'B'.repeat(40)}`]);
  const keyOwner = (s: typeof before) => s.base.get([...s.base.keys()].find((k) => k.includes('_openpgpkey'))!)!;
  assert.equal(keyOwner(rewritten), keyOwner(before), 'OPENPGPKEY RRsets are the same objects');
});

test('a key too large for any DNS message is left out; the address TXT and CERT stay', () => {
  const huge: AddressSource = { localPart: 'huge', fingerprint: 'D'.repeat(40), minimalKey: randomBytes(70_000), endpoint: null, powBits: null };
  const zone = withZone(emptySnapshotSet(), buildZoneSnapshot(ZONE, [huge], defaults));
  const key = answer(zone, buildQuery(h('huge'), TYPE.OPENPGPKEY), tcp)!;
  assert.equal(flagsOf(key).rcode, 3, 'no record at that name at all');
  assert.equal(parse(key).answers.length, 0);
  const txt = parse(answer(zone, buildQuery(`${openpgpkeyLabel('huge')}._keypost.example.test`, TYPE.TXT), tcp)!);
  assert.equal(txt.answers.length, 1);
});

test('a NOTIMP answer to a query with OPT carries OPT too (RFC 6891 §7)', () => {
  const reply = answer(set, buildQuery('example.test', TYPE.SOA, { opcode: 2, edns: { payload: 4096 } }), udp)!;
  assert.equal(flagsOf(reply).rcode, 4);
  const m = parse(reply);
  assert.equal(m.questions[0].name, 'example.test');
  assert.equal((m.additionals[0] as unknown as { type: number; class: number }).type, 41);
  assert.equal((m.additionals[0] as unknown as { class: number }).class, 1232);
});

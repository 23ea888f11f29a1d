// answer() for a signed zone without sockets: queries without DO get exactly the bytes an unsigned
// zone gives; following NSEC next names never reveals a published label; signatures are cached
// and made again before a quarter of their validity is left; NSEC TTLs follow RFC 9077.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { answer } from '../../src/dns/answer.js';
import { buildZoneSnapshot, emptySnapshotSet, withZone, type SnapshotSet } from '../../src/dns/zone-snapshot.js';
import type { AddressSource, ZoneSource } from '../../src/dns/zone-records.js';
import { openpgpkeyLabel, wkdHash } from '../../src/protocol/address-hashes.js';
import { generateSigningKey } from '../../src/dns/dnssec/algorithms.js';
import { CSK_FLAGS, DNSSEC_TYPE, dnskeyRdata, keyTag } from '../../src/dns/dnssec/dnskey.js';
import { signingKeyContext } from '../../src/dns/dnssec/key-store.js';
import { zoneSignerFor } from '../../src/dns/dnssec/zone-signer.js';
import { SealedBox } from '../../src/secrets/sealed-box.js';
import { HEADER_LENGTH, encodeName, keyToName, readName, readU16, readU32, wireKey } from '../../src/protocol/dns-wire.js';
import { buildQuery } from './support/wire-client.js';

const box = new SealedBox(randomBytes(32));
const key = generateSigningKey(13);
const UNSIGNED: ZoneSource = {
  name: 'example.test',
  serial: 7,
  powBits: 22,
  endpoint: null,
  apiUrl: null,
  dns: { nameservers: [{ name: 'ns1.example.test', ipv4: ['192.0.2.53'] }], soa: { refresh: 1000, retry: 200, expire: 100000, minimum: 60, ttl: 600 } },
};
const SIGNED: ZoneSource = {
  ...UNSIGNED,
  signingKeys: [
    {
      algorithm: 13,
      flags: CSK_FLAGS,
      keyTag: keyTag(dnskeyRdata(CSK_FLAGS, 13, key.publicKey)),
      publicKey: key.publicKey,
      privateKeySealed: box.seal(key.privateKeyDer, signingKeyContext('example.test')),
      state: 'active',
    },
  ],
};
const addresses: AddressSource[] = ['alice', 'bob', 'carol'].map((localPart, i) => ({
  localPart,
  fingerprint: String(i + 1).repeat(40),
  minimalKey: randomBytes(300),
  endpoint: null,
  powBits: null,
}));
const defaults = { powBits: 20 };
const unsigned: SnapshotSet = withZone(emptySnapshotSet(), buildZoneSnapshot(UNSIGNED, addresses, defaults));
const signedSnapshot = () => ({ ...buildZoneSnapshot(SIGNED, addresses, defaults), signer: zoneSignerFor(SIGNED, box) });
const signed: SnapshotSet = withZone(emptySnapshotSet(), signedSnapshot());
const udp = { transport: 'udp' as const };
const T = { A: 1, NS: 2, SOA: 6, TXT: 16, CERT: 37, OPENPGPKEY: 61, ANY: 255 };

interface Rr {
  owner: string;
  type: number;
  ttl: number;
  rdata: Buffer;
}

/** Every record of a response, owners decompressed, in order. */
function records(msg: Uint8Array): { rcode: number; answer: Rr[]; authority: Rr[] } {
  let o = readName(msg, HEADER_LENGTH)!.next + 4;
  const read = (n: number) => {
    const out: Rr[] = [];
    for (let i = 0; i < n; i++) {
      const name = readName(msg, o)!;
      o = name.next;
      const length = readU16(msg, o + 8);
      out.push({ owner: keyToName(wireKey(name.wire, 0, name.wire.length)), type: readU16(msg, o), ttl: readU32(msg, o + 4), rdata: Buffer.from(msg.subarray(o + 10, o + 10 + length)) });
      o += 10 + length;
    }
    return out;
  };
  const answer = read(readU16(msg, 6));
  return { rcode: msg[3] & 15, answer, authority: read(readU16(msg, 8)) };
}

const ask = (set: SnapshotSet, name: string, type: number, dnssecOk: boolean, nowSeconds?: number) =>
  answer(set, buildQuery(name, type, { edns: { payload: 1232, dnssecOk } }), { ...udp, nowSeconds })!;

test('queries without DO get exactly the bytes of the same zone unsigned', () => {
  const names = [
    'example.test',
    `${openpgpkeyLabel('alice')}._openpgpkey.example.test`,
    `${openpgpkeyLabel('bob')}._keypost.example.test`,
    `${wkdHash('carol')}._pka.example.test`,
    '_keypost.example.test',
    '_openpgpkey.example.test',
    'ns1.example.test',
    'missing.example.test',
  ];
  for (const name of names) {
    for (const type of [T.A, T.NS, T.SOA, T.TXT, T.CERT, T.OPENPGPKEY, T.ANY]) {
      const plain = buildQuery(name, type, { id: 7 });
      assert.deepEqual(answer(signed, plain, udp), answer(unsigned, plain, udp), `${type} ${name} without EDNS`);
      const edns = buildQuery(name, type, { id: 7, edns: { payload: 1232, dnssecOk: false } });
      assert.deepEqual(answer(signed, edns, udp), answer(unsigned, edns, udp), `${type} ${name} with EDNS, no DO`);
    }
  }
});

/** A query with DO for a name given in wire form (dns2 cannot spell a \000 label). */
function wireQuery(nameWire: Buffer, type: number): Buffer {
  const header = Buffer.from([0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(1, 2);
  const opt = Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);
  return Buffer.concat([header, nameWire, tail, opt]);
}

test('following NSEC next names from any denial reveals no published label', () => {
  const published = new Set(addresses.flatMap((a) => [openpgpkeyLabel(a.localPart), wkdHash(a.localPart)]));
  const starts = ['example.test', 'a.example.test', '_openpgpkey.example.test', `${openpgpkeyLabel('alice')}._openpgpkey.example.test`];
  let steps = 0;
  for (const start of starts) {
    // What the walker already knows: the labels of the name it started from.
    const known = new Set(start.split('.'));
    let name = encodeName(start);
    for (let i = 0; i < 8; i++, steps++) {
      const { authority } = records(answer(signed, wireQuery(name, T.A), udp)!);
      const nsec = authority.find((r) => r.type === DNSSEC_TYPE.NSEC);
      assert.ok(nsec, `an NSEC denies A at ${keyToName(name.toString('latin1'))}`);
      const next = nsec.rdata.subarray(0, readName(nsec.rdata, 0)!.next);
      // The next name is the owner with one \000 label in front: no name can exist in between.
      assert.deepEqual(next, Buffer.concat([Buffer.from([1, 0]), name]));
      for (const label of keyToName(next.toString('latin1')).split('.')) {
        assert.ok(known.has(label) || label === '\\000' || label === '', `next name reveals ${label}`);
        assert.ok(!published.has(label) || known.has(label));
      }
      name = next;
    }
  }
  assert.equal(steps, 32);
});

test('NXDOMAIN becomes NOERROR with the SOA, one NSEC {RRSIG, NSEC, NXNAME} and both RRSIGs, TTL min(SOA TTL, minimum)', () => {
  const reply = ask(signed, 'missing.example.test', T.A, true);
  const { rcode, answer: an, authority } = records(reply);
  assert.equal(rcode, 0);
  assert.equal(an.length, 0);
  assert.deepEqual(authority.map((r) => [r.owner, r.type]), [
    ['example.test.', T.SOA],
    ['example.test.', DNSSEC_TYPE.RRSIG],
    ['missing.example.test.', DNSSEC_TYPE.NSEC],
    ['missing.example.test.', DNSSEC_TYPE.RRSIG],
  ]);
  // RFC 9077: min(SOA TTL 600, SOA minimum 60).
  assert.deepEqual(authority.map((r) => r.ttl), [60, 60, 60, 60]);
  const nsec = authority[2].rdata;
  const bitmap = nsec.subarray(readName(nsec, 0)!.next);
  // Window 0: RRSIG (46) and NSEC (47); NXNAME (128) is bit 0 of octet 16.
  const octets = new Array<number>(17).fill(0);
  octets[46 >> 3] |= 0x80 >> (46 & 7);
  octets[47 >> 3] |= 0x80 >> (47 & 7);
  octets[128 >> 3] |= 0x80;
  assert.deepEqual([...bitmap], [0, 17, ...octets]);
});

test('signatures are cached, and made again once less than a quarter of the validity is left', () => {
  const zone = withZone(emptySnapshotSet(), signedSnapshot());
  const name = `${openpgpkeyLabel('alice')}._keypost.example.test`;
  const now = 1_800_000_000;
  const rrsig = (at: number, qname = name, type = T.TXT) => {
    const { answer: an, authority } = records(ask(zone, qname, type, true, at));
    return [...an, ...authority].filter((r) => r.type === DNSSEC_TYPE.RRSIG).map((r) => r.rdata);
  };
  const first = rrsig(now);
  assert.equal(first.length, 1);
  assert.equal(first[0].readUInt32BE(12), now - 3600, 'inception an hour back');
  assert.equal(first[0].readUInt32BE(8), now + 14 * 86400, 'valid for 14 days');
  // ECDSA signatures are randomised: the same bytes again means the cached signature.
  assert.deepEqual(rrsig(now + 86400), first);
  const late = now + 14 * 86400 - 14 * 86400 / 4 + 1;
  const again = rrsig(late);
  assert.notDeepEqual(again, first);
  assert.equal(again[0].readUInt32BE(12), late - 3600);

  const denial = rrsig(now, 'gone.example.test', T.A);
  assert.equal(denial.length, 2, 'SOA and NSEC signatures');
  assert.deepEqual(rrsig(now + 60, 'gone.example.test', T.A), denial);
});

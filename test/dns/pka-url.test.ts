// Item 19 of issue 15: the PKA record (CERT IPGP, RFC 4398 §2.1) names where the key can be fetched,
// so that `gpg --auto-key-locate pka` with a keyring that lacks the key can import it (the gpg run
// itself is in gpg-locate.test.ts). The URL follows the zone's directory; without one there is none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { answer } from '../../src/dns/answer.js';
import { encodeZone, encodeZoneUpdate } from '../../src/dns/zone-encoding.js';
import { emptySnapshotSet, withZone, type ZoneSnapshot } from '../../src/dns/zone-snapshot.js';
import type { PublishedAddress, PublishedZone } from '../../src/published/entries.js';
import { openpgpkeyLabel, wkdHash } from '../../src/protocol/address-hashes.js';
import { buildQuery, parse } from './support/wire-client.js';

const CERT = 37;
const FPR = 'C'.repeat(40);

function served(apiUrl: string | null, serial = 1) {
  const zone: PublishedZone = { name: 'pka.test', serial, powBits: null, endpoint: null, nextHop: null, apiUrl, requirement: 'none', dns: { nameservers: [] }, signingKeys: [] };
  const alice: PublishedAddress = {
    address: 'alice@pka.test',
    localPart: 'alice',
    domain: 'pka.test',
    fingerprint: FPR,
    userId: '<alice@pka.test>',
    minimalKey: randomBytes(300),
    endpoint: null,
    powBits: null,
    nextHop: null,
    requirement: null,
    algorithm: 'eddsaLegacy',
    bits: null,
    createdAt: 0,
    expiresAt: null,
    revoked: false,
    openpgpkeyLabel: openpgpkeyLabel('alice'),
    wkdLabel: wkdHash('alice'),
  };
  return { zone, addresses: new Map([[alice.address, alice]]) };
}

/** The URL in alice's CERT IPGP record: the octets after type, key tag, algorithm and fingerprint. */
function pkaUrl(snapshot: ZoneSnapshot): string {
  const reply = answer(withZone(emptySnapshotSet(), snapshot), buildQuery(`${wkdHash('alice')}._pka.pka.test`, CERT), { transport: 'tcp' })!;
  const data = (parse(reply).answers[0] as unknown as { data: Buffer }).data;
  assert.equal(data.readUInt16BE(0), 6, 'IPGP');
  assert.equal(data.subarray(6, 6 + data[5]).toString('hex').toUpperCase(), FPR);
  return data.subarray(6 + data[5]).toString();
}

test("the PKA record points at the key by fingerprint at the zone's directory", () => {
  const { snapshot } = encodeZone(served('https://keys.pka.test'), { powBits: 20 });
  assert.equal(pkaUrl(snapshot), `https://keys.pka.test/vks/v1/by-fingerprint/${FPR}`);
});

test('the configured public URL stands in for a zone without its own directory; with neither, no URL', () => {
  const { snapshot } = encodeZone(served(null), { powBits: 20, apiUrl: 'http://127.0.0.1:8080/' });
  assert.equal(pkaUrl(snapshot), `http://127.0.0.1:8080/vks/v1/by-fingerprint/${FPR}`);
  assert.equal(pkaUrl(encodeZone(served(null), { powBits: 20 }).snapshot), '');
});

test("a change of the zone's directory moves the PKA URL on an incremental refresh", () => {
  const defaults = { powBits: 20 };
  const before = encodeZone(served('https://keys.pka.test'), defaults);
  const after = encodeZoneUpdate(before, { name: 'pka.test', served: served('https://elsewhere.test/dir', 2), previous: served('https://keys.pka.test').zone, changes: [] }, defaults)!;
  assert.equal(pkaUrl(after.snapshot), pkaUrl(encodeZone(served('https://elsewhere.test/dir', 2), defaults).snapshot));
  assert.equal(pkaUrl(after.snapshot), `https://elsewhere.test/dir/vks/v1/by-fingerprint/${FPR}`);
});

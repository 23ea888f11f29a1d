// TSIG (RFC 8945) round trips through answer(): signed queries get signed answers; a wrong key,
// a tampered message or a stale clock get the matching error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { answer } from '../../src/dns/answer.js';
import { parseTsig, signRequest, verifyResponse, TSIG_ERROR } from '../../src/dns/tsig.js';
import { buildZoneSnapshot, emptySnapshotSet, withZone } from '../../src/dns/zone-snapshot.js';
import { parseQuery } from '../../src/dns/query.js';
import { encodeName } from '../../src/protocol/dns-wire.js';
import { buildQuery, flagsOf } from './support/wire-client.js';

const secret = randomBytes(32);
const zone = buildZoneSnapshot(
  { name: 'example.test', serial: 1, powBits: null, endpoint: null, apiUrl: null, dns: { nameservers: [], tsigKeys: { 'xfr-key': secret.toString('base64') } } },
  [],
  { powBits: 20 },
);
const set = withZone(emptySnapshotSet(), zone);
const now = 1_800_000_000;
const keyWire = encodeName('xfr-key');

function tsigOf(msg: Uint8Array) {
  // parseQuery drops responses; clear QR on a copy to read the reply's records.
  const copy = Buffer.from(msg);
  copy[2] &= 0x7f;
  const parsed = parseQuery(copy);
  assert.equal(parsed.kind, 'query');
  return parsed.kind === 'query' ? parsed.query.tsig : null;
}

test('a signed SOA query gets a signed answer that verifies with the same key', () => {
  const { message, mac } = signRequest(buildQuery('example.test', 6), { keyWire, secret, nowSeconds: now });
  const reply = answer(set, message, { transport: 'udp', nowSeconds: now + 5 })!;
  assert.equal(flagsOf(reply).rcode, 0);
  const tsig = tsigOf(reply)!;
  assert.equal(tsig.error, 0);
  assert.ok(verifyResponse(reply, tsig, mac, secret, now + 5));
  assert.ok(!verifyResponse(reply, tsig, mac, randomBytes(32), now + 5), 'another secret does not verify');
});

test('TSIG failures: unknown key → BADKEY, tampered → BADSIG, stale → BADTIME; all NOTAUTH', async (t) => {
  const signed = (key: Buffer, name = keyWire, at = now) => signRequest(buildQuery('example.test', 6), { keyWire: name, secret: key, nowSeconds: at }).message;
  const tampered = signed(secret);
  tampered[12 + 1] ^= 0x20; // flip the case of one QNAME letter: the MAC covers it
  const cases = [
    { name: 'unknown key name', msg: signed(secret, encodeName('other-key')), error: TSIG_ERROR.BADKEY },
    { name: 'wrong secret', msg: signed(randomBytes(32)), error: TSIG_ERROR.BADSIG },
    { name: 'tampered message', msg: tampered, error: TSIG_ERROR.BADSIG },
    { name: 'signed 20 minutes ago', msg: signed(secret, keyWire, now - 1200), error: TSIG_ERROR.BADTIME },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const reply = answer(set, c.msg, { transport: 'udp', nowSeconds: now })!;
      assert.equal(flagsOf(reply).rcode, 9);
      const parsedReply = parseTsig(reply, findTsigStart(reply));
      assert.equal(parsedReply?.error, c.error);
      // BADTIME answers are signed (RFC 8945 §5.2.3); the others carry no MAC.
      assert.equal(parsedReply!.mac.length > 0, c.error === TSIG_ERROR.BADTIME);
    });
  }
});

/** The TSIG RR is the last record; for these header-only replies it follows the question. */
function findTsigStart(msg: Uint8Array): number {
  let o = 12;
  while (msg[o] !== 0) o += msg[o] + 1;
  return o + 5;
}

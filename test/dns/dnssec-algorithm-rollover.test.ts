// `keypost domain set --dnssec-algorithm 15` on a zone signed with algorithm 13 is an algorithm
// rollover (RFC 6781 §4.1.4, conservative order) that keeps every answer validating throughout:
// the new key signs everything before it enters the DNSKEY RRset, CDS moves to it once it is
// there and cached, and the old key leaves the DNSKEY RRset before its signatures go. Driven like
// test/dns/dnssec-rollover.test.ts: the owner's steps through the CLI, keypost's own at the
// earliest time `dns status` gives, delv from every trust anchor a resolver may hold at each step.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { requireTool } from '../support/tools.js';
import { ROLLOVER_TOOLS, RolloverZone } from './support/rollover.js';

const skip = requireTool(...ROLLOVER_TOOLS);
const ZONE = 'alg-roll.test';
const ZONE_TTL = 600;

let z: RolloverZone;
let oldKey: number;
let oldAnchor: string;
let newKey: number;
let newAnchor: string;

before(async () => {
  if (skip) return;
  ({ z, keyTag: oldKey, anchor: oldAnchor } = await RolloverZone.start(ZONE, ZONE_TTL));
});
after(async () => {
  await z?.close();
});

test('domain set --dnssec-algorithm 15 introduces an Ed25519 key that signs everything before it is published', { skip }, async () => {
  const set = await z.cli('domain', 'set', ZONE, '--dnssec-algorithm', '15');
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /keypost dns status/);
  const s = await z.status();
  const fresh = s.keys.find((k) => k.state === 'introduced');
  assert.ok(fresh, 'an introduced key');
  assert.equal(fresh.algorithm, 15);
  newKey = fresh.key_tag;
  assert.equal(s.next.step, 'publish');
  assert.equal(Date.parse(s.next.earliest!) - Date.parse(fresh.since), (z.timing().propagationDelaySeconds + ZONE_TTL) * 1000);
  const both = [oldKey, newKey];
  await z.check('introduced', { dnskeys: [oldKey], keySetSigners: both, dataSigners: both, cds: oldKey, anchors: [oldAnchor] });
  // Asking again changes nothing.
  assert.equal((await z.cli('domain', 'set', ZONE, '--dnssec-algorithm', '15')).code, 0);
  assert.equal((await z.status()).keys.length, 2);
});

test('published, then active with CDS on it; resolvers with either DS validate', { skip }, async () => {
  const both = [oldKey, newKey];
  await z.advanceAtEarliest('publish');
  await z.check('published', { dnskeys: both, keySetSigners: both, dataSigners: both, cds: oldKey, anchors: [oldAnchor] });
  await z.advanceAtEarliest('activate');
  const ds = await z.currentDs();
  assert.equal(ds.keyTag, newKey);
  assert.match(ds.ds, / IN DS \d+ 15 2 /);
  newAnchor = z.dsAnchor('new-ds', ds.ds);
  assert.equal((await z.status()).next.step, 'publish-ds');
  await z.check('active', { dnskeys: both, keySetSigners: both, dataSigners: both, cds: newKey, anchors: [oldAnchor, newAnchor] });
  const back = await z.cli('domain', 'set', ZONE, '--dnssec-algorithm', '13');
  assert.equal(back.code, 1);
  assert.match(back.stderr, /DNS_ROLLOVER_IN_PROGRESS/);
});

test('after --ds-published the old key leaves DNSKEY, then its signatures go', { skip }, async () => {
  const both = [oldKey, newKey];
  assert.equal((await z.cli('dns', 'rollover', ZONE, '--ds-published')).code, 0);
  await z.check('DS replaced', { dnskeys: both, keySetSigners: both, dataSigners: both, cds: newKey, anchors: [oldAnchor, newAnchor] });
  await z.advanceAtEarliest('withdraw');
  await z.check('withdrawn', { dnskeys: [newKey], keySetSigners: both, dataSigners: both, cds: newKey, anchors: [newAnchor] });
  await z.advanceAtEarliest('remove');
  const done = await z.status();
  assert.deepEqual(done.keys.map((k) => [k.key_tag, k.algorithm, k.state]), [[newKey, 15, 'active']]);
  await z.check('done', { dnskeys: [newKey], keySetSigners: [newKey], dataSigners: [newKey], cds: newKey, anchors: [newAnchor] });
});

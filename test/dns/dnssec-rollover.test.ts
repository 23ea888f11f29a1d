// A key rollover driven to completion keeps every answer validating throughout (issue 9, "Keys").
// The owner's steps go through the CLI (`keypost dns rollover`, `dns status`); the waits keypost
// takes on its own are taken with an explicit clock (advanceRollover at the earliest time `dns
// status` names), so the test does not sleep through TTLs. At each step delv validates OPENPGPKEY,
// TXT, CDS and a denial from the trust anchors a resolver may hold at that moment: the DS of the
// old key until the new DS replaces it at the parent, the new key's DS from then on. DNSKEY, CDS
// and RRSIG key tags are checked against the step, and so is the signed AXFR a secondary takes
// (test/dns/support/rollover.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { requireTool } from '../support/tools.js';
import { ROLLOVER_TOOLS, RolloverZone } from './support/rollover.js';

const skip = requireTool(...ROLLOVER_TOOLS);
const ZONE = 'roll.test';
/** Small enough to read, large enough to tell the waits apart: Dprp 1 h and TTLds 1 d by default. */
const ZONE_TTL = 300;

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

test('before a rollover: one active key, the parent holds its DS', { skip }, async () => {
  const s = await z.status();
  assert.deepEqual(s.keys.map((k) => [k.key_tag, k.role, k.state]), [[oldKey, 'CSK', 'active']]);
  assert.equal(s.next.step, 'none');
  await z.check('start', { dnskeys: [oldKey], keySetSigners: [oldKey], dataSigners: [oldKey], cds: oldKey, anchors: [oldAnchor] });
});

test('rollover publishes a new key that signs only the DNSKEY RRset; it takes over after Dprp + TTLkey', { skip }, async () => {
  const started = await z.cli('dns', 'rollover', ZONE);
  assert.equal(started.code, 0, started.stderr);
  assert.match(started.stdout, /published/);
  const s = await z.status();
  const fresh = s.keys.find((k) => k.state === 'published');
  assert.ok(fresh, 'a published key');
  newKey = fresh.key_tag;
  assert.notEqual(newKey, oldKey);
  assert.equal(s.next.step, 'activate');
  // RFC 7583 §3.2.1: Ipub = Dprp + TTLkey after the key was published.
  assert.equal(Date.parse(s.next.earliest!) - Date.parse(fresh.since), (z.timing().propagationDelaySeconds + ZONE_TTL) * 1000);
  await z.check('published', { dnskeys: [oldKey, newKey], keySetSigners: [oldKey, newKey], dataSigners: [oldKey], cds: oldKey, anchors: [oldAnchor] });

  // The parent must not be told yet, and a second rollover cannot start.
  const early = await z.cli('dns', 'rollover', ZONE, '--ds-published');
  assert.equal(early.code, 1);
  assert.match(early.stderr, /DNS_ROLLOVER_NOT_WAITING_FOR_DS/);
  const again = await z.cli('dns', 'rollover', ZONE);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /DNS_ROLLOVER_IN_PROGRESS/);
});

test('at the earliest time the new key becomes active and CDS names it; both DS anchors validate', { skip }, async () => {
  await z.advanceAtEarliest('activate');
  const ds = await z.currentDs();
  assert.equal(ds.keyTag, newKey, '`dns ds` now gives the new key');
  newAnchor = z.dsAnchor('new-ds', ds.ds);
  const s = await z.status();
  assert.deepEqual(
    s.keys.map((k) => [k.key_tag, k.state]).sort(),
    [
      [oldKey, 'retired'],
      [newKey, 'active'],
    ].sort(),
  );
  assert.equal(s.next.step, 'publish-ds');
  assert.deepEqual(s.next.ds, [ds.ds]);
  const text = await z.cli('dns', 'status', ZONE);
  assert.match(text.stdout, /put the DS below at the registrar/);
  assert.ok(text.stdout.includes(ds.ds), text.stdout);
  assert.ok(text.stdout.includes(`keypost dns rollover ${ZONE} --ds-published`), text.stdout);
  assert.match(text.stdout, new RegExp(`^${newKey}\\s+13 ECDSAP256SHA256\\s+CSK\\s+active\\s`, 'm'));
  assert.match(text.stdout, new RegExp(`^${oldKey}\\s+13 ECDSAP256SHA256\\s+CSK\\s+retired\\s`, 'm'));
  assert.match(text.stdout, new RegExp(`zone TTL ${ZONE_TTL} s`));
  // Resolvers still holding the old DS, and those that already have the new one, both validate.
  await z.check('new key active', { dnskeys: [oldKey, newKey], keySetSigners: [oldKey, newKey], dataSigners: [newKey], cds: newKey, anchors: [oldAnchor, newAnchor] });
});

test('after --ds-published the old key goes once the old DS and its signatures are out of every cache', { skip }, async () => {
  const confirmed = await z.cli('dns', 'rollover', ZONE, '--ds-published');
  assert.equal(confirmed.code, 0, confirmed.stderr);
  const s = await z.status();
  assert.equal(s.next.step, 'remove');
  const retired = s.keys.find((k) => k.state === 'retired')!;
  const { propagationDelaySeconds, parentDsTtlSeconds } = z.timing();
  // RFC 7583 §3.2.1 (Iret after the last data signature) and §3.3.1 (TTLds after the DS changed).
  const want = Math.max(
    Date.parse(retired.since) + (propagationDelaySeconds + ZONE_TTL) * 1000,
    Date.parse(retired.parent_ds_replaced_at!) + (propagationDelaySeconds + parentDsTtlSeconds) * 1000,
  );
  assert.equal(Date.parse(s.next.earliest!), want);
  await z.check('DS replaced', { dnskeys: [oldKey, newKey], keySetSigners: [oldKey, newKey], dataSigners: [newKey], cds: newKey, anchors: [oldAnchor, newAnchor] });

  await z.advanceAtEarliest('remove');
  const done = await z.status();
  assert.deepEqual(done.keys.map((k) => [k.key_tag, k.state]), [[newKey, 'active']]);
  assert.equal(done.next.step, 'none');
  await z.check('old key removed', { dnskeys: [newKey], keySetSigners: [newKey], dataSigners: [newKey], cds: newKey, anchors: [newAnchor] });
  // The old DS alone no longer leads anywhere: that is why the owner had to replace it first.
  assert.notEqual(await z.verdict(oldAnchor, z.alice(), 'OPENPGPKEY'), '; fully validated');
});

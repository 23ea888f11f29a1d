// What worker threads serve (zone-mirror.ts) is exactly what the loading thread serves: snapshots
// posted through a real MessageChannel, through layer merges, folds and a policy rewrite, list the
// same names with the same bytes, and answer the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { answer } from '../../src/dns/answer.js';
import { applyChanges, buildZoneSnapshot, emptySnapshotSet, rewriteAddressPolicy, withZone, zoneNameNodes, type ZoneSnapshot } from '../../src/dns/zone-snapshot.js';
import { MirroredZones, ZoneMirror, type ZoneMessage } from '../../src/dns/zone-mirror.js';
import { SharedNameIndex, buildSharedNameIndex } from '../../src/dns/shared-name-index.js';
import type { AddressSource, ZoneSource } from '../../src/dns/zone-records.js';
import { openpgpkeyLabel } from '../../src/protocol/address-hashes.js';
import { buildQuery } from './support/wire-client.js';

const ZONE: ZoneSource = { name: 'mirror.test', serial: 1, powBits: 22, endpoint: null, apiUrl: null, dns: { nameservers: [{ name: 'ns1.mirror.test', ipv4: ['192.0.2.53'] }] } };
const defaults = { powBits: 20 };
const address = (i: number): AddressSource => ({ localPart: `user${i}`, fingerprint: 'A'.repeat(40), minimalKey: randomBytes(200 + (i % 50)), endpoint: null, powBits: null });

const listing = (zone: ZoneSnapshot) => [...zoneNameNodes(zone)].map(([owner, node]) => `${Buffer.from(owner, 'latin1').toString('hex')}=${node.toString('hex')}`).sort();

test('a shared name index finds every name of its map and nothing else', () => {
  const zone = buildZoneSnapshot(ZONE, Array.from({ length: 500 }, (_, i) => address(i)), defaults);
  const index = new SharedNameIndex(buildSharedNameIndex(zone.base));
  assert.equal(index.size, zone.base.size);
  for (const [key, node] of zone.base) assert.ok(index.get(key)?.equals(node), key);
  assert.equal(index.get('\x07missing'), undefined);
  assert.deepEqual(new Map([...index].map(([k, v]) => [k, v.toString('hex')])), new Map([...zone.base].map(([k, v]) => [k, v.toString('hex')])));
});

test('a mirrored zone serves exactly the loading thread snapshot, change after change', () => {
  const { port1, port2 } = new MessageChannel();
  const mirror = new ZoneMirror();
  const worker = new MirroredZones();
  const deliver = (message: ZoneMessage) => {
    port1.postMessage(message);
    worker.apply(receiveMessageOnPort(port2)!.message as ZoneMessage);
  };
  const check = (zone: ZoneSnapshot, step: string) => {
    const served = worker.current().zones.get(zone.apexKey)!;
    assert.deepEqual(listing(served), listing(zone), step);
    for (const local of ['user1', 'user600', 'nobody']) {
      const q = buildQuery(`${openpgpkeyLabel(local)}._openpgpkey.${ZONE.name}`, 61, { edns: {} });
      assert.deepEqual(answer(worker.current(), q, { transport: 'tcp' }), answer(withZone(emptySnapshotSet(), zone), q, { transport: 'tcp' }), `${step} ${local}`);
    }
  };
  let zone = buildZoneSnapshot(ZONE, Array.from({ length: 300 }, (_, i) => address(i)), defaults);
  for (const message of mirror.everything(withZone(emptySnapshotSet(), zone))) deliver(message);
  check(zone, 'initial');
  const limits = { recent: 40, older: 400 };
  let serial = 2;
  for (let i = 300; i < 1000; i += 10) {
    const changes = Array.from({ length: 10 }, (_, k) => ({ localPart: `user${i + k}`, row: address(i + k) }));
    // Some withdrawals too, so layers carry removals.
    changes.push({ localPart: `user${i - 290}`, row: null as unknown as AddressSource });
    zone = applyChanges(zone, { ...ZONE, serial: serial++ }, changes, defaults, limits);
    deliver(mirror.update(zone));
    check(zone, `after user${i}`);
  }
  zone = rewriteAddressPolicy(zone, { ...ZONE, serial: serial++, powBits: 24 }, Array.from({ length: 1000 }, (_, i) => address(i)), defaults);
  deliver(mirror.update(zone));
  check(zone, 'after a policy rewrite');
  // Changes made while no worker was listening are caught up on from what was posted last.
  const missed = applyChanges(zone, { ...ZONE, serial: serial++ }, [{ localPart: 'late', row: address(5000) }], defaults, limits);
  for (const message of mirror.catchUp(withZone(emptySnapshotSet(), missed))) deliver(message);
  check(missed, 'after catching up');
  for (const message of mirror.catchUp(emptySnapshotSet())) deliver(message);
  assert.equal(worker.current().zones.size, 0);
  port1.close();
});

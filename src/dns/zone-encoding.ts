// Turns the read model's zone updates (src/published/) into the pre-encoded snapshots answer()
// serves. DNS reads nothing from the database itself: a full read of a zone is encoded whole, and
// an incremental one re-encodes only the names of the addresses that changed (zone-snapshot.ts
// layers), so a publish costs a few names however large the zone.
import type { ServedZone, ZoneUpdate } from '../published/model.js';
import { addressPolicyKey, applyChanges, buildZoneSnapshot, rewriteAddressPolicy, type ZoneSnapshot } from './zone-snapshot.js';
import { zonePolicy, type PolicyDefaults } from './zone-records.js';
import type { ZoneSigner } from './dnssec/zone-signer.js';

/**
 * The signer for a zone (dnssec/zone-signer.ts zoneSignerFor with this node's secret key), given
 * the one serving now; none for an unsigned zone or where nothing signs (`keypost dns records`).
 */
export type SignerSource = (zone: ServedZone['zone'], previous: ZoneSigner | undefined) => ZoneSigner | undefined;

const withSigner = (snapshot: ZoneSnapshot, signer: ZoneSigner | undefined): ZoneSnapshot => (signer ? { ...snapshot, signer } : snapshot);

export interface EncodedZone {
  snapshot: ZoneSnapshot;
  /** The part of the zone policy that per-address records depend on (addressPolicyKey). */
  addressPolicy: string;
}

/** Encodes every name of a served zone. */
export function encodeZone(served: ServedZone, defaults: PolicyDefaults, signers?: SignerSource, previous?: ZoneSigner): EncodedZone {
  return {
    snapshot: withSigner(buildZoneSnapshot(served.zone, served.addresses.values(), defaults), signers?.(served.zone, previous)),
    addressPolicy: addressPolicyKey(served.zone, defaults),
  };
}

/**
 * The encoding after `update`, given the one before it; null when the zone is no longer served.
 * A TTL change touches every record, so it re-encodes the whole zone; a price or endpoint change
 * of the zone re-encodes every per-address TXT (which leaves out what equals the zone policy).
 */
export function encodeZoneUpdate(prev: EncodedZone | undefined, update: ZoneUpdate, defaults: PolicyDefaults, signers?: SignerSource): EncodedZone | null {
  const served = update.served;
  if (!served) return null;
  const zone = served.zone;
  const previousSigner = prev?.snapshot.signer;
  if (!prev || update.changes === null || prev.snapshot.policy.ttl !== zonePolicy(zone, defaults).ttl) return encodeZone(served, defaults, signers, previousSigner);
  const changes = update.changes.map((change) => ({ localPart: change.localPart, row: change.entry }));
  let snapshot = applyChanges(prev.snapshot, zone, changes, defaults);
  const addressPolicy = addressPolicyKey(zone, defaults);
  if (addressPolicy !== prev.addressPolicy) snapshot = rewriteAddressPolicy(snapshot, zone, served.addresses.values(), defaults);
  return { snapshot: withSigner(snapshot, signers?.(zone, previousSigner)), addressPolicy };
}

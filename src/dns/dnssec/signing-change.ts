// `keypost domain add|set --dnssec on|off --dnssec-algorithm N`: brings a zone's keys in line with
// what the operator asked. Turning signing on or off changes the keys at once (there is no DS to
// keep working: the owner adds it after, or removes it before, as README says); another algorithm
// on a signed zone is an algorithm rollover (rollover.ts, RFC 6781 §4.1.4), so validation never
// breaks on the way.
import type { Tx } from '../../db/database.js';
import { bumpZoneSerial } from '../../db/change-feed.js';
import type { SealedBox } from '../../secrets/sealed-box.js';
import { DEFAULT_DNSSEC_ALGORITHM, type DnssecAlgorithm } from './algorithms.js';
import { replaceSigningKey, zoneSigningKeys } from './key-store.js';
import { startRollover } from './rollover.js';

export interface DnssecChange {
  enabled?: boolean;
  algorithm?: DnssecAlgorithm;
}

/**
 * Off removes the keys (the zone is then served unsigned); on makes a key on an unsigned zone; an
 * algorithm other than the active key's starts a rollover to it (DNS_ROLLOVER_IN_PROGRESS when one
 * is under way to anything else). Returns whether anything changed.
 */
export async function applyDnssecChange(tx: Tx, box: SealedBox, zone: string, change: DnssecChange, now: Date = new Date()): Promise<boolean> {
  const current = await zoneSigningKeys(tx, zone);
  if (change.enabled === false) {
    if (current.length === 0) return false;
    await tx.deleteFrom('dnssec_keys').where('domain', '=', zone).execute();
    await bumpZoneSerial(tx, zone);
    return true;
  }
  if (change.enabled === undefined && change.algorithm === undefined) return false;
  const active = current.find((k) => k.state === 'active');
  if (!active) {
    await replaceSigningKey(tx, box, zone, change.algorithm ?? DEFAULT_DNSSEC_ALGORITHM);
    await bumpZoneSerial(tx, zone);
    return true;
  }
  // Already signing with it, or already rolling to it: nothing more to do.
  if (change.algorithm === undefined || current.some((k) => k.algorithm === change.algorithm && k.state !== 'retired' && k.state !== 'withdrawn')) return false;
  await startRollover(tx, box, zone, now, change.algorithm);
  return true;
}

// A zone's DNSSEC signing key in the database: one combined signing key (CSK, RFC 6781 §3.1.2)
// per signed zone (two while it rolls, rollover.ts), its private half sealed under
// KEYPOST_SECRET_KEY_FILE. Turning signing on,
// off or to another algorithm changes what the zone publishes (its DNSKEY), so each change
// bumps the serial in the same transaction and every DNS node picks it up from the change feed.
import type { Db, DnssecKeyState, Tx } from '../../db/database.js';
import { bumpZoneSerial } from '../../db/change-feed.js';
import type { SealedBox } from '../../secrets/sealed-box.js';
import { DEFAULT_DNSSEC_ALGORITHM, generateSigningKey, type DnssecAlgorithm } from './algorithms.js';
import { CSK_FLAGS, dnskeyRdata, keyTag } from './dnskey.js';

/** What a signing key is sealed for: a row moved to another zone does not open there. */
export function signingKeyContext(zone: string): string {
  return `dnssec-key:${zone}`;
}

export interface StoredKeyInfo {
  algorithm: number;
  flags: number;
  keyTag: number;
  /** The DNSKEY public key field. */
  publicKey: Buffer;
  createdAt: Date;
  state: DnssecKeyState;
  /** When the key entered `state`; the rollover's waits count from here. */
  stateSince: Date;
  /** A retired key: when the owner said the parent's DS no longer names it. */
  parentDsReplacedAt: Date | null;
}

export async function zoneSigningKeys(db: Db | Tx, zone: string): Promise<StoredKeyInfo[]> {
  const rows = await db
    .selectFrom('dnssec_keys')
    .select(['algorithm', 'flags', 'key_tag', 'public_key', 'created_at', 'state', 'state_since', 'parent_ds_replaced_at'])
    .where('domain', '=', zone)
    .orderBy('id')
    .execute();
  return rows.map((r) => ({
    algorithm: r.algorithm,
    flags: r.flags,
    keyTag: r.key_tag,
    publicKey: r.public_key,
    createdAt: r.created_at,
    state: r.state,
    stateSince: r.state_since,
    parentDsReplacedAt: r.parent_ds_replaced_at,
  }));
}

/** Adds a new key of `algorithm` to the zone in `state` (entered at `since`, default now); returns its key tag. */
export async function addSigningKey(tx: Tx, box: SealedBox, zone: string, algorithm: DnssecAlgorithm, state: DnssecKeyState, since?: Date): Promise<number> {
  const key = generateSigningKey(algorithm);
  const tag = keyTag(dnskeyRdata(CSK_FLAGS, algorithm, key.publicKey));
  await tx
    .insertInto('dnssec_keys')
    .values({
      domain: zone,
      algorithm,
      flags: CSK_FLAGS,
      key_tag: tag,
      public_key: key.publicKey,
      private_key_sealed: box.seal(key.privateKeyDer, signingKeyContext(zone)),
      state,
      ...(since ? { state_since: since } : {}),
    })
    .execute();
  return tag;
}

/**
 * Makes the zone's signing key, replacing any it had (and ending a rollover under way). The
 * caller bumps the serial, unless the zone is being created in `tx` (its announcement already
 * covers the key).
 */
export async function replaceSigningKey(tx: Tx, box: SealedBox, zone: string, algorithm: DnssecAlgorithm): Promise<void> {
  await tx.deleteFrom('dnssec_keys').where('domain', '=', zone).execute();
  await addSigningKey(tx, box, zone, algorithm, 'active');
}

export interface DnssecChange {
  enabled?: boolean;
  algorithm?: DnssecAlgorithm;
}

/**
 * Brings the zone's key in line with `change`: off removes the key (the zone is then served
 * unsigned); on, or an algorithm, makes a key of that algorithm unless the zone already signs
 * with exactly that. A new algorithm replaces the key at once: an algorithm rollover (RFC 6781
 * §4.1.4) is not done, so the DS at the registrar must be replaced with it (README). Returns
 * whether anything changed.
 */
export async function applyDnssecChange(tx: Tx, box: SealedBox, zone: string, change: DnssecChange): Promise<boolean> {
  const current = await zoneSigningKeys(tx, zone);
  if (change.enabled === false) {
    if (current.length === 0) return false;
    await tx.deleteFrom('dnssec_keys').where('domain', '=', zone).execute();
    await bumpZoneSerial(tx, zone);
    return true;
  }
  if (change.enabled === undefined && change.algorithm === undefined) return false;
  const algorithm = change.algorithm ?? (current[0]?.algorithm as DnssecAlgorithm | undefined) ?? DEFAULT_DNSSEC_ALGORITHM;
  // A zone in a key rollover of the same algorithm keeps rolling.
  if (current.length && current.every((k) => k.algorithm === algorithm)) return false;
  await replaceSigningKey(tx, box, zone, algorithm);
  await bumpZoneSerial(tx, zone);
  return true;
}

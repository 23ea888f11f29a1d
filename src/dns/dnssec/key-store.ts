// A zone's DNSSEC signing key in the database: one combined signing key (CSK, RFC 6781 §3.1.2)
// per signed zone (two while it rolls, rollover.ts), its private half sealed under
// KEYPOST_SECRET_KEY_FILE. Whoever changes the keys bumps the zone's serial in the same
// transaction (signing-change.ts, rollover.ts), and every DNS node picks it up from the change feed.
import type { Db, DnssecKeyState, Tx } from '../../db/database.js';
import type { SealedBox } from '../../secrets/sealed-box.js';
import { generateSigningKey, type DnssecAlgorithm } from './algorithms.js';
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

// Lookups by fingerprint and key ID (VKS by-fingerprint/by-keyid, HKP 0x searches). These are not
// the hot path (senders look up by address), so they query the database directly. What leaves is
// the stored key cut to the user IDs of its currently published addresses: a key found by
// fingerprint must not reveal identities that were never verified or were withdrawn.
import { sql } from 'kysely';
import { readKey } from 'openpgp';
import type { Db } from '../db/database.js';
import { PARSE_CONFIG } from '../keys/key-signatures.js';
import { servedKeyWithUserIds } from '../keys/minimal-key.js';

export interface ServedKey {
  fingerprint: string;
  /** Binary key with only its published user IDs. */
  key: Uint8Array;
  algorithm: string;
  bits: number | null;
  createdAt: Date;
  expiresAt: Date | null;
  revoked: boolean;
  /** The published user IDs it carries. */
  userIds: string[];
}

/** How many keys one key-ID lookup returns: 64-bit IDs only collide on purpose. */
const MAX_KEYS_PER_KEY_ID = 8;

function selectKeys(db: Db) {
  return db
    .selectFrom('keys as k')
    .select([
      'k.fingerprint',
      'k.key_data',
      'k.algorithm',
      'k.bits',
      'k.created_at',
      'k.expires_at',
      'k.revoked',
      sql<string[]>`array(select a.user_id from addresses a where a.fingerprint = k.fingerprint and a.status = 'published' order by a.address)`.as(
        'user_ids',
      ),
    ]);
}

type KeyRow = Awaited<ReturnType<ReturnType<typeof selectKeys>['execute']>>[number];

function toServed(row: KeyRow): ServedKey {
  return {
    fingerprint: row.fingerprint,
    key: servedKeyWithUserIds(row.key_data, row.user_ids),
    algorithm: row.algorithm,
    bits: row.bits,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revoked: row.revoked,
    userIds: row.user_ids,
  };
}

/** Keys having `keyId` (16 uppercase hex) as primary or subkey ID; uses the GIN index on key_ids. */
export async function keysByKeyId(db: Db, keyId: string): Promise<ServedKey[]> {
  const rows = await selectKeys(db)
    .where(sql<boolean>`k.key_ids @> array[${keyId}]::text[]`)
    .orderBy('k.fingerprint')
    .limit(MAX_KEYS_PER_KEY_ID)
    .execute();
  return rows.map(toServed);
}

/**
 * The key with primary fingerprint `fingerprint`, or the key owning a subkey with that fingerprint
 * (VKS answers both). Subkey fingerprints are not stored, so the candidates found by the key ID a
 * fingerprint implies (RFC 9580 §5.5.4: low 64 bits for v4, high 64 bits for v6) are parsed.
 */
export async function keysByFingerprint(db: Db, fingerprint: string): Promise<ServedKey[]> {
  const primary = await selectKeys(db).where('k.fingerprint', '=', fingerprint).execute();
  if (primary.length) return primary.map(toServed);
  const keyId = fingerprint.length === 40 ? fingerprint.slice(24) : fingerprint.slice(0, 16);
  const candidates = await selectKeys(db)
    .where(sql<boolean>`k.key_ids @> array[${keyId}]::text[]`)
    .limit(MAX_KEYS_PER_KEY_ID)
    .execute();
  const owners: KeyRow[] = [];
  for (const row of candidates) {
    try {
      const key = await readKey({ binaryKey: row.key_data, config: PARSE_CONFIG });
      if (key.subkeys.some((s) => s.getFingerprint().toUpperCase() === fingerprint)) owners.push(row);
    } catch {
      // A stored key that no longer parses is not an answer; other candidates still are.
    }
  }
  return owners.map(toServed);
}

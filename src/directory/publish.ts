// Publishing and withdrawing addresses: the one place that writes `keys` and `addresses`.
// One key per address (a newly verified key replaces the old one), the served key of a fingerprint
// carries only its published user IDs, and every change bumps the zone serial in the caller's
// transaction so DNS and the lookup caches follow (DESIGN.md, change feed).
import { sql } from 'kysely';
import type { Tx } from '../db/database.js';
import { bumpZoneSerial } from '../db/change-feed.js';
import { KeypostError, registerHttpStatuses } from '../errors.js';
import { minimalKeyFor, servedKeyWithUserIds, type CheckedKey } from './key-policy.js';
import { parseAddress } from './names.js';
import { keyWithUserIds } from './published-key.js';

registerHttpStatuses({
  DIR_ADDRESS_NOT_SERVED: 422,
  DIR_KEY_REVOKED: 422,
  DIR_ADDRESS_NOT_PUBLISHED: 404,
});

export type PublishSource = 'owner' | 'self' | 'import';

export interface PublishInput {
  address: string;
  key: CheckedKey;
  source: PublishSource;
  /** Per-address overrides. undefined keeps the current value, null clears it. */
  endpoint?: string | null;
  nextHop?: string | null;
  powBits?: number | null;
}

export interface PublishResult {
  address: string;
  domain: string;
  fingerprint: string;
  /** The fingerprint this address was published with before, when a different key was replaced. */
  replaced: string | null;
}

/**
 * Zones touched in one transaction. Bulk writers pass one to publish many addresses and bump each
 * zone's serial once at the end (still inside the transaction); single changes bump immediately.
 */
export class ZoneBumps {
  private readonly zones = new Set<string>();
  add(zone: string): void {
    this.zones.add(zone);
  }
  async flush(tx: Tx): Promise<string[]> {
    const zones = [...this.zones].sort();
    this.zones.clear();
    for (const zone of zones) await bumpZoneSerial(tx, zone);
    return zones;
  }
}

async function touched(tx: Tx, zone: string, bumps: ZoneBumps | undefined): Promise<void> {
  if (bumps) bumps.add(zone);
  else await bumpZoneSerial(tx, zone);
}

async function publishedOf(tx: Tx, fingerprint: string): Promise<{ address: string; user_id: string }[]> {
  return tx
    .selectFrom('addresses')
    .select(['address', 'user_id'])
    .where('fingerprint', '=', fingerprint)
    .where('status', '=', 'published')
    .execute();
}

async function publishedAddressesOf(tx: Tx, fingerprint: string): Promise<string[]> {
  return (await publishedOf(tx, fingerprint)).map((r) => r.address);
}

/** Rewrites a key's served copy so it carries exactly its remaining published user IDs. */
async function narrowKeyData(tx: Tx, fingerprint: string): Promise<void> {
  const row = await tx.selectFrom('keys').select('key_data').where('fingerprint', '=', fingerprint).executeTakeFirst();
  if (!row) return;
  const userIds = (await publishedOf(tx, fingerprint)).map((r) => r.user_id);
  const data = servedKeyWithUserIds(new Uint8Array(row.key_data), userIds);
  await tx.updateTable('keys').set({ key_data: Buffer.from(data) }).where('fingerprint', '=', fingerprint).execute();
}

export async function publishAddress(tx: Tx, input: PublishInput, bumps?: ZoneBumps): Promise<PublishResult> {
  const { address, domain, localPart } = parseAddress(input.address);
  const { key } = input;
  const identity = key.addresses.find((a) => a.address.toLowerCase() === address);
  if (!identity) throw new KeypostError('DIR_KEY_ADDRESS_NOT_IN_KEY', `the key has no verified user ID for ${address}`);

  // Lock the zone row in share mode: a concurrent `domain remove` cannot slip between check and insert.
  const zone = await tx.selectFrom('domains').select('name').where('name', '=', domain).forShare().executeTakeFirst();
  if (!zone) throw new KeypostError('DIR_ADDRESS_NOT_SERVED', `${domain} is not a domain served here`);

  const existingKey = await tx.selectFrom('keys').select(['revoked', 'key_data']).where('fingerprint', '=', key.fingerprint).executeTakeFirst();
  if (existingKey?.revoked) throw new KeypostError('DIR_KEY_REVOKED', `key ${key.fingerprint} has been revoked and cannot be published again`);

  const previous = await tx
    .selectFrom('addresses')
    .select(['fingerprint', 'status'])
    .where('address', '=', address)
    .forUpdate()
    .executeTakeFirst();

  const minimal = await minimalKeyFor(key.stripped, identity.address);
  const others = (await publishedAddressesOf(tx, key.fingerprint)).filter((a) => a !== address);
  const keep = new Set([...others, address]);
  const inKey = new Set(key.addresses.map((a) => a.address.toLowerCase()));
  // Common cases skip re-parsing: the upload carries exactly the published set, or only this address.
  let keyData: Uint8Array;
  if (keep.size === inKey.size && [...keep].every((a) => inKey.has(a))) keyData = key.stripped;
  else if (keep.size === 1) keyData = minimal;
  else keyData = await keyWithUserIds(existingKey ? [key.stripped, existingKey.key_data] : [key.stripped], keep);

  const keyRow = {
    key_ids: key.keyIds,
    key_data: Buffer.from(keyData),
    algorithm: key.algorithm,
    bits: key.bits ?? null,
    created_at: key.createdAt,
    expires_at: key.expiresAt ?? null,
  };
  await tx
    .insertInto('keys')
    .values({ fingerprint: key.fingerprint, ...keyRow })
    .onConflict((oc) => oc.column('fingerprint').doUpdateSet({ ...keyRow, uploaded_at: sql`now()` }))
    .execute();

  const overrides: Record<string, unknown> = {};
  if (input.endpoint !== undefined) overrides.endpoint = input.endpoint;
  if (input.nextHop !== undefined) overrides.next_hop = input.nextHop;
  if (input.powBits !== undefined) overrides.pow_bits = input.powBits;
  await tx
    .insertInto('addresses')
    .values({
      address,
      domain,
      local_part: localPart,
      fingerprint: key.fingerprint,
      minimal_key: Buffer.from(minimal),
      user_id: identity.userId,
      status: 'published',
      source: input.source,
      endpoint: input.endpoint ?? null,
      next_hop: input.nextHop ?? null,
      pow_bits: input.powBits ?? null,
    })
    .onConflict((oc) =>
      oc.column('address').doUpdateSet({
        fingerprint: key.fingerprint,
        minimal_key: Buffer.from(minimal),
        user_id: identity.userId,
        status: 'published',
        source: input.source,
        ...overrides,
        published_at: sql`now()`,
        updated_at: sql`now()`,
      }),
    )
    .execute();

  const replaced = previous && previous.fingerprint !== key.fingerprint ? previous.fingerprint : null;
  // The replaced key no longer speaks for this address, so its served copy loses the user ID.
  if (replaced && previous?.status === 'published') await narrowKeyData(tx, replaced);
  await touched(tx, domain, bumps);
  return { address, domain, fingerprint: key.fingerprint, replaced };
}

/** Per-address overrides without a new key (owner API). */
export async function setAddressOverrides(
  tx: Tx,
  address: string,
  overrides: { endpoint?: string | null; nextHop?: string | null; powBits?: number | null },
): Promise<boolean> {
  const set: Record<string, unknown> = {};
  if (overrides.endpoint !== undefined) set.endpoint = overrides.endpoint;
  if (overrides.nextHop !== undefined) set.next_hop = overrides.nextHop;
  if (overrides.powBits !== undefined) set.pow_bits = overrides.powBits;
  const row = await tx
    .updateTable('addresses')
    .set({ ...set, updated_at: sql`now()` })
    .where('address', '=', address)
    .where('status', '=', 'published')
    .returning('domain')
    .executeTakeFirst();
  if (!row) return false;
  await bumpZoneSerial(tx, row.domain);
  return true;
}

/** Withdraws one address. Returns false when it was not published. */
export async function withdrawAddress(tx: Tx, address: string, bumps?: ZoneBumps): Promise<boolean> {
  const row = await tx
    .updateTable('addresses')
    .set({ status: 'withdrawn', updated_at: sql`now()` })
    .where('address', '=', address)
    .where('status', '=', 'published')
    .returning(['domain', 'fingerprint'])
    .executeTakeFirst();
  if (!row) return false;
  await narrowKeyData(tx, row.fingerprint);
  await touched(tx, row.domain, bumps);
  return true;
}

/**
 * Withdraws every address of a key. With `revocation` (a revoked copy that passed the key policy),
 * the key is marked revoked and its served copy becomes the revocation, so clients that fetch it
 * by fingerprint learn that it is revoked; it can never be published again.
 */
export async function withdrawKey(tx: Tx, fingerprint: string, options: { revocation?: CheckedKey } = {}): Promise<string[]> {
  const rows = await tx
    .updateTable('addresses')
    .set({ status: 'withdrawn', updated_at: sql`now()` })
    .where('fingerprint', '=', fingerprint)
    .where('status', '=', 'published')
    .returning(['address', 'domain'])
    .execute();
  const revocation = options.revocation;
  if (revocation) {
    const keyData = Buffer.from(servedKeyWithUserIds(revocation.stripped, []));
    const keyRow = {
      key_ids: revocation.keyIds,
      key_data: keyData,
      algorithm: revocation.algorithm,
      bits: revocation.bits ?? null,
      created_at: revocation.createdAt,
      expires_at: revocation.expiresAt ?? null,
      revoked: true,
    };
    await tx
      .insertInto('keys')
      .values({ fingerprint, ...keyRow })
      .onConflict((oc) => oc.column('fingerprint').doUpdateSet({ ...keyRow, uploaded_at: sql`now()` }))
      .execute();
  } else if (rows.length) {
    await narrowKeyData(tx, fingerprint);
  }
  for (const zone of new Set(rows.map((r) => r.domain))) await bumpZoneSerial(tx, zone);
  return rows.map((r) => r.address).sort();
}

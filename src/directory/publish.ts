// Publishing and withdrawing addresses: the one place that writes `keys` and `addresses`.
// One key per address (a newly verified key replaces the old one), the served key of a fingerprint
// carries only its published user IDs, and every change bumps the zone serial in the caller's
// transaction so DNS and the lookup caches follow (DESIGN.md, change feed).
import { sql } from 'kysely';
import type { Tx } from '../db/database.js';
import { bumpZoneSerial } from '../db/change-feed.js';
import { KeypostError } from '../errors.js';
import { minimalKeyFor, servedKeyWithUserIds, type CheckedKey } from './key-policy.js';
import { parseAddress } from '../protocol/address.js';
import { keyWithUserIds } from './published-key.js';

export type PublishSource = 'owner' | 'self' | 'import';

export interface PublishInput {
  address: string;
  key: CheckedKey;
  source: PublishSource;
  /** Per-address overrides. undefined keeps the current value, null clears it. */
  endpoint?: string | null;
  nextHop?: string | null;
  powBits?: number | null;
  /** The minimal key for this address, when the caller already cut it (bulk import). */
  minimal?: Uint8Array;
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

/**
 * Lock order: every writer changes its address and key rows first and bumps the zone serial last
 * (zones in name order), so the zone row is held only from the bump to the commit and a writer
 * never waits for anything while holding it. Taking the zone row first in share mode and bumping
 * later deadlocks two concurrent writers of one zone; taking it first exclusively serialises them
 * for the whole transaction.
 */
async function servedZones(tx: Tx, zones: string[]): Promise<Set<string>> {
  if (zones.length === 0) return new Set();
  const rows = await tx.selectFrom('domains').select('name').where('name', 'in', zones).execute();
  return new Set(rows.map((r) => r.name));
}

/** PostgreSQL foreign_key_violation: the zone was removed while this transaction ran. */
function isZoneGone(err: unknown): boolean {
  return (err as { code?: string }).code === '23503';
}

async function publishedOf(tx: Tx, fingerprint: string): Promise<{ address: string; user_id: string }[]> {
  return tx
    .selectFrom('addresses')
    .select(['address', 'user_id'])
    .where('fingerprint', '=', fingerprint)
    .where('status', '=', 'published')
    .execute();
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
  return (await publishMany(tx, [input], bumps))[0];
}

interface Planned {
  input: PublishInput;
  address: string;
  domain: string;
  localPart: string;
  userId: string;
  minimal: Uint8Array;
}

/** Which override columns a publication sets; rows are upserted in groups sharing this shape. */
function overrideColumns(input: PublishInput): Record<string, unknown> {
  const set: Record<string, unknown> = {};
  if (input.endpoint !== undefined) set.endpoint = input.endpoint;
  if (input.nextHop !== undefined) set.next_hop = input.nextHop;
  if (input.powBits !== undefined) set.pow_bits = input.powBits;
  return set;
}

/**
 * Publishes many addresses in `tx` with a handful of statements, whatever the count (bulk import),
 * with the same rules as one publication: every address's zone must be served, revoked keys stay
 * out, one key per address (the previous key loses the user ID), and each key's served copy
 * carries exactly its published user IDs. An address listed twice keeps the last entry.
 */
export async function publishMany(tx: Tx, inputs: PublishInput[], bumps?: ZoneBumps): Promise<PublishResult[]> {
  const byAddress = new Map<string, Omit<Planned, 'minimal'>>();
  for (const input of inputs) {
    const { address, domain, localPart } = parseAddress(input.address);
    const identity = input.key.addresses.find((a) => a.address === address);
    if (!identity) throw new KeypostError('DIR_KEY_ADDRESS_NOT_IN_KEY', `the key has no verified user ID for ${address}`);
    byAddress.delete(address);
    byAddress.set(address, { input, address, domain, localPart, userId: identity.userId });
  }
  if (byAddress.size === 0) return [];
  const entries = [...byAddress.values()];
  const addresses = entries.map((e) => e.address);
  const zones = [...new Set(entries.map((e) => e.domain))];
  const fingerprints = [...new Set(entries.map((e) => e.input.key.fingerprint))];

  const served = await servedZones(tx, zones);
  const unserved = zones.find((zone) => !served.has(zone));
  if (unserved) throw new KeypostError('DIR_ADDRESS_NOT_SERVED', `${unserved} is not a domain served here`);

  const existingKeys = new Map(
    (await tx.selectFrom('keys').select(['fingerprint', 'revoked', 'key_data']).where('fingerprint', 'in', fingerprints).execute()).map((r) => [
      r.fingerprint,
      r,
    ]),
  );
  const revoked = fingerprints.find((fpr) => existingKeys.get(fpr)?.revoked);
  if (revoked) throw new KeypostError('DIR_KEY_REVOKED', `key ${revoked} has been revoked and cannot be published again`);

  const previous = new Map(
    (
      await tx.selectFrom('addresses').select(['address', 'fingerprint', 'status']).where('address', 'in', addresses).orderBy('address').forUpdate().execute()
    ).map((r) => [r.address, r]),
  );
  const alreadyPublished = await tx
    .selectFrom('addresses')
    .select(['address', 'fingerprint'])
    .where('fingerprint', 'in', fingerprints)
    .where('status', '=', 'published')
    .execute();

  const planned: Planned[] = [];
  for (const entry of entries) {
    const identity = entry.input.key.addresses.find((a) => a.address === entry.address)!;
    const minimal = entry.input.minimal ?? (await minimalKeyFor(entry.input.key.stripped, identity.address));
    planned.push({ ...entry, minimal });
  }

  // Each key's published set after this change: what it had, minus addresses moving to another
  // key in this batch, plus this batch's addresses for it.
  const keep = new Map<string, Set<string>>(fingerprints.map((fpr) => [fpr, new Set<string>()]));
  for (const row of alreadyPublished) {
    const moving = byAddress.get(row.address);
    if (!moving || moving.input.key.fingerprint === row.fingerprint) keep.get(row.fingerprint)!.add(row.address);
  }
  for (const p of planned) keep.get(p.input.key.fingerprint)!.add(p.address);

  const keyRows = [];
  for (const fingerprint of fingerprints) {
    const mine = planned.filter((p) => p.input.key.fingerprint === fingerprint);
    const key = mine[mine.length - 1].input.key;
    const wanted = keep.get(fingerprint)!;
    const inKey = new Set(key.addresses.map((a) => a.address));
    // Common cases skip re-parsing: the upload carries exactly the published set, or one address.
    let keyData: Uint8Array;
    if (wanted.size === inKey.size && [...wanted].every((a) => inKey.has(a))) keyData = key.stripped;
    else if (wanted.size === 1 && mine.length === 1) keyData = mine[0].minimal;
    else {
      const copies = [...new Set(mine.map((p) => p.input.key.stripped).reverse())];
      const stored = existingKeys.get(fingerprint);
      keyData = await keyWithUserIds(stored ? [...copies, new Uint8Array(stored.key_data)] : copies, wanted);
    }
    keyRows.push({
      fingerprint,
      key_ids: key.keyIds,
      key_data: Buffer.from(keyData),
      algorithm: key.algorithm,
      bits: key.bits ?? null,
      created_at: key.createdAt,
      expires_at: key.expiresAt ?? null,
    });
  }
  await tx
    .insertInto('keys')
    .values(keyRows)
    .onConflict((oc) =>
      oc.column('fingerprint').doUpdateSet((eb) => ({
        key_ids: eb.ref('excluded.key_ids'),
        key_data: eb.ref('excluded.key_data'),
        algorithm: eb.ref('excluded.algorithm'),
        bits: eb.ref('excluded.bits'),
        created_at: eb.ref('excluded.created_at'),
        expires_at: eb.ref('excluded.expires_at'),
        uploaded_at: sql`now()`,
      })),
    )
    .execute();

  // Overrides: undefined keeps an existing row's value, so rows are grouped by which they set.
  const groups = new Map<string, Planned[]>();
  for (const p of planned) {
    const shape = Object.keys(overrideColumns(p.input)).join(',');
    groups.set(shape, [...(groups.get(shape) ?? []), p]);
  }
  for (const [shape, rows] of groups) {
    const columns = shape ? (shape.split(',') as ('endpoint' | 'next_hop' | 'pow_bits')[]) : [];
    const upsert = tx
      .insertInto('addresses')
      .values(
        rows.map((p) => ({
          address: p.address,
          domain: p.domain,
          local_part: p.localPart,
          fingerprint: p.input.key.fingerprint,
          minimal_key: Buffer.from(p.minimal),
          user_id: p.userId,
          status: 'published' as const,
          source: p.input.source,
          endpoint: p.input.endpoint ?? null,
          next_hop: p.input.nextHop ?? null,
          pow_bits: p.input.powBits ?? null,
        })),
      )
      .onConflict((oc) =>
        oc.column('address').doUpdateSet((eb) => ({
          fingerprint: eb.ref('excluded.fingerprint'),
          minimal_key: eb.ref('excluded.minimal_key'),
          user_id: eb.ref('excluded.user_id'),
          status: 'published' as const,
          source: eb.ref('excluded.source'),
          ...Object.fromEntries(columns.map((c) => [c, eb.ref(`excluded.${c}`)])),
          published_at: sql`now()`,
          updated_at: sql`now()`,
        })),
      );
    try {
      await upsert.execute();
    } catch (err) {
      if (isZoneGone(err)) throw new KeypostError('DIR_ADDRESS_NOT_SERVED', `${zones.join(', ')} stopped being served`);
      throw err;
    }
  }

  const results: PublishResult[] = [];
  const narrowed = new Set<string>();
  for (const p of planned) {
    const before = previous.get(p.address);
    const replaced = before && before.fingerprint !== p.input.key.fingerprint ? before.fingerprint : null;
    // The replaced key no longer speaks for this address, so its served copy loses the user ID.
    if (replaced && before?.status === 'published' && !keep.has(replaced) && !narrowed.has(replaced)) {
      narrowed.add(replaced);
      await narrowKeyData(tx, replaced);
    }
    results.push({ address: p.address, domain: p.domain, fingerprint: p.input.key.fingerprint, replaced });
  }
  for (const zone of [...zones].sort()) await touched(tx, zone, bumps);
  return results;
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
  for (const zone of [...new Set(rows.map((r) => r.domain))].sort()) await bumpZoneSerial(tx, zone);
  return rows.map((r) => r.address).sort();
}

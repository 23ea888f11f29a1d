// Publishing and withdrawing addresses: the one place that writes `keys` and `addresses`.
// One key per address (a newly verified key replaces the old one), the served key of a fingerprint
// carries only its published user IDs, and every change is logged in the zone's transparency log and
// bumps the zone serial in the caller's transaction (recordZoneChange), so DNS and the lookup caches
// follow (docs/architecture.md, "Freshness") and nothing is served that is not logged.
import { sql } from 'kysely';
import type { Tx } from '../db/database.js';
import { KeypostError } from '../errors.js';
import { hasCertificate, mergeCertificate, type Certificate } from '../keys/certificate-store.js';
import { servedForms, type PublishedAddress, type ServedForms } from '../keys/served-forms.js';
import { servedKeyWithUserIds, type CheckedKey } from '../keys/key-policy.js';
import { parseAddress } from '../protocol/address.js';
import { recordZoneChange } from '../transparency/record-changes.js';
import type { Requirement } from '../protocol/requirement.js';

export type PublishSource = 'owner' | 'self' | 'import';

export interface PublishInput {
  address: string;
  key: CheckedKey;
  source: PublishSource;
  /** Per-address overrides. undefined keeps the current value, null clears it. */
  endpoint?: string | null;
  nextHop?: string | null;
  powBits?: number | null;
  /** What protection mail for the address must carry; null = the zone's. */
  requirement?: Requirement | null;
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
    for (const zone of zones) await recordZoneChange(tx, zone);
    return zones;
  }
}

async function touched(tx: Tx, zone: string, bumps: ZoneBumps | undefined): Promise<void> {
  if (bumps) bumps.add(zone);
  else await recordZoneChange(tx, zone);
}

/**
 * Lock order: every writer changes its address and key rows first and records the zone change
 * last (zones in name order): the zone's log head, then the zone row for the serial bump
 * (src/transparency/record-changes.ts), so both are held only from there to the commit and a
 * writer never waits for anything but another zone's head while holding them. Taking the zone row first in share mode and bumping
 * later deadlocks two concurrent writers of one zone; taking it first exclusively serialises them
 * for the whole transaction.
 */
async function servedZones(tx: Tx, zones: string[]): Promise<Set<string>> {
  if (zones.length === 0) return new Set();
  const rows = await tx.selectFrom('domains').select('name').where('name', 'in', zones).execute();
  return new Set(rows.map((r) => r.name));
}

/**
 * A mailing list's address (src/lists/) carries the list's own key, which keypost made and whose
 * secret half only the list holds, and routes to the list: publishing another key for it,
 * re-routing it or withdrawing it would leave the list unable to read its posts. `keypost list`
 * and the list routes are the way to change a list; they withdraw the address after removing
 * the list row.
 */
async function refuseListAddresses(tx: Tx, addresses: string[], change: string): Promise<void> {
  if (addresses.length === 0) return;
  const list = await tx.selectFrom('lists').select('address').where('address', 'in', addresses).executeTakeFirst();
  if (list) throw new KeypostError('DIR_ADDRESS_IS_LIST', `${list.address} is a mailing list; ${change} with keypost list or /v1/domains/:domain/lists`);
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

export async function publishAddress(tx: Tx, input: PublishInput, bumps?: ZoneBumps, now = new Date()): Promise<PublishResult> {
  return (await publishMany(tx, [input], bumps, now))[0];
}

interface Planned {
  input: PublishInput;
  address: string;
  domain: string;
  localPart: string;
}

/** Which override columns a publication sets; rows are upserted in groups sharing this shape. */
function overrideColumns(input: PublishInput): Record<string, unknown> {
  const set: Record<string, unknown> = {};
  if (input.endpoint !== undefined) set.endpoint = input.endpoint;
  if (input.nextHop !== undefined) set.next_hop = input.nextHop;
  if (input.powBits !== undefined) set.pow_bits = input.powBits;
  if (input.requirement !== undefined) set.requirement = input.requirement;
  return set;
}

function keyRowOf(forms: ServedForms) {
  const { record } = forms;
  return {
    fingerprint: record.fingerprint,
    key_ids: record.keyIds,
    key_data: Buffer.from(forms.byFingerprint),
    algorithm: record.algorithm,
    bits: record.bits,
    created_at: record.createdAt,
    expires_at: record.expiresAt,
  };
}

const differs = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b)) !== 0;

/**
 * Merges each upload into the stored certificate of its key (locking it, in fingerprint order)
 * and refuses revoked keys. The lock is what serialises a publication with a revocation upload
 * of the same key (K5): whichever comes second sees what the first committed.
 */
async function mergeAll(tx: Tx, keys: CheckedKey[], now: Date): Promise<Map<string, Certificate>> {
  const merged = new Map<string, Certificate>();
  const byFingerprint = new Map<string, CheckedKey[]>();
  for (const key of keys) {
    const list = byFingerprint.get(key.fingerprint) ?? [];
    if (!list.includes(key)) list.push(key);
    byFingerprint.set(key.fingerprint, list);
  }
  for (const fingerprint of [...byFingerprint.keys()].sort()) {
    let certificate: Certificate | undefined;
    for (const key of byFingerprint.get(fingerprint)!) certificate = (await mergeCertificate(tx, { status: 'valid', key }, now)).certificate;
    const row = await tx.selectFrom('keys').select('revoked').where('fingerprint', '=', fingerprint).executeTakeFirst();
    if (certificate!.status === 'revoked' || row?.revoked) {
      throw new KeypostError('DIR_KEY_REVOKED', `key ${fingerprint} has been revoked and cannot be published again`);
    }
    merged.set(fingerprint, certificate!);
  }
  return merged;
}

/**
 * Brings the served forms of a key's other published addresses (not being written by the caller)
 * in line with `forms`: new minimal keys where the certificate changed them, withdrawal where it
 * no longer carries the address. Returns the zones touched.
 */
async function alignOtherAddresses(tx: Tx, forms: ServedForms, others: string[]): Promise<string[]> {
  if (others.length === 0) return [];
  const zones = new Set<string>();
  const rows = await tx
    .selectFrom('addresses')
    .select(['address', 'domain', 'minimal_key', 'user_id'])
    .where('address', 'in', others)
    .where('fingerprint', '=', forms.record.fingerprint)
    .where('status', '=', 'published')
    .execute();
  for (const row of rows) {
    const form = forms.perAddress.get(row.address);
    if (!form) {
      await tx.updateTable('addresses').set({ status: 'withdrawn', updated_at: sql`now()` }).where('address', '=', row.address).execute();
      zones.add(row.domain);
    } else if (differs(form.minimal, row.minimal_key) || form.userId !== row.user_id) {
      await tx
        .updateTable('addresses')
        .set({ minimal_key: Buffer.from(form.minimal), user_id: form.userId, updated_at: sql`now()` })
        .where('address', '=', row.address)
        .execute();
      zones.add(row.domain);
    }
  }
  return [...zones];
}

/**
 * Publishes many addresses in `tx` with a handful of statements, whatever the count (bulk import),
 * with the same rules as one publication: every address's zone must be served, revoked keys stay
 * out, one key per address (the previous key loses the user ID). Each upload is merged into its
 * key's stored certificate first, and every served form of the key (by fingerprint, and the
 * minimal key of each of its published addresses) is derived from the merged certificate by
 * src/keys/served-forms.ts. An address listed twice keeps the last entry.
 */
export async function publishMany(tx: Tx, inputs: PublishInput[], bumps?: ZoneBumps, now = new Date()): Promise<PublishResult[]> {
  const byAddress = new Map<string, Planned>();
  for (const input of inputs) {
    const { address, domain, localPart } = parseAddress(input.address);
    if (!input.key.addresses.some((a) => a.address === address)) {
      throw new KeypostError('DIR_KEY_ADDRESS_NOT_IN_KEY', `the key has no verified user ID for ${address}`);
    }
    byAddress.delete(address);
    byAddress.set(address, { input, address, domain, localPart });
  }
  if (byAddress.size === 0) return [];
  const planned = [...byAddress.values()];
  const addresses = planned.map((e) => e.address);
  const zones = [...new Set(planned.map((e) => e.domain))];
  const fingerprints = [...new Set(planned.map((e) => e.input.key.fingerprint))];

  await refuseListAddresses(tx, addresses, 'its key is the list\'s own: change the list');
  const served = await servedZones(tx, zones);
  const unserved = zones.find((zone) => !served.has(zone));
  if (unserved) throw new KeypostError('DIR_ADDRESS_NOT_SERVED', `${unserved} is not a domain served here`);

  const merged = await mergeAll(tx, planned.map((p) => p.input.key), now);

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

  // Each key's published set after this change: what it had, minus addresses moving to another
  // key in this batch, plus this batch's addresses for it.
  const keep = new Map<string, Map<string, PublishedAddress>>(fingerprints.map((fpr) => [fpr, new Map()]));
  for (const row of alreadyPublished) {
    const moving = byAddress.get(row.address);
    if (!moving || moving.input.key.fingerprint === row.fingerprint) keep.get(row.fingerprint)!.set(row.address, { address: row.address });
  }
  for (const p of planned) {
    // A minimal key the caller cut is reused only when the merge left the upload as it was.
    const sameCertificate = merged.get(p.input.key.fingerprint)!.key === p.input.key;
    keep.get(p.input.key.fingerprint)!.set(p.address, { address: p.address, minimal: sameCertificate ? p.input.minimal : undefined });
  }

  const forms = new Map<string, ServedForms>();
  const otherZones: string[] = [];
  for (const fingerprint of fingerprints) {
    const derived = await servedForms(merged.get(fingerprint)!, [...keep.get(fingerprint)!.values()], now);
    const lost = planned.find((p) => p.input.key.fingerprint === fingerprint && !derived.perAddress.has(p.address));
    if (lost) throw new KeypostError('DIR_KEY_ADDRESS_NOT_IN_KEY', `the stored key no longer has a valid user ID for ${lost.address}`);
    forms.set(fingerprint, derived);
  }

  await tx
    .insertInto('keys')
    .values(fingerprints.map((fpr) => keyRowOf(forms.get(fpr)!)))
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
    const columns = shape ? (shape.split(',') as ('endpoint' | 'next_hop' | 'pow_bits' | 'requirement')[]) : [];
    const upsert = tx
      .insertInto('addresses')
      .values(
        rows.map((p) => {
          const form = forms.get(p.input.key.fingerprint)!.perAddress.get(p.address)!;
          return {
            address: p.address,
            domain: p.domain,
            local_part: p.localPart,
            fingerprint: p.input.key.fingerprint,
            minimal_key: Buffer.from(form.minimal),
            user_id: form.userId,
            status: 'published' as const,
            source: p.input.source,
            endpoint: p.input.endpoint ?? null,
            next_hop: p.input.nextHop ?? null,
            pow_bits: p.input.powBits ?? null,
            requirement: p.input.requirement ?? null,
          };
        }),
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

  // The key's other published addresses follow the merged certificate too.
  for (const fingerprint of fingerprints) {
    const others = [...keep.get(fingerprint)!.keys()].filter((a) => !byAddress.has(a));
    otherZones.push(...(await alignOtherAddresses(tx, forms.get(fingerprint)!, others)));
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
  for (const zone of [...new Set([...zones, ...otherZones])].sort()) await touched(tx, zone, bumps);
  return results;
}

/**
 * A new copy of a key the directory already knows (VKS upload, HKP add of a published key):
 * merged into the stored certificate without mail, since it can only add material, and every
 * served form of the key re-derived. Returns the addresses whose served form changed or that the
 * merged certificate withdrew. Nothing happens for keys the store has never seen.
 */
export async function refreshKey(tx: Tx, key: CheckedKey, now = new Date()): Promise<{ changed: boolean; withdrawn: string[] }> {
  if (!(await hasCertificate(tx, key.fingerprint))) return { changed: false, withdrawn: [] };
  const outcome = await mergeCertificate(tx, { status: 'valid', key }, now);
  if (!outcome.changed) return { changed: false, withdrawn: [] };
  const published = await publishedOf(tx, key.fingerprint);
  const forms = await servedForms(outcome.certificate, published.map((r) => ({ address: r.address })), now);
  const row = keyRowOf(forms);
  await tx
    .updateTable('keys')
    .set({ ...row, revoked: forms.record.revoked, uploaded_at: sql`now()` })
    .where('fingerprint', '=', key.fingerprint)
    .execute();
  const zones = await alignOtherAddresses(tx, forms, published.map((r) => r.address));
  for (const zone of zones.sort()) await recordZoneChange(tx, zone);
  return { changed: true, withdrawn: forms.withdrawn };
}

/** Per-address overrides without a new key (owner API). */
export async function setAddressOverrides(
  tx: Tx,
  address: string,
  overrides: { endpoint?: string | null; nextHop?: string | null; powBits?: number | null; requirement?: Requirement | null },
): Promise<boolean> {
  // Its price and endpoint are the owner's to set; its next hop is the list.
  if (overrides.nextHop !== undefined) await refuseListAddresses(tx, [address], 'its next hop is the list: change the list');
  const set: Record<string, unknown> = {};
  if (overrides.endpoint !== undefined) set.endpoint = overrides.endpoint;
  if (overrides.nextHop !== undefined) set.next_hop = overrides.nextHop;
  if (overrides.powBits !== undefined) set.pow_bits = overrides.powBits;
  if (overrides.requirement !== undefined) set.requirement = overrides.requirement;
  const row = await tx
    .updateTable('addresses')
    .set({ ...set, updated_at: sql`now()` })
    .where('address', '=', address)
    .where('status', '=', 'published')
    .returning('domain')
    .executeTakeFirst();
  if (!row) return false;
  await recordZoneChange(tx, row.domain);
  return true;
}

/** Withdraws one address. Returns false when it was not published. */
export async function withdrawAddress(tx: Tx, address: string, bumps?: ZoneBumps): Promise<boolean> {
  await refuseListAddresses(tx, [address], 'remove the list');
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
 * the revocation is merged into the stored certificate first (taking its row lock before any
 * address is read, so a concurrent publication of the key waits and then sees it: K5), the key is
 * marked revoked and its served copy becomes the revoked certificate without user IDs, so clients
 * that fetch it by fingerprint learn that it is revoked; it can never be published again.
 */
export async function withdrawKey(tx: Tx, fingerprint: string, options: { revocation?: CheckedKey; now?: Date } = {}): Promise<string[]> {
  const now = options.now ?? new Date();
  const revocation = options.revocation;
  const merged = revocation ? (await mergeCertificate(tx, { status: 'revoked', key: revocation }, now)).certificate : undefined;
  const rows = await tx
    .updateTable('addresses')
    .set({ status: 'withdrawn', updated_at: sql`now()` })
    .where('fingerprint', '=', fingerprint)
    .where('status', '=', 'published')
    .returning(['address', 'domain'])
    .execute();
  if (merged) {
    const forms = await servedForms({ ...merged, status: 'revoked' }, [], now);
    const { fingerprint: _fpr, ...keyRow } = keyRowOf(forms);
    await tx
      .insertInto('keys')
      .values({ fingerprint, ...keyRow, revoked: true })
      .onConflict((oc) => oc.column('fingerprint').doUpdateSet({ ...keyRow, revoked: true, uploaded_at: sql`now()` }))
      .execute();
  } else if (rows.length) {
    await narrowKeyData(tx, fingerprint);
  }
  for (const zone of [...new Set(rows.map((r) => r.domain))].sort()) await recordZoneChange(tx, zone);
  return rows.map((r) => r.address).sort();
}

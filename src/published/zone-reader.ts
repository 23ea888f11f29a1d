// Reads one zone's published state from the database, in full or as the changes since the
// PostgreSQL snapshot a previous read saw. The change log is the `dns_address_changes` table,
// written by triggers in the same transaction as every change to a published address or to the
// key behind it (see their migrations), so a publish costs a few rows however large the zone.
// Each read runs in one REPEATABLE READ transaction: the zone row, the change list and the address
// rows are one consistent view, and its pg_snapshot is where the next read starts.
import { sql } from 'kysely';
import type { Db, DnssecKeyState, Tx } from '../db/database.js';
import type { SignedTreeHead } from '../transparency/sth.js';
import { toPublishedAddress, toPublishedZone, type AddressRow, type PublishedAddress, type PublishedZone } from './entries.js';

/** Change-log rows older than this are pruned; a zone not read for half of it is read in full. */
export const CHANGE_RETENTION_SECONDS = 3600;
const PAGE = 5000;

export interface AddressChange {
  address: string;
  localPart: string;
  /** The entry now served, or null when the address is no longer published in this zone. */
  entry: PublishedAddress | null;
}

interface ReadBase {
  zone: PublishedZone;
  /** pg_snapshot text of the reading transaction: the next incremental read starts here. */
  dbSnapshot: string;
}

export type ZoneRead =
  | (ReadBase & { kind: 'full'; addresses: Map<string, PublishedAddress> })
  | (ReadBase & { kind: 'changes'; changes: AddressChange[] });

async function readZoneRow(tx: Tx, name: string): Promise<PublishedZone | undefined> {
  // The zone's signing keys are part of what it publishes (DNSKEY): read in the same statement,
  // so a refresh costs no extra round trip for them.
  const row = await tx
    .selectFrom('domains as d')
    .select(['d.name', 'd.serial', 'd.pow_bits', 'd.endpoint', 'd.next_hop', 'd.api_url', 'd.requirement', 'd.dns'])
    .select(
      sql<SigningKeyJson[]>`(select coalesce(json_agg(json_build_object(
          'algorithm', k.algorithm, 'flags', k.flags, 'key_tag', k.key_tag,
          'public_key', encode(k.public_key, 'base64'), 'private_key_sealed', encode(k.private_key_sealed, 'base64'), 'state', k.state)
        order by k.id), '[]'::json) from dnssec_keys k where k.domain = d.name)`.as('signing_keys'),
    )
    // A zone whose log is off serves no head (what was logged before stays in the table).
    .leftJoin('log_heads as h', (join) => join.onRef('h.zone', '=', 'd.name').on('d.transparency', '=', true))
    .select(['h.sth_size', 'h.sth_root', 'h.sth_time', 'h.sth_signature', 'h.public_key as log_key'])
    .where('d.name', '=', name)
    .executeTakeFirst();
  if (!row) return undefined;
  const keys = typeof row.signing_keys === 'string' ? (JSON.parse(row.signing_keys) as SigningKeyJson[]) : row.signing_keys;
  return toPublishedZone(
    { ...row, tree_head: treeHeadOf(row) },
    keys.map((k) => ({ ...k, public_key: Buffer.from(k.public_key, 'base64'), private_key_sealed: Buffer.from(k.private_key_sealed, 'base64') })),
  );
}

/** The zone log's latest signed head, read with the zone row (the `_keypost-log` TXT). */
function treeHeadOf(row: {
  name: string;
  sth_size: string | null;
  sth_root: Buffer | null;
  sth_time: string | null;
  sth_signature: Buffer | null;
  log_key: Buffer | null;
}): SignedTreeHead | null {
  if (row.sth_size === null || row.sth_time === null || !row.sth_root || !row.sth_signature || !row.log_key) return null;
  return { zone: row.name, size: Number(row.sth_size), time: Number(row.sth_time), root: row.sth_root, signature: row.sth_signature, publicKey: row.log_key };
}

/** A dnssec_keys row as json_build_object spells it (bytea as base64). */
interface SigningKeyJson {
  algorithm: number;
  flags: number;
  key_tag: number;
  public_key: string;
  private_key_sealed: string;
  state: DnssecKeyState;
}

function selectAddresses(tx: Tx) {
  return tx
    .selectFrom('addresses as a')
    .innerJoin('keys as k', 'k.fingerprint', 'a.fingerprint')
    .select([
      'a.address',
      'a.local_part',
      'a.domain',
      'a.fingerprint',
      'a.user_id',
      'a.minimal_key',
      'a.endpoint',
      'a.pow_bits',
      'a.next_hop',
      'a.requirement',
      'a.status',
      'k.algorithm',
      'k.bits',
      'k.created_at',
      'k.expires_at',
      'k.revoked',
    ]);
}

async function fullRead(tx: Tx, zone: string): Promise<Map<string, PublishedAddress>> {
  const addresses = new Map<string, PublishedAddress>();
  // Keyset pages keep the rows in flight (bytea as hex text) small next to the entries made of them.
  for (let after = ''; ; ) {
    const rows = (await selectAddresses(tx)
      .where('a.domain', '=', zone)
      .where('a.status', '=', 'published')
      .where('a.address', '>', after)
      .orderBy('a.address')
      .limit(PAGE)
      .execute()) as AddressRow[];
    for (const row of rows) addresses.set(row.address, toPublishedAddress(row));
    if (rows.length < PAGE) return addresses;
    after = rows[rows.length - 1].address;
  }
}

/** Addresses of `zone` changed by transactions the snapshot `since` could not see. */
async function changedAddresses(tx: Tx, zone: string, since: string): Promise<string[]> {
  const { rows } = await sql<{ address: string }>`
    select distinct address from dns_address_changes
    where domain = ${zone}
      and xid >= pg_snapshot_xmin(${since}::pg_snapshot)
      and not pg_visible_in_snapshot(xid, ${since}::pg_snapshot)`.execute(tx);
  return rows.map((r) => r.address);
}

function localPartOf(address: string): string {
  return address.slice(0, address.lastIndexOf('@'));
}

/**
 * Reads `zone`: every published address when `since` is undefined, else only what changed since
 * that pg_snapshot. Null when the zone is not served (removed, or never added).
 */
export async function readZone(db: Db, zone: string, since: string | undefined): Promise<ZoneRead | null> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (tx) => {
      const served = await readZoneRow(tx, zone);
      if (!served) return null;
      const { rows } = await sql<{ snap: string }>`select pg_current_snapshot()::text as snap`.execute(tx);
      const dbSnapshot = rows[0].snap;
      if (since === undefined) return { kind: 'full', zone: served, dbSnapshot, addresses: await fullRead(tx, zone) };
      const changed = await changedAddresses(tx, zone, since);
      const found = changed.length ? ((await selectAddresses(tx).where('a.address', 'in', changed).execute()) as AddressRow[]) : [];
      const byAddress = new Map(found.map((r) => [r.address, r]));
      const changes = changed.map((address): AddressChange => {
        const row = byAddress.get(address);
        const published = row !== undefined && row.status === 'published' && row.domain === zone;
        return { address, localPart: row?.local_part ?? localPartOf(address), entry: published ? toPublishedAddress(row) : null };
      });
      return { kind: 'changes', zone: served, dbSnapshot, changes };
    });
}

/** The names of every served zone with its serial. */
export async function servedZoneSerials(db: Db): Promise<Map<string, number>> {
  const rows = await db.selectFrom('domains').select(['name', 'serial']).execute();
  return new Map(rows.map((r) => [r.name, Number(BigInt(r.serial) % 4294967296n)]));
}

/** Deletes change-log rows no reader can still need (see CHANGE_RETENTION_SECONDS). */
export async function pruneChangeLog(db: Db): Promise<number> {
  const result = await sql`
    delete from dns_address_changes
    where changed_at < now() - make_interval(secs => ${CHANGE_RETENTION_SECONDS})`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

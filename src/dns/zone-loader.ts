// Reads zones from the database into snapshots. A full load reads every published address of the
// zone; a refresh reads only the addresses that changed since the PostgreSQL snapshot the previous
// load saw (the trigger log in dns_address_changes, see its migration), so a publish costs a few
// rows however large the zone. Each load runs in one REPEATABLE READ transaction, so the zone row,
// the change list and the address rows are one consistent view.
import { sql } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import {
  ZoneBuilder,
  addressPolicyKey,
  applyChanges,
  rewriteAddressPolicy,
  type AddressChange,
  type AddressPolicyRow,
  type ZoneSnapshot,
} from './zone-snapshot.js';
import { zonePolicy, type AddressSource, type PolicyDefaults, type ZoneSource } from './zone-records.js';

export interface LoadedZone {
  snapshot: ZoneSnapshot;
  /** pg_snapshot text of the transaction that produced `snapshot`. */
  dbSnapshot: string;
  /** The zone row as loaded, to tell whether anything in it changed. */
  sourceKey: string;
  /** The part of the zone policy that per-address records depend on. */
  addressPolicy: string;
  /** Wall-clock ms of the load; an old one forces a full load (the change log is pruned). */
  loadedAt: number;
}

/** Change-log rows older than this are pruned; a zone not refreshed for half of it is reloaded. */
export const CHANGE_RETENTION_SECONDS = 3600;
const FULL_RELOAD_AFTER_MS = (CHANGE_RETENTION_SECONDS / 2) * 1000;
const PAGE = 5000;

async function readZoneRow(tx: Tx, zone: string): Promise<ZoneSource | undefined> {
  const row = await tx
    .selectFrom('domains')
    .select(['name', 'serial', 'pow_bits', 'endpoint', 'api_url', 'dns'])
    .where('name', '=', zone)
    .executeTakeFirst();
  if (!row) return undefined;
  const dns = typeof row.dns === 'string' ? JSON.parse(row.dns) : row.dns;
  return {
    name: row.name,
    serial: Number(BigInt(row.serial) % 4294967296n),
    powBits: row.pow_bits,
    endpoint: row.endpoint,
    apiUrl: row.api_url,
    dns: { nameservers: [], ...dns },
  };
}

type AddressRow = {
  address: string;
  local_part: string;
  fingerprint: string;
  minimal_key: Buffer;
  endpoint: string | null;
  pow_bits: number | null;
  status: string;
  domain: string;
};

function toSource(row: AddressRow): AddressSource {
  return {
    localPart: row.local_part,
    fingerprint: row.fingerprint,
    minimalKey: row.minimal_key,
    endpoint: row.endpoint,
    powBits: row.pow_bits,
  };
}

async function currentSnapshot(tx: Tx): Promise<string> {
  const { rows } = await sql<{ snap: string }>`select pg_current_snapshot()::text as snap`.execute(tx);
  return rows[0].snap;
}

async function* publishedAddresses(tx: Tx, zone: string): AsyncGenerator<AddressSource[]> {
  let after = '';
  for (;;) {
    // Keyset pages keep the driver's buffers small for very large zones.
    const rows = (await tx
      .selectFrom('addresses')
      .select(['address', 'local_part', 'fingerprint', 'minimal_key', 'endpoint', 'pow_bits', 'status', 'domain'])
      .where('domain', '=', zone)
      .where('status', '=', 'published')
      .where('address', '>', after)
      .orderBy('address')
      .limit(PAGE)
      .execute()) as AddressRow[];
    if (rows.length === 0) return;
    yield rows.map(toSource);
    after = rows[rows.length - 1].address;
    if (rows.length < PAGE) return;
  }
}

async function fullLoad(tx: Tx, source: ZoneSource, dbSnapshot: string, defaults: PolicyDefaults): Promise<LoadedZone> {
  const builder = new ZoneBuilder(source, defaults);
  for await (const page of publishedAddresses(tx, source.name)) for (const a of page) builder.add(a);
  return {
    snapshot: builder.finish(),
    dbSnapshot,
    sourceKey: JSON.stringify(source),
    addressPolicy: addressPolicyKey(source, defaults),
    loadedAt: Date.now(),
  };
}

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
 * Loads `zone`, incrementally when `prev` allows. Returns null when the zone no longer exists.
 * The result's snapshot equals `prev.snapshot` when nothing changed.
 */
export async function loadZone(db: Db, zone: string, prev: LoadedZone | undefined, defaults: PolicyDefaults): Promise<LoadedZone | null> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (tx) => {
      const source = await readZoneRow(tx, zone);
      if (!source) return null;
      const dbSnapshot = await currentSnapshot(tx);
      const sourceKey = JSON.stringify(source);
      const addressPolicy = addressPolicyKey(source, defaults);
      const ttlChanged = prev !== undefined && prev.snapshot.policy.ttl !== zonePolicy(source, defaults).ttl;
      if (!prev || ttlChanged || Date.now() - prev.loadedAt > FULL_RELOAD_AFTER_MS) {
        return fullLoad(tx, source, dbSnapshot, defaults);
      }
      const changed = await changedAddresses(tx, zone, prev.dbSnapshot);
      if (changed.length === 0 && sourceKey === prev.sourceKey) {
        return { ...prev, dbSnapshot, loadedAt: Date.now() };
      }
      const rows = changed.length
        ? ((await tx
            .selectFrom('addresses')
            .select(['address', 'local_part', 'fingerprint', 'minimal_key', 'endpoint', 'pow_bits', 'status', 'domain'])
            .where('address', 'in', changed)
            .execute()) as AddressRow[])
        : [];
      const byAddress = new Map(rows.map((r) => [r.address, r]));
      const changes: AddressChange[] = changed.map((address) => {
        const row = byAddress.get(address);
        const published = row && row.status === 'published' && row.domain === zone;
        return { localPart: row?.local_part ?? localPartOf(address), row: published ? toSource(row) : null };
      });
      let snapshot = applyChanges(prev.snapshot, source, changes, defaults);
      if (addressPolicy !== prev.addressPolicy) snapshot = rewriteAddressPolicy(snapshot, source, await policyRows(tx, zone), defaults);
      return { snapshot, dbSnapshot, sourceKey, addressPolicy, loadedAt: Date.now() };
    });
}

/** What per-address TXT records need, without the keys (see rewriteAddressPolicy). */
async function policyRows(tx: Tx, zone: string): Promise<AddressPolicyRow[]> {
  const rows = await tx
    .selectFrom('addresses')
    .select(['local_part', 'fingerprint', 'endpoint', 'pow_bits'])
    .where('domain', '=', zone)
    .where('status', '=', 'published')
    .execute();
  return rows.map((r) => ({ localPart: r.local_part, fingerprint: r.fingerprint, endpoint: r.endpoint, powBits: r.pow_bits }));
}

export async function listZones(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('domains').select('name').orderBy('name').execute();
  return rows.map((r) => r.name);
}

/** Deletes change-log rows no node can still need (see CHANGE_RETENTION_SECONDS). */
export async function pruneChangeLog(db: Db): Promise<number> {
  const result = await sql`
    delete from dns_address_changes
    where changed_at < now() - make_interval(secs => ${CHANGE_RETENTION_SECONDS})`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

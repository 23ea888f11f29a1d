// The zones keypost serves and their owners' policy: stamp price, published endpoint, private next
// hop, API URL, DNS settings. Each zone has one owner token; only its SHA-256 hash is stored, so the
// token is shown once (at creation or rotation) and a database dump cannot be replayed against the API.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { sql } from 'kysely';
import type { Db, Tx, ZoneDnsSettings } from '../db/database.js';
import { bumpZoneSerial, notifyZoneChanged } from '../db/change-feed.js';
import { KeypostError } from '../errors.js';
import { checkDnsSettings } from './zone-settings.js';
import { logZoneAddresses } from '../transparency/record-changes.js';
import type { Requirement } from '../protocol/requirement.js';

export interface DomainPolicy {
  /** Stamp price in bits for addresses without their own; null = the server default. */
  powBits: number | null;
  /** Published `ep` URI (where senders deliver). */
  endpoint: string | null;
  /** Private relay target of the gateway. */
  nextHop: string | null;
  /** Published `api` URL of the directory for this zone. */
  apiUrl: string | null;
  /** What protection mail for the zone must carry (published as req=, enforced at DATA). */
  requirement: Requirement;
  /** Whether the zone keeps a key transparency log (src/transparency/record-changes.ts). */
  transparency: boolean;
}

export interface Domain extends DomainPolicy {
  name: string;
  serial: number;
  dns: ZoneDnsSettings;
  createdAt: Date;
  updatedAt: Date;
}

export interface DomainSummary extends Domain {
  publishedAddresses: number;
}

type DomainRow = {
  name: string;
  serial: string;
  pow_bits: number | null;
  endpoint: string | null;
  next_hop: string | null;
  api_url: string | null;
  requirement: Requirement | null;
  transparency: boolean;
  dns: ZoneDnsSettings;
  created_at: Date;
  updated_at: Date;
};

const COLUMNS = ['name', 'serial', 'pow_bits', 'endpoint', 'next_hop', 'api_url', 'requirement', 'transparency', 'dns', 'created_at', 'updated_at'] as const;

/** A zone stores no requirement as null, so that 'none' has one spelling in the table. */
const storedRequirement = (requirement: Requirement | undefined) => (requirement === undefined || requirement === 'none' ? null : requirement);

function toDomain(row: DomainRow): Domain {
  return {
    name: row.name,
    serial: Number(row.serial),
    powBits: row.pow_bits,
    endpoint: row.endpoint,
    nextHop: row.next_hop,
    apiUrl: row.api_url,
    requirement: row.requirement ?? 'none',
    transparency: row.transparency,
    dns: { ...row.dns, nameservers: row.dns.nameservers ?? [] },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** 32 random bytes, base64url: the bearer token of a zone's owner. */
export function newOwnerToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * RFC 1912 §2.2 date serial YYYYMMDDnn for a new zone: a secondary that still holds an older copy
 * of a removed and re-added zone sees a larger serial on any later day.
 */
export function initialSerial(now: Date): number {
  const ymd = now.getUTCFullYear() * 10_000 + (now.getUTCMonth() + 1) * 100 + now.getUTCDate();
  return ymd * 100;
}

export async function createDomain(
  tx: Tx,
  input: { name: string; policy?: Partial<DomainPolicy>; dns?: ZoneDnsSettings; now: Date },
): Promise<{ domain: Domain; ownerToken: string }> {
  const ownerToken = newOwnerToken();
  const dns = checkDnsSettings(input.dns ?? { nameservers: [] });
  const row = await tx
    .insertInto('domains')
    .values({
      name: input.name,
      serial: initialSerial(input.now),
      pow_bits: input.policy?.powBits ?? null,
      endpoint: input.policy?.endpoint ?? null,
      next_hop: input.policy?.nextHop ?? null,
      api_url: input.policy?.apiUrl ?? null,
      requirement: storedRequirement(input.policy?.requirement),
      transparency: input.policy?.transparency ?? true,
      owner_token_hash: hashToken(ownerToken),
      dns: JSON.stringify(dns),
    })
    .onConflict((oc) => oc.column('name').doNothing())
    .returning(COLUMNS)
    .executeTakeFirst();
  if (!row) throw new KeypostError('DIR_DOMAIN_EXISTS', `domain ${input.name} already exists`);
  await notifyZoneChanged(tx, input.name);
  return { domain: toDomain(row as DomainRow), ownerToken };
}

export async function getDomain(db: Db | Tx, name: string): Promise<Domain | undefined> {
  const row = await db.selectFrom('domains').select(COLUMNS).where('name', '=', name).executeTakeFirst();
  return row ? toDomain(row as DomainRow) : undefined;
}

export async function requireDomain(db: Db | Tx, name: string): Promise<Domain> {
  const domain = await getDomain(db, name);
  if (!domain) throw new KeypostError('DIR_DOMAIN_NOT_FOUND', `domain ${name} is not served here`);
  return domain;
}

export async function listDomains(db: Db): Promise<DomainSummary[]> {
  const rows = await db
    .selectFrom('domains as d')
    .select(COLUMNS.map((c) => `d.${c}` as const))
    .select((eb) =>
      eb
        .selectFrom('addresses as a')
        .whereRef('a.domain', '=', 'd.name')
        .where('a.status', '=', 'published')
        .select(sql<string>`count(*)`.as('n'))
        .as('published'),
    )
    .orderBy('d.name')
    .execute();
  return rows.map((row) => ({ ...toDomain(row as unknown as DomainRow), publishedAddresses: Number(row.published ?? 0) }));
}

export interface DomainChange extends Partial<DomainPolicy> {
  dns?: ZoneDnsSettings;
}

/**
 * Applies a policy change. What DNS publishes (pow, ep, api, req, NS/SOA and the rest of the zone's DNS
 * settings) bumps the serial in this transaction; a next-hop-only change is private to the gateway,
 * so it only notifies.
 */
export async function updateDomain(tx: Tx, name: string, change: DomainChange): Promise<Domain> {
  const current = await tx.selectFrom('domains').select(COLUMNS).where('name', '=', name).forUpdate().executeTakeFirst();
  if (!current) throw new KeypostError('DIR_DOMAIN_NOT_FOUND', `domain ${name} is not served here`);
  const before = toDomain(current as DomainRow);
  const set: Record<string, unknown> = {};
  if (change.powBits !== undefined) set.pow_bits = change.powBits;
  if (change.endpoint !== undefined) set.endpoint = change.endpoint;
  if (change.nextHop !== undefined) set.next_hop = change.nextHop;
  if (change.apiUrl !== undefined) set.api_url = change.apiUrl;
  if (change.requirement !== undefined) set.requirement = storedRequirement(change.requirement);
  if (change.dns !== undefined) set.dns = JSON.stringify(checkDnsSettings(change.dns));
  if (change.transparency !== undefined) set.transparency = change.transparency;
  if (Object.keys(set).length === 0) return before;
  await tx.updateTable('domains').set(set).set({ updated_at: sql`now()` }).where('name', '=', name).execute();
  if (change.transparency !== undefined && change.transparency !== before.transparency) {
    // Turned on: log what every address serves now, since changes made while it was off left no
    // leaf; turned off: DNS stops serving the head. Either way the serial moves.
    if (change.transparency) await logZoneAddresses(tx, name);
    await bumpZoneSerial(tx, name);
    return (await getDomain(tx, name))!;
  }
  const published =
    (change.powBits !== undefined && change.powBits !== before.powBits) ||
    (change.endpoint !== undefined && change.endpoint !== before.endpoint) ||
    (change.apiUrl !== undefined && change.apiUrl !== before.apiUrl) ||
    (change.requirement !== undefined && change.requirement !== before.requirement) ||
    (change.dns !== undefined && JSON.stringify(change.dns) !== JSON.stringify(before.dns));
  if (published) await bumpZoneSerial(tx, name);
  else await notifyZoneChanged(tx, name);
  return (await getDomain(tx, name))!;
}

/** Removes the zone and (by cascade) its addresses; pending tokens for it can no longer publish. */
export async function removeDomain(tx: Tx, name: string): Promise<{ addresses: number }> {
  const counted = await tx
    .selectFrom('addresses')
    .select(sql<string>`count(*)`.as('n'))
    .where('domain', '=', name)
    .where('status', '=', 'published')
    .executeTakeFirst();
  const removed = await tx.deleteFrom('domains').where('name', '=', name).executeTakeFirst();
  if (!removed.numDeletedRows) throw new KeypostError('DIR_DOMAIN_NOT_FOUND', `domain ${name} is not served here`);
  await notifyZoneChanged(tx, name);
  return { addresses: Number(counted?.n ?? 0) };
}

/** Replaces the owner token; the old one stops working when this transaction commits. */
export async function rotateOwnerToken(tx: Tx, name: string): Promise<string> {
  const ownerToken = newOwnerToken();
  const updated = await tx
    .updateTable('domains')
    .set({ owner_token_hash: hashToken(ownerToken), updated_at: sql`now()` })
    .where('name', '=', name)
    .executeTakeFirst();
  if (!updated.numUpdatedRows) throw new KeypostError('DIR_DOMAIN_NOT_FOUND', `domain ${name} is not served here`);
  return ownerToken;
}

/**
 * True only when `token` is the owner token of exactly this zone. Hashes are compared in constant
 * time; a token of another zone never matches because each zone holds its own hash.
 */
export async function ownerTokenMatches(db: Db, name: string, token: string): Promise<boolean> {
  const row = await db.selectFrom('domains').select('owner_token_hash').where('name', '=', name).executeTakeFirst();
  if (!row) return false;
  const stored = Buffer.from(row.owner_token_hash);
  const offered = hashToken(token);
  return stored.length === offered.length && timingSafeEqual(stored, offered);
}

/** The served zone of a canonical domain name, if any (exact match: addresses are local@zone). */
export async function isServedDomain(db: Db | Tx, name: string): Promise<boolean> {
  const row = await db.selectFrom('domains').select('name').where('name', '=', name).executeTakeFirst();
  return row !== undefined;
}

/** All served zone names, for filtering a key's user IDs before any per-address work. */
export async function servedDomainNames(db: Db | Tx): Promise<Set<string>> {
  const rows = await db.selectFrom('domains').select('name').execute();
  return new Set(rows.map((r) => r.name));
}

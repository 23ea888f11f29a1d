// What a domain owner may do, apart from how the request arrived: the owner API (owner-routes.ts,
// bearer token) and the web console (src/web/, session cookie) both call these, so both see the
// same zone listing and apply policy changes by the same rules.
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { KeypostError } from '../errors.js';
import { ownerTokenMatches, requireDomain, updateDomain, type Domain, type DomainChange } from './domains.js';
import { normalizeApiUrl, normalizeSmtpUri } from './names.js';
import { normalizeDomain } from '../protocol/address.js';
import { parseRequirement, type Requirement } from '../protocol/requirement.js';
import type { KeyCheckPool } from './key-check-pool.js';
import { minimalKeyFor } from '../keys/key-policy.js';
import { publishAddress, withdrawAddress, withdrawKey } from './publish.js';
import { accepted } from './self-service.js';

/** A zone policy change as typed: undefined leaves a field alone, null or '' clears it. */
export interface PolicyInput {
  endpoint?: string | null;
  next_hop?: string | null;
  pow?: number | null;
  api?: string | null;
  /** What protection mail must carry: none, encrypted, signed or encrypted,signed. */
  require?: string | null;
}

export interface ZoneAddress {
  address: string;
  fingerprint: string;
  status: string;
  source: string;
  endpoint: string | null;
  next_hop: string | null;
  pow: number | null;
  /** The address's own requirement; null = the zone's. */
  require: Requirement | null;
  published_at: string;
  updated_at: string;
}

export interface ZoneListing {
  domain: Domain;
  publishedAddresses: number;
  addresses: ZoneAddress[];
  /** The last address of this page when more may follow (pass as `after`), else null. */
  next: string | null;
}

/** The zone `token` is the owner token of, or undefined (also for a malformed zone name). */
export async function ownerZone(db: Db, zone: string, token: string): Promise<string | undefined> {
  let name: string;
  try {
    name = normalizeDomain(zone);
  } catch {
    return undefined;
  }
  return (await ownerTokenMatches(db, name, token)) ? name : undefined;
}

/** A requirement as typed; null and '' clear it (an address then follows its zone). */
function requirementFrom(text: string | null | undefined): Requirement | null | undefined {
  if (text === undefined) return undefined;
  if (text === null || text === '') return null;
  const requirement = parseRequirement(text);
  if (!requirement) throw new KeypostError('REQUEST_INVALID', `require must be none, encrypted, signed or encrypted,signed, not "${text}"`);
  return requirement;
}

/** Endpoint, next hop, price and requirement as stored: URIs normalised (names.ts), '' and null clear. */
export function overridesFrom(input: PolicyInput): { endpoint?: string | null; nextHop?: string | null; powBits?: number | null; requirement?: Requirement | null } {
  return {
    requirement: requirementFrom(input.require),
    endpoint: input.endpoint === undefined ? undefined : input.endpoint === null || input.endpoint === '' ? null : normalizeSmtpUri(input.endpoint, 'endpoint'),
    nextHop: input.next_hop === undefined ? undefined : input.next_hop === null || input.next_hop === '' ? null : normalizeSmtpUri(input.next_hop, 'next hop'),
    powBits: input.pow,
  };
}

/** The zone's addresses by address, `limit` at a time after `after`; `prefix` narrows to addresses starting with it. */
export async function listZone(db: Db, zone: string, page: { limit: number; after?: string; prefix?: string }): Promise<ZoneListing> {
  const domain = await requireDomain(db, zone);
  let query = db
    .selectFrom('addresses')
    .select(['address', 'fingerprint', 'status', 'source', 'endpoint', 'next_hop', 'pow_bits', 'requirement', 'published_at', 'updated_at'])
    .where('domain', '=', zone)
    .orderBy('address')
    .limit(page.limit);
  if (page.after) query = query.where('address', '>', page.after);
  if (page.prefix) query = query.where('address', 'like', `${page.prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  const rows = await query.execute();
  const total = await db
    .selectFrom('addresses')
    .select(sql<string>`count(*)`.as('n'))
    .where('domain', '=', zone)
    .where('status', '=', 'published')
    .executeTakeFirst();
  return {
    domain,
    publishedAddresses: Number(total?.n ?? 0),
    addresses: rows.map((r) => ({
      address: r.address,
      fingerprint: r.fingerprint,
      status: r.status,
      source: r.source,
      endpoint: r.endpoint,
      next_hop: r.next_hop,
      pow: r.pow_bits,
      require: r.requirement,
      published_at: new Date(r.published_at).toISOString(),
      updated_at: new Date(r.updated_at).toISOString(),
    })),
    next: rows.length === page.limit ? rows[rows.length - 1].address : null,
  };
}

/** Changes the zone policy (stamp price, endpoint, next hop, API URL, requirement). */
export async function setZonePolicy(db: Db, zone: string, input: PolicyInput): Promise<Domain> {
  const { endpoint, nextHop, powBits, requirement } = overridesFrom(input);
  // A zone that requires nothing stores no requirement: null and none are the same there.
  const change: DomainChange = { endpoint, nextHop, powBits, requirement: requirement === null ? 'none' : requirement };
  if (input.api !== undefined) change.apiUrl = input.api ? normalizeApiUrl(input.api) : null;
  return db.transaction().execute((tx) => updateDomain(tx, zone, change));
}

/** Withdraws a published address of the zone (`address` canonical and inside `zone`). */
export async function withdrawZoneAddress(db: Db, address: string): Promise<void> {
  const withdrawn = await db.transaction().execute((tx) => withdrawAddress(tx, address));
  if (!withdrawn) throw new KeypostError('DIR_ADDRESS_NOT_PUBLISHED', `${address} is not published`);
}

export type OwnerPublishResult =
  | { address: string; fingerprint: string; status: 'published'; replaced: string | null }
  | { address: string; fingerprint: string; status: 'revoked'; withdrawn: string[] };

/**
 * Publishes (or replaces) the key of `address` (canonical, inside the owner's zone) with no mail
 * verification: the owner vouches. A revocation withdraws the key everywhere, whoever brings it.
 */
export async function publishAsOwner(
  db: Db,
  deps: { keyChecks: KeyCheckPool; now: Date },
  address: string,
  keytext: string | Uint8Array,
  overrides: Omit<PolicyInput, 'api'> = {},
): Promise<OwnerPublishResult> {
  const stored = overridesFrom(overrides);
  const result = accepted(await deps.keyChecks.check(keytext, { now: deps.now, served: { addresses: [address] } }));
  if (result.status === 'revoked') {
    const withdrawn = await db.transaction().execute((tx) => withdrawKey(tx, result.key.fingerprint, { revocation: result.key }));
    return { address, fingerprint: result.key.fingerprint, status: 'revoked', withdrawn };
  }
  const key = result.key;
  // Cut the per-address key before the transaction: the zone stays locked for less time.
  const minimal = await minimalKeyFor(key.stripped, address);
  const published = await db.transaction().execute((tx) => publishAddress(tx, { address, key, minimal, source: 'owner', ...stored }));
  return { address, fingerprint: published.fingerprint, status: 'published', replaced: published.replaced ?? null };
}

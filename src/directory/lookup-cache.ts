// Published addresses in memory, one snapshot per zone, kept fresh by the change feed.
//
// Lookups by address (VKS by-email, HKP by address, WKD, /v1/records) are the directory's hot path:
// one SELECT per request caps a node at a fifth of what fastify serves (DESIGN.md). As in NSD, the
// work is done when a zone loads: one query reads the zone's published addresses, and every later
// lookup in that zone (found or not) is a Map read. A change notification for the zone drops its
// snapshot; the next lookup answers from a single-row query and loads a new snapshot behind it.
//
// Freshness: every change to published data bumps the zone serial and notifies in its transaction
// (src/db/change-feed.ts), and the feed's poll backs up a lost notification. A load that overlaps
// a notification is discarded (its generation moved), so a stale snapshot is never installed.
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { ChangeFeed } from '../db/change-feed.js';
import type { Db } from '../db/database.js';
import { openpgpkeyLabel, wkdHash } from '../protocol/address-hashes.js';
import { armor, dearmorKeyBlock } from '../protocol/armor.js';

export interface ServedDomain {
  name: string;
  /** Zone stamp price; null = the server default. */
  powBits: number | null;
  /** Zone `ep`. */
  endpoint: string | null;
}

/**
 * One published address as the read side serves it. Kept flat (numbers for times, the zone's own
 * string for the domain, interned algorithm names) because a zone holds one of these per address
 * and every object in it is work for each major GC.
 */
export interface PublishedAddress {
  address: string;
  domain: string;
  fingerprint: string;
  userId: string;
  /**
   * The RFC 7929-style minimal key (primary, this user ID, valid subkeys), armoured once when the
   * entry is made: VKS, HKP and /v1/records all answer armour, and re-encoding per request was a
   * measurable share of a lookup. Only the armour is kept (WKD decodes it: see minimalKeyBytes).
   */
  armoredKey: string;
  /** Per-address overrides (null = the zone's). */
  endpoint: string | null;
  powBits: number | null;
  /** The key's algorithm (openpgp.js name), size, creation and expiry (ms since the epoch). */
  algorithm: string;
  bits: number | null;
  createdAt: number;
  expiresAt: number | null;
  revoked: boolean;
  /** DNS labels of the local part (address-hashes.ts), computed when the entry is made. */
  openpgpkeyLabel: string;
  wkdLabel: string;
}

/** The binary minimal key of an entry (WKD, DNS), decoded from its armour. */
export function minimalKeyBytes(entry: PublishedAddress): Uint8Array {
  const decoded = dearmorKeyBlock(entry.armoredKey);
  if (!decoded.ok) throw new Error(`armour made by armor() does not read back: ${decoded.problem}`);
  return decoded.bytes;
}

interface ZoneSnapshot {
  /** The zone's generation when the load started. */
  generation: number;
  addresses: Map<string, PublishedAddress>;
  /** WKD hash → address, built on the first WKD lookup in the zone. */
  wkd?: Map<string, PublishedAddress>;
}

export interface LookupCacheOptions {
  log: Logger;
  metrics?: Registry;
  /** After a load was discarded by a concurrent change, wait this long before loading again. */
  reloadBackoffMs?: number;
}

type AddressRow = {
  address: string;
  local_part: string;
  domain: string;
  fingerprint: string;
  user_id: string;
  minimal_key: Buffer;
  endpoint: string | null;
  pow_bits: number | null;
  algorithm: string;
  bits: number | null;
  created_at: Date;
  expires_at: Date | null;
  revoked: boolean;
};

/** Rows per query when loading a zone snapshot. */
const LOAD_CHUNK = 5000;

/** Repeated strings (zone names, algorithm names) shared instead of one copy per row. */
const interned = new Map<string, string>();
function intern(text: string): string {
  let shared = interned.get(text);
  if (shared === undefined) interned.set(text, (shared = text));
  return shared;
}

function toPublished(row: AddressRow): PublishedAddress {
  return {
    address: row.address,
    domain: intern(row.domain),
    fingerprint: row.fingerprint,
    userId: row.user_id,
    armoredKey: armor(row.minimal_key),
    endpoint: row.endpoint,
    powBits: row.pow_bits,
    algorithm: intern(row.algorithm),
    bits: row.bits,
    createdAt: row.created_at.getTime(),
    expiresAt: row.expires_at ? row.expires_at.getTime() : null,
    revoked: row.revoked,
    openpgpkeyLabel: openpgpkeyLabel(row.local_part),
    wkdLabel: wkdHash(row.local_part),
  };
}

function lookupCounter(metrics: Registry | undefined): Counter<'source'> | undefined {
  if (!metrics) return undefined;
  const name = 'keypost_directory_address_lookups_total';
  return (
    (metrics.getSingleMetric(name) as Counter<'source'> | undefined) ??
    new Counter({ name, help: 'Address lookups by where they were answered from', labelNames: ['source'], registers: [metrics] })
  );
}

export class LookupCache {
  private domains = new Map<string, ServedDomain>();
  private domainsLoad: Promise<void> | undefined;
  private loadingDomains = false;
  /** Zones whose domain row must be re-read before it is trusted (changed since loaded). */
  private readonly staleDomains = new Set<string>();
  private readonly snapshots = new Map<string, ZoneSnapshot>();
  private readonly loads = new Map<string, Promise<ZoneSnapshot>>();
  private readonly generations = new Map<string, number>();
  private readonly discardedAt = new Map<string, number>();
  private readonly unsubscribe: () => void;
  private readonly fromCache: { inc(): void } | undefined;
  private readonly fromDatabase: { inc(): void } | undefined;
  private readonly backoffMs: number;

  constructor(
    private readonly db: Db,
    changeFeed: ChangeFeed,
    private readonly options: LookupCacheOptions,
  ) {
    this.unsubscribe = changeFeed.onZoneChange((zone) => this.invalidate(zone));
    const counter = lookupCounter(options.metrics);
    this.fromCache = counter?.labels('cache');
    this.fromDatabase = counter?.labels('database');
    this.backoffMs = options.reloadBackoffMs ?? 1000;
  }

  /** Forget what is known about `zone` (its domain row and its addresses). */
  invalidate(zone: string): void {
    this.generations.set(zone, this.generation(zone) + 1);
    this.snapshots.delete(zone);
    this.staleDomains.add(zone);
  }

  close(): void {
    this.unsubscribe();
    this.snapshots.clear();
  }

  private generation(zone: string): number {
    return this.generations.get(zone) ?? 0;
  }

  /** The served domain `name`, or undefined when keypost does not serve it. */
  async domain(name: string): Promise<ServedDomain | undefined> {
    this.domainsLoad ??= this.loadDomains();
    await this.domainsLoad;
    if (!this.staleDomains.has(name)) return this.domains.get(name);
    const generation = this.generation(name);
    const row = await this.db
      .selectFrom('domains')
      .select(['name', 'pow_bits', 'endpoint'])
      .where('name', '=', name)
      .executeTakeFirst();
    const domain = row ? { name: row.name, powBits: row.pow_bits, endpoint: row.endpoint } : undefined;
    if (this.generation(name) === generation) {
      this.staleDomains.delete(name);
      if (domain) this.domains.set(name, domain);
      else this.domains.delete(name);
    }
    return domain;
  }

  private async loadDomains(): Promise<void> {
    this.loadingDomains = true;
    try {
      const rows = await this.db.selectFrom('domains').select(['name', 'pow_bits', 'endpoint']).execute();
      // Changes seen while this ran are still in staleDomains and get re-read one by one.
      this.domains = new Map(rows.map((r) => [r.name, { name: r.name, powBits: r.pow_bits, endpoint: r.endpoint }]));
    } catch (err) {
      this.domainsLoad = undefined;
      throw err;
    } finally {
      this.loadingDomains = false;
    }
  }

  /**
   * Answers from memory when it can: the entry, null when the address is certainly not published,
   * or undefined when only the database knows (then call address()). Lets the hot routes skip the
   * promise machinery on the common path.
   */
  peek(address: string): PublishedAddress | null | undefined {
    if (!this.domainsLoad || this.loadingDomains) return undefined;
    const zone = address.slice(address.lastIndexOf('@') + 1);
    if (this.staleDomains.has(zone)) return undefined;
    if (!this.domains.has(zone)) return null;
    const snapshot = this.snapshots.get(zone);
    if (!snapshot) return undefined;
    this.fromCache?.inc();
    return snapshot.addresses.get(address) ?? null;
  }

  /** The served domain from memory, valid right after peek() answered for an address in it. */
  peekDomain(name: string): ServedDomain | undefined {
    return this.staleDomains.has(name) ? undefined : this.domains.get(name);
  }

  /** The published address `address` (canonical form), or undefined. */
  async address(address: string): Promise<PublishedAddress | undefined> {
    const known = this.peek(address);
    if (known !== undefined) return known ?? undefined;
    const zone = address.slice(address.lastIndexOf('@') + 1);
    if (!(await this.domain(zone))) return undefined;
    const snapshot = this.snapshots.get(zone);
    if (snapshot) {
      this.fromCache?.inc();
      return snapshot.addresses.get(address);
    }
    this.startLoad(zone);
    this.fromDatabase?.inc();
    const row = await this.selectAddresses().where('a.address', '=', address).executeTakeFirst();
    return row ? toPublished(row) : undefined;
  }

  /** The published address of `domain` whose WKD hash is `hash`. Waits for the zone to load. */
  async byWkdHash(domain: string, hash: string): Promise<PublishedAddress | undefined> {
    if (!(await this.domain(domain))) return undefined;
    const asked = this.generation(domain);
    let snapshot = this.snapshots.get(domain) ?? (await this.load(domain));
    // A load already running when this request came may predate a change the caller made.
    if (snapshot.generation < asked) snapshot = await this.load(domain);
    snapshot.wkd ??= new Map([...snapshot.addresses.values()].map((a) => [a.wkdLabel, a]));
    return snapshot.wkd.get(hash);
  }

  private selectAddresses() {
    return this.db
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
        'k.algorithm',
        'k.bits',
        'k.created_at',
        'k.expires_at',
        'k.revoked',
      ])
      .where('a.status', '=', 'published');
  }

  private startLoad(zone: string): void {
    if (this.loads.has(zone)) return;
    const discarded = this.discardedAt.get(zone);
    if (discarded !== undefined && Date.now() - discarded < this.backoffMs) return;
    this.load(zone).catch((err) => this.options.log.warn({ err, zone }, 'loading the zone lookup snapshot failed'));
  }

  /**
   * Reads the zone's published addresses. The snapshot is installed only if no change arrived
   * meanwhile; either way the caller gets what was read (as fresh as a direct query).
   */
  private load(zone: string): Promise<ZoneSnapshot> {
    const running = this.loads.get(zone);
    if (running) return running;
    const generation = this.generation(zone);
    const loading = (async () => {
      try {
        // Read in address order, a chunk at a time, so the rows in flight (bytea as hex text) stay
        // small next to the entries made from them. Chunks are separate reads, but any change
        // between them moves the generation and discards this snapshot.
        const addresses = new Map<string, PublishedAddress>();
        for (let after = ''; ; ) {
          const rows = await this.selectAddresses().where('a.domain', '=', zone).where('a.address', '>', after).orderBy('a.address').limit(LOAD_CHUNK).execute();
          for (const row of rows) addresses.set(row.address, toPublished(row));
          if (rows.length < LOAD_CHUNK) break;
          after = rows[rows.length - 1].address;
        }
        const snapshot: ZoneSnapshot = { generation, addresses };
        if (this.generation(zone) === generation) {
          this.snapshots.set(zone, snapshot);
          this.discardedAt.delete(zone);
          this.options.log.debug({ zone, addresses: addresses.size }, 'zone lookup snapshot loaded');
        } else {
          this.discardedAt.set(zone, Date.now());
        }
        return snapshot;
      } finally {
        this.loads.delete(zone);
      }
    })();
    this.loads.set(zone, loading);
    return loading;
  }
}

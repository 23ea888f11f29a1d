// Who the gateway takes mail for, at what stamp price, and where it goes next.
//
// - a published address of a served domain: price = address override, else the zone's pow_bits,
//   else the global default; next hop = address override, else the zone's, else the smarthost;
// - any other address of a served domain: unknown (550 at RCPT);
// - a configured relay domain: the global price, its own hop or the smarthost or MX;
// - anything else: relay denied.
// Lookups are cached briefly per address; a change of the zone (change feed) drops its entries.
import type { Db } from '../db/database.js';
import type { ChangeFeed } from '../db/change-feed.js';
import { GATEWAY_CODES } from './errors.js';
import { asciiLowercase } from '../protocol/ascii.js';
import { canonicalHop, domainOf, mxHop, type RelayDomain } from './next-hop.js';
import { deny, type Denial } from './verdicts.js';

export interface Route {
  /** The envelope address as the client wrote it; stamps are checked against it. */
  address: string;
  price: number;
  nextHop: string;
  /** True for addresses of a served zone, false for relay domains. */
  served: boolean;
}

export type RouteResult = { ok: true; route: Route } | { ok: false; denial: Denial };

interface DirectoryEntry {
  zone: { powBits: number | null; nextHop: string | null } | null;
  address: { published: boolean; powBits: number | null; nextHop: string | null } | null;
  expires: number;
}

export interface RecipientDirectoryOptions {
  db: Db;
  changeFeed?: ChangeFeed;
  defaultBits: number;
  relayDomains: Map<string, RelayDomain>;
  smarthost: string | undefined;
  cacheTtlMs?: number;
  now?: () => number;
}

export interface RecipientDirectory {
  resolve(address: string): Promise<RouteResult>;
  /** True when the domain is served by this keypost (so not a remote keypost domain). */
  serves(domain: string): Promise<boolean>;
  /** Where mail for an address this gateway does not serve goes: relay hop, smarthost or MX. */
  outboundHop(address: string): string;
  close(): void;
}

const MAX_CACHE_ENTRIES = 100_000;

export function createRecipientDirectory(options: RecipientDirectoryOptions): RecipientDirectory {
  const ttl = options.cacheTtlMs ?? 30_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, DirectoryEntry>();
  const canonical = new Map<string, string>();
  const smarthost = options.smarthost ? canonicalHop(options.smarthost) : undefined;
  const unsubscribe = options.changeFeed?.onZoneChange((zone) => {
    for (const key of cache.keys()) if (domainOf(key) === zone) cache.delete(key);
  });

  async function lookup(key: string): Promise<DirectoryEntry> {
    const hit = cache.get(key);
    if (hit && hit.expires > now()) return hit;
    const row = await options.db
      .selectFrom('domains as d')
      .leftJoin('addresses as a', (join) => join.onRef('a.domain', '=', 'd.name').on('a.address', '=', key))
      .select([
        'd.pow_bits as zone_bits',
        'd.next_hop as zone_hop',
        'a.status as status',
        'a.pow_bits as address_bits',
        'a.next_hop as address_hop',
      ])
      .where('d.name', '=', domainOf(key))
      .executeTakeFirst();
    const entry: DirectoryEntry = {
      zone: row ? { powBits: row.zone_bits, nextHop: row.zone_hop } : null,
      address:
        row && row.status
          ? { published: row.status === 'published', powBits: row.address_bits, nextHop: row.address_hop }
          : null,
      expires: now() + ttl,
    };
    if (cache.size >= MAX_CACHE_ENTRIES) cache.clear();
    cache.set(key, entry);
    return entry;
  }

  function outboundHop(address: string): string {
    const domain = domainOf(address);
    const relay = options.relayDomains.get(domain);
    return relay?.hop ?? smarthost ?? mxHop(domain);
  }

  return {
    async resolve(address) {
      // Stored addresses fold ASCII case only (src/protocol/address.ts).
      const key = asciiLowercase(address);
      const domain = domainOf(key);
      const entry = await lookup(key);
      if (entry.zone) {
        if (!entry.address?.published) return { ok: false, denial: deny(GATEWAY_CODES.recipientUnknown, { address }) };
        const hop = entry.address.nextHop ?? entry.zone.nextHop ?? smarthost;
        if (!hop) return { ok: false, denial: deny(GATEWAY_CODES.noNextHop, { address }) };
        let nextHop = canonical.get(hop);
        if (nextHop === undefined) {
          try {
            nextHop = canonicalHop(hop);
          } catch {
            return { ok: false, denial: deny(GATEWAY_CODES.configInvalid, { address }) };
          }
          if (canonical.size > 10_000) canonical.clear();
          canonical.set(hop, nextHop);
        }
        const price = entry.address.powBits ?? entry.zone.powBits ?? options.defaultBits;
        return { ok: true, route: { address, price, nextHop, served: true } };
      }
      if (options.relayDomains.has(domain)) {
        return { ok: true, route: { address, price: options.defaultBits, nextHop: outboundHop(key), served: false } };
      }
      return { ok: false, denial: deny(GATEWAY_CODES.relayDenied, { address }) };
    },
    async serves(domain) {
      const entry = await lookup(`postmaster@${domain.toLowerCase()}`);
      return entry.zone !== null;
    },
    outboundHop,
    close() {
      unsubscribe?.();
      cache.clear();
    },
  };
}

// Who the gateway takes mail for, at what stamp price, and where it goes next.
//
// - a published address of a served domain: price, requirement and next hop as the read model of
//   what is published says (address, else zone, else the default: src/protocol/precedence.ts); no hop at all
//   means the smarthost;
// - any other address of a served domain: unknown (550 at RCPT);
// - a configured relay domain: the global price, its own hop or the smarthost or MX;
// - anything else: relay denied.
// The gateway keeps no copy of the directory's data: the read model is refreshed from the change
// log, and a read of a zone that changed waits for that refresh.
import type { PublishedModel } from '../published/model.js';
import { GATEWAY_CODES } from './errors.js';
import { asciiLowercase } from '../protocol/ascii.js';
import { NO_REQUIREMENT, type Requirement } from '../protocol/requirement.js';
import { canonicalHop, domainOf, LIST_HOP, mxHop, type RelayDomain } from './next-hop.js';
import { deny, type Denial } from './verdicts.js';

export interface Route {
  /** The envelope address as the client wrote it; stamps are checked against it. */
  address: string;
  price: number;
  /** What protection the message must carry (address, else zone, else none). */
  requirement: Requirement;
  nextHop: string;
  /** True for addresses of a served zone, false for relay domains. */
  served: boolean;
}

export type RouteResult = { ok: true; route: Route } | { ok: false; denial: Denial };

export interface RecipientDirectoryOptions {
  published: PublishedModel;
  relayDomains: Map<string, RelayDomain>;
  smarthost: string | undefined;
}

export interface RecipientDirectory {
  resolve(address: string): Promise<RouteResult>;
  /** True when the domain is served by this keypost (so not a remote keypost domain). */
  serves(domain: string): Promise<boolean>;
  /** Where mail for an address this gateway does not serve goes: relay hop, smarthost or MX. */
  outboundHop(address: string): string;
  close(): void;
}

export function createRecipientDirectory(options: RecipientDirectoryOptions): RecipientDirectory {
  const { published } = options;
  const canonical = new Map<string, string>();
  const smarthost = options.smarthost ? canonicalHop(options.smarthost) : undefined;

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
      const zone = await published.zone(domain);
      if (zone) {
        const entry = await published.address(key);
        if (!entry) return { ok: false, denial: deny(GATEWAY_CODES.recipientUnknown, { address }) };
        const hop = published.nextHop(entry, zone) ?? smarthost;
        if (!hop) return { ok: false, denial: deny(GATEWAY_CODES.noNextHop, { address }) };
        let nextHop = hop === LIST_HOP ? LIST_HOP : canonical.get(hop);
        if (nextHop === undefined) {
          try {
            nextHop = canonicalHop(hop);
          } catch {
            return { ok: false, denial: deny(GATEWAY_CODES.configInvalid, { address }) };
          }
          if (canonical.size > 10_000) canonical.clear();
          canonical.set(hop, nextHop);
        }
        return { ok: true, route: { address, price: published.price(entry, zone), requirement: published.requirement(entry, zone), nextHop, served: true } };
      }
      if (options.relayDomains.has(domain)) {
        return { ok: true, route: { address, price: published.defaultPowBits, requirement: NO_REQUIREMENT, nextHop: outboundHop(key), served: false } };
      }
      return { ok: false, denial: deny(GATEWAY_CODES.relayDenied, { address }) };
    },
    async serves(domain) {
      return (await published.zone(domain.toLowerCase())) !== undefined;
    },
    outboundHop,
    close() {
      canonical.clear();
    },
  };
}

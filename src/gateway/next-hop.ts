// Next hops of the gateway: the queue stores a hop's canonical form (src/smtp/hop.ts), or
// `mx:<domain>` for mail routed by the recipient domain's MX records at delivery time; relay
// domains name their own hop.
import { canonicalHop } from '../smtp/hop.js';
import { GATEWAY_CODES, GatewayError } from './errors.js';

export { canonicalHop, formatHop, parseHop, type HopTarget } from '../smtp/hop.js';

export const MX_PREFIX = 'mx:';

/**
 * The hop of a mailing list address (src/lists/): the post is not relayed but stays in the queue
 * for the list worker, which claims only these rows (claimDue's `hop`) and queues one copy per
 * member. Never published in DNS; set on the list's address when the list is made.
 */
export const LIST_HOP = 'list:';

export function mxHop(domain: string): string {
  return `${MX_PREFIX}${domain.toLowerCase()}`;
}

export interface RelayDomain {
  domain: string;
  /** Where its mail goes; undefined routes by smarthost or MX. */
  hop: string | undefined;
}

/** `example.net` or `example.net=smtp://mail.example.net:25`. */
export function parseRelayDomains(specs: readonly string[]): Map<string, RelayDomain> {
  const domains = new Map<string, RelayDomain>();
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const domain = (eq < 0 ? spec : spec.slice(0, eq)).trim().toLowerCase().replace(/\.$/, '');
    if (!/^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$/.test(domain)) {
      throw new GatewayError(GATEWAY_CODES.configInvalid, `not a relay domain: "${spec}"`);
    }
    domains.set(domain, { domain, hop: eq < 0 ? undefined : canonicalHop(spec.slice(eq + 1)) });
  }
  return domains;
}

export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase().replace(/\.$/, '');
}

export function localPartOf(address: string): string {
  return address.slice(0, address.lastIndexOf('@'));
}

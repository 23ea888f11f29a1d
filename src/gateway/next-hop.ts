// Next-hop addresses. Configuration and the directory write them loosely (`smtp://host:port`,
// `host:port`, `[2001:db8::1]:25`, `host`); the queue stores one canonical form, `smtp://host:port`,
// or `mx:<domain>` for mail routed by the recipient domain's MX records at delivery time.
import { GATEWAY_CODES, GatewayError } from './errors.js';

export const MX_PREFIX = 'mx:';
const DEFAULT_PORT = 25;

export interface HopTarget {
  host: string;
  port: number;
  /** Tor onion service: reachable only through the SOCKS proxy. */
  onion: boolean;
}

export function parseHop(text: string): HopTarget {
  const rest = text.trim().replace(/^smtp:\/\//i, '').replace(/\/$/, '');
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+))(?::(\d{1,5}))?$/.exec(rest);
  const port = m?.[3] === undefined ? DEFAULT_PORT : Number(m[3]);
  if (!m || port < 1 || port > 65535) {
    throw new GatewayError(GATEWAY_CODES.configInvalid, `not a next hop: "${text}" (expected smtp://host:port)`);
  }
  const host = (m[1] ?? m[2]).toLowerCase().replace(/\.$/, '');
  return { host, port, onion: host.endsWith('.onion') };
}

export function formatHop(target: Pick<HopTarget, 'host' | 'port'>): string {
  return `smtp://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
}

/** The canonical stored form of a configured or published hop. */
export function canonicalHop(text: string): string {
  return formatHop(parseHop(text));
}

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

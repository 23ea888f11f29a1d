// Sender IP ranges that skip the stamp rule (the provider's own hosts, partner relays).
// node:net's BlockList does the prefix matching for both address families.
import { BlockList, isIP } from 'node:net';
import { GATEWAY_CODES, GatewayError } from './errors.js';

export interface NetworkList {
  /** The configured range the address falls in, or undefined. */
  match(address: string): string | undefined;
}

/** A client connecting over IPv6 to a dual-stack socket shows IPv4 as ::ffff:a.b.c.d. */
export function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1] : address;
}

/**
 * The unit per-client limits count in: an IPv4 address, or the /64 of an IPv6 address, since one
 * IPv6 client is routinely given a whole /64 (RFC 7421 section 1) and could change address at will.
 */
export function clientKey(raw: string): string {
  const address = plainAddress(raw);
  if (isIP(address) !== 6) return address;
  const [head, tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

/** Parses `10.0.0.0/8, 192.0.2.7, 2001:db8::/32`; a bare address is a single host. */
export function parseNetworks(specs: readonly string[]): NetworkList {
  const ranges: { spec: string; list: BlockList }[] = [];
  for (const spec of specs) {
    const [address, prefixText, extra] = spec.split('/');
    const family = isIP(address);
    const max = family === 6 ? 128 : 32;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (!family || extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > max || prefixText === '') {
      throw new GatewayError(GATEWAY_CODES.configInvalid, `not an IP network: "${spec}" (expected e.g. 192.0.2.0/24)`);
    }
    const list = new BlockList();
    list.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
    ranges.push({ spec, list });
  }
  return {
    match(raw) {
      const address = plainAddress(raw);
      const family = isIP(address);
      if (!family) return undefined;
      const type = family === 6 ? 'ipv6' : 'ipv4';
      return ranges.find((r) => r.list.check(address, type))?.spec;
    },
  };
}

// SMTP hop addresses, shared by the gateway's relay (next hops) and the sender client (published
// endpoints). They are written loosely (`smtp://host:port`, `host:port`, `[2001:db8::1]:25`,
// `host`); one canonical form, `smtp://host:port`, is what gets stored and compared.
import { KeypostError } from '../errors.js';

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
    throw new KeypostError('GW_CONFIG_INVALID', `not a next hop: "${text}" (expected smtp://host:port)`);
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

// Parsing and checking a zone's DNS settings (ZoneDnsSettings, stored in domains.dns and read by the
// DNS server): name servers with glue, SOA RNAME and timers, WKD host addresses, secondaries and
// their TSIG keys. Pure functions, so the CLI and any API share one set of rules.
import { isIP, isIPv4, isIPv6 } from 'node:net';
import type { ZoneDnsSettings } from '../db/database.js';
import { KeypostError } from '../errors.js';
import { isHostName } from '../protocol/address.js';

type Soa = NonNullable<ZoneDnsSettings['soa']>;
type Secondary = NonNullable<ZoneDnsSettings['secondaries']>[number];

function invalid(message: string): KeypostError {
  return new KeypostError('DIR_DNS_SETTINGS_INVALID', message);
}

// RFC 1912 §2.2 recommendations for a zone that changes often and is copied by secondaries.
export const DEFAULT_SOA: Soa = { refresh: 3600, retry: 900, expire: 1_209_600, minimum: 300, ttl: 3600 };

/** `ns1.example.org` or `ns1.example.org=192.0.2.1,2001:db8::1` (glue for in-zone servers). */
export function parseNameServer(spec: string): ZoneDnsSettings['nameservers'][number] {
  const [rawName, rawAddresses] = spec.split('=', 2);
  const name = rawName.trim().toLowerCase().replace(/\.$/, '');
  if (!isHostName(name)) throw invalid(`--ns: not a host name: "${rawName}"`);
  const ns: ZoneDnsSettings['nameservers'][number] = { name };
  for (const address of (rawAddresses ?? '').split(',').map((a) => a.trim()).filter(Boolean)) {
    if (isIPv4(address)) (ns.ipv4 ??= []).push(address);
    else if (isIPv6(address)) (ns.ipv6 ??= []).push(address);
    else throw invalid(`--ns ${name}: not an IP address: "${address}"`);
  }
  return ns;
}

/** `192.0.2.7`, `192.0.2.7:5353`, `[2001:db8::7]:53`, `2001:db8::7`, each optionally `/tsig-name`. */
export function parseSecondary(spec: string): Secondary {
  const slash = spec.indexOf('/');
  const target = (slash >= 0 ? spec.slice(0, slash) : spec).trim();
  const tsigKey = slash >= 0 ? spec.slice(slash + 1).trim().toLowerCase() : undefined;
  let address = target;
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(target);
  const v4WithPort = /^([\d.]+):(\d+)$/.exec(target);
  if (bracketed) [address, port] = [bracketed[1], bracketed[2] ? Number(bracketed[2]) : undefined];
  else if (v4WithPort) [address, port] = [v4WithPort[1], Number(v4WithPort[2])];
  if (isIP(address) === 0) throw invalid(`--secondary: not an IP address: "${spec}"`);
  if (port !== undefined && (port < 1 || port > 65535)) throw invalid(`--secondary: bad port in "${spec}"`);
  if (tsigKey !== undefined && !isHostName(tsigKey)) throw invalid(`--secondary: bad TSIG key name in "${spec}"`);
  const secondary: Secondary = { address };
  if (port !== undefined) secondary.port = port;
  if (tsigKey) secondary.tsigKey = tsigKey;
  return secondary;
}

/** `name=base64secret` (HMAC-SHA256, RFC 8945); an empty secret (`name=`) removes the key. */
export function parseTsigKey(spec: string): { name: string; secret: string | null } {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw invalid(`--tsig-key takes NAME=BASE64SECRET, got "${spec}"`);
  const name = spec.slice(0, eq).trim().toLowerCase().replace(/\.$/, '');
  const secret = spec.slice(eq + 1).trim();
  if (!isHostName(name)) throw invalid(`--tsig-key: TSIG key names are domain names, got "${name}"`);
  if (secret === '') return { name, secret: null };
  const decoded = Buffer.from(secret, 'base64');
  // RFC 8945 §6: the secret should be at least as long as the HMAC output (32 octets for SHA-256).
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(secret) || decoded.length < 16) {
    throw invalid(`--tsig-key ${name}: secret must be base64 of at least 16 bytes (32 recommended)`);
  }
  return { name, secret: decoded.toString('base64') };
}

/** A mailbox for the SOA RNAME; stored as typed, converted to a DNS name by the DNS server. */
export function parseHostmaster(mailbox: string): string {
  const value = mailbox.trim().toLowerCase();
  const at = value.lastIndexOf('@');
  if (at <= 0 || !isHostName(value.slice(at + 1)) || /[\s@]/.test(value.slice(0, at))) {
    throw invalid(`--hostmaster takes a mailbox like hostmaster@example.org, got "${mailbox}"`);
  }
  return value;
}

export function parseOpenpgpkeyAddress(address: string): string {
  const value = address.trim();
  if (isIP(value) === 0) throw invalid(`--openpgpkey-address: not an IP address: "${address}"`);
  return value;
}

/** Checks cross-field rules: every secondary's TSIG key exists; SOA timers are sane (RFC 1912 §2.2). */
export function checkDnsSettings(dns: ZoneDnsSettings): ZoneDnsSettings {
  for (const secondary of dns.secondaries ?? []) {
    if (secondary.tsigKey && !dns.tsigKeys?.[secondary.tsigKey]) {
      throw invalid(`secondary ${secondary.address} names TSIG key "${secondary.tsigKey}", which is not defined (--tsig-key)`);
    }
  }
  if (dns.soa) {
    const { refresh, retry, expire, minimum, ttl } = dns.soa;
    for (const [name, value] of Object.entries(dns.soa)) {
      if (!Number.isInteger(value) || value < 0 || value > 2_147_483_647) throw invalid(`SOA ${name} must be 0..2147483647 seconds`);
    }
    if (retry > refresh) throw invalid('SOA retry must not exceed refresh');
    if (expire < refresh + retry) throw invalid('SOA expire must be at least refresh + retry');
    void minimum;
    void ttl;
  }
  return dns;
}

export interface DnsSettingsChange {
  nameservers?: ZoneDnsSettings['nameservers'];
  hostmaster?: string;
  openpgpkeyAddresses?: string[];
  clearSecondaries?: boolean;
  addSecondaries?: Secondary[];
  tsigKeys?: { name: string; secret: string | null }[];
  soa?: Partial<Soa>;
}

/** Applies a change to current settings; returns the new settings (the input is not modified). */
export function applyDnsChange(current: ZoneDnsSettings, change: DnsSettingsChange): ZoneDnsSettings {
  const next: ZoneDnsSettings = structuredClone(current);
  next.nameservers ??= [];
  if (change.nameservers) next.nameservers = change.nameservers;
  if (change.hostmaster !== undefined) next.hostmaster = change.hostmaster;
  if (change.openpgpkeyAddresses) next.openpgpkeyAddresses = change.openpgpkeyAddresses;
  if (change.tsigKeys?.length) {
    const keys = { ...(next.tsigKeys ?? {}) };
    for (const { name, secret } of change.tsigKeys) {
      if (secret === null) delete keys[name];
      else keys[name] = secret;
    }
    next.tsigKeys = keys;
  }
  if (change.clearSecondaries) next.secondaries = [];
  if (change.addSecondaries?.length) {
    const list = [...(next.secondaries ?? [])];
    for (const secondary of change.addSecondaries) {
      // Re-adding an address replaces its entry (a new port or key), so repeating a command is harmless.
      const at = list.findIndex((s) => s.address === secondary.address && (s.port ?? 53) === (secondary.port ?? 53));
      if (at >= 0) list[at] = secondary;
      else list.push(secondary);
    }
    next.secondaries = list;
  }
  if (change.soa && Object.keys(change.soa).length) next.soa = { ...(next.soa ?? DEFAULT_SOA), ...change.soa };
  return checkDnsSettings(next);
}

/** A copy safe to print: TSIG secrets replaced by their names only. */
export function redactDnsSettings(dns: ZoneDnsSettings): Omit<ZoneDnsSettings, 'tsigKeys'> & { tsigKeys?: string[] } {
  const { tsigKeys, ...rest } = dns;
  return tsigKeys ? { ...rest, tsigKeys: Object.keys(tsigKeys) } : rest;
}

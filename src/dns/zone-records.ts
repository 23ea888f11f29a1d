// What a zone publishes, as plain records (README "What DNS publishes"). Shared by the snapshot
// builder (which pre-encodes them), AXFR and `keypost dns records`, so there is one source of truth.
import { isIPv4, isIPv6 } from 'node:net';
import type { ZoneDnsSettings } from '../db/database.js';
import { openpgpkeyLabel, wkdHash } from '../protocol/address-hashes.js';
import { formatKp1 } from '../protocol/kp1.js';
import { addressSetting } from '../protocol/precedence.js';
import { NO_REQUIREMENT, type Requirement } from '../protocol/requirement.js';
import type { ZoneSigningKey } from '../published/entries.js';
import { DNSSEC_TYPE } from './dnssec/dnskey.js';
import { KEY_DUTIES } from './dnssec/key-states.js';
import { vksByFingerprintUrl } from '../protocol/vks.js';
import * as rd from './rdata.js';
import { encodeLabels, nameKey, wireKey } from '../protocol/dns-wire.js';
import { STH_OWNER_LABEL, formatTreeHeadText, type SignedTreeHead } from '../transparency/sth.js';

/** The zone as the read model holds it (src/published/entries.ts PublishedZone), as far as DNS needs it. */
export interface ZoneSource {
  name: string;
  serial: number;
  powBits: number | null;
  endpoint: string | null;
  apiUrl: string | null;
  /** What protection mail must carry; absent = none. */
  requirement?: Requirement;
  dns: ZoneDnsSettings;
  /** DNSSEC keys; absent or empty = unsigned. */
  signingKeys?: readonly ZoneSigningKey[];
  /** The zone log's latest signed head, published at `_keypost-log` (src/transparency/sth.ts). */
  treeHead?: SignedTreeHead | null;
}

/** A published address as the read model holds it (PublishedAddress), as far as DNS needs it. */
export interface AddressSource {
  localPart: string;
  fingerprint: string;
  minimalKey: Buffer;
  endpoint: string | null;
  powBits: number | null;
  /** The address's own requirement; null or absent = the zone's. */
  requirement?: Requirement | null;
  /** The local part's labels when already computed (the read model holds them): saves two hashes. */
  openpgpkeyLabel?: string;
  wkdLabel?: string;
}

export interface ZoneRecord {
  /** Owner relative to the apex as a wire key without the final root octet ('' = apex). */
  owner: string;
  ttl: number;
  rdata: rd.Rdata;
}

// Same RFC 1912 §2.2 figures the directory offers when a zone is created.
export const DEFAULT_SOA = { refresh: 3600, retry: 900, expire: 1_209_600, minimum: 300, ttl: 3600 } as const;

export interface ZonePolicy {
  zone: string;
  ttl: number;
  /** RFC 2308 §5: negative answers live min(SOA TTL, SOA MINIMUM). */
  negativeTtl: number;
  soa: { refresh: number; retry: number; expire: number; minimum: number };
  powBits: number;
  endpoint: string | null;
  apiUrl: string | null;
  requirement: Requirement;
}

export interface PolicyDefaults {
  powBits: number;
  apiUrl?: string;
}

/** The zone's SOA fields with the defaults filled in; its TTL is every record's TTL. */
export function zoneSoa(dns: ZoneSource['dns']): Record<keyof typeof DEFAULT_SOA, number> {
  return { ...DEFAULT_SOA, ...(dns.soa ?? {}) };
}

export function zonePolicy(zone: ZoneSource, defaults: PolicyDefaults): ZonePolicy {
  const soa = zoneSoa(zone.dns);
  return {
    zone: zone.name,
    ttl: soa.ttl,
    negativeTtl: Math.min(soa.ttl, soa.minimum),
    soa: { refresh: soa.refresh, retry: soa.retry, expire: soa.expire, minimum: soa.minimum },
    powBits: addressSetting(null, zone.powBits, defaults.powBits),
    endpoint: zone.endpoint,
    apiUrl: zone.apiUrl ?? defaults.apiUrl ?? null,
    requirement: addressSetting(null, zone.requirement, NO_REQUIREMENT),
  };
}

/** Relative owner key for a name inside `zone`, or undefined when the name is outside it. */
export function relativeOwner(zone: string, name: string): string | undefined {
  const full = nameKey(name);
  const apex = nameKey(zone);
  if (!full.endsWith(apex)) return undefined;
  const rel = full.slice(0, full.length - apex.length);
  // The suffix must start at a label boundary: walk the relative part's labels.
  let i = 0;
  while (i < rel.length) i += rel.charCodeAt(i) + 1;
  return i === rel.length ? rel : undefined;
}

export function relativeKey(labels: string[]): string {
  const wire = encodeLabels(labels);
  return wireKey(wire, 0, wire.length - 1);
}

export const OPENPGPKEY_ENT = relativeKey(['_openpgpkey']);
export const PKA_ENT = relativeKey(['_pka']);
export const KEYPOST_OWNER = relativeKey(['_keypost']);
export const TREE_HEAD_OWNER = relativeKey([STH_OWNER_LABEL]);

/** The zone's TXT; req= only when the zone asks for protection (none is what a reader assumes). */
export function zonePolicyText(policy: ZonePolicy): string {
  return formatKp1({
    api: policy.apiUrl || undefined,
    ep: policy.endpoint || undefined,
    pow: policy.powBits,
    req: policy.requirement !== NO_REQUIREMENT ? policy.requirement : undefined,
  });
}

/** Per-address TXT: ep, pow and req only where they differ from the zone policy. */
export function addressPolicyText(policy: ZonePolicy, address: AddressPolicySource): string {
  // The zone policy already carries the zone's price, endpoint and requirement, so they stand for
  // the zone here; an address that takes plain mail in a zone that asks for more says req=none.
  const endpoint = addressSetting(address.endpoint, policy.endpoint, null);
  const price = addressSetting(address.powBits, policy.powBits, policy.powBits);
  const requirement = addressSetting(address.requirement, policy.requirement, policy.requirement);
  return formatKp1({
    fpr: address.fingerprint,
    ep: endpoint && endpoint !== policy.endpoint ? endpoint : undefined,
    pow: price !== policy.powBits ? price : undefined,
    req: requirement !== policy.requirement ? requirement : undefined,
  });
}

export interface AddressOwners {
  openpgpkey: string;
  keypost: string;
  pka: string;
}

export function addressOwners(localPart: string, labels: { openpgpkeyLabel?: string; wkdLabel?: string } = {}): AddressOwners {
  const h = labels.openpgpkeyLabel ?? openpgpkeyLabel(localPart);
  return {
    openpgpkey: relativeKey([h, '_openpgpkey']),
    keypost: relativeKey([h, '_keypost']),
    pka: relativeKey([labels.wkdLabel ?? wkdHash(localPart), '_pka']),
  };
}

/**
 * Largest key published as OPENPGPKEY: RDLENGTH is 16 bits and the whole answer, question included,
 * must fit a 65,535-octet TCP message (RFC 1035 §4.2.2). A larger key is still served by the API.
 */
export const MAX_OPENPGPKEY_RDATA = 65_535 - 1024;

/**
 * The URL a PKA record names: the key by fingerprint at the zone's directory API (its `api=`, or the
 * configured public URL), so that gpg can fetch a key it does not hold yet. None without a directory.
 */
function pkaUrl(policy: ZonePolicy, fingerprint: string): string | undefined {
  return policy.apiUrl ? vksByFingerprintUrl(policy.apiUrl, fingerprint) : undefined;
}

/** An address without its key, as far as the records that follow the zone policy need it. */
export type AddressPolicySource = Omit<AddressSource, 'minimalKey'>;

/**
 * The address records that depend on the zone policy and not on the key: the _keypost TXT (which
 * leaves out what equals the zone's) and the PKA CERT (whose URL is at the zone's directory).
 */
export function addressPolicyRecords(policy: ZonePolicy, address: AddressPolicySource): ZoneRecord[] {
  const owners = addressOwners(address.localPart, address);
  return [
    { owner: owners.keypost, ttl: policy.ttl, rdata: rd.txt(addressPolicyText(policy, address)) },
    { owner: owners.pka, ttl: policy.ttl, rdata: rd.certIpgp(address.fingerprint, pkaUrl(policy, address.fingerprint)) },
  ];
}

export function addressRecords(policy: ZonePolicy, address: AddressSource): ZoneRecord[] {
  const [keypost, pka] = addressPolicyRecords(policy, address);
  // The _keypost TXT comes first and is always there: it is what marks an address as published.
  if (address.minimalKey.length > MAX_OPENPGPKEY_RDATA) return [keypost, pka];
  const owner = addressOwners(address.localPart, address).openpgpkey;
  return [keypost, { owner, ttl: policy.ttl, rdata: rd.openpgpkey(address.minimalKey) }, pka];
}

/** Name servers to publish: the configured ones, or ns1.<zone> when none are configured. */
export function nameServers(zone: ZoneSource): ZoneDnsSettings['nameservers'] {
  return zone.dns.nameservers?.length ? zone.dns.nameservers : [{ name: `ns1.${zone.name}` }];
}

/** SOA, NS, in-zone NS addresses, the zone policy TXT and the WKD host. */
export function apexRecords(zone: ZoneSource, policy: ZonePolicy): ZoneRecord[] {
  const servers = nameServers(zone);
  const records: ZoneRecord[] = [];
  const hostmaster = zone.dns.hostmaster ?? `hostmaster@${zone.name}`;
  records.push({
    owner: '',
    ttl: policy.ttl,
    rdata: rd.soa({
      mname: servers[0].name,
      rname: rd.mailboxToName(hostmaster),
      serial: zone.serial,
      ...policy.soa,
    }),
  });
  for (const server of servers) records.push({ owner: '', ttl: policy.ttl, rdata: rd.ns(server.name) });
  records.push(...keyRecords(zone, policy));
  records.push({ owner: KEYPOST_OWNER, ttl: policy.ttl, rdata: rd.txt(zonePolicyText(policy)) });
  if (zone.treeHead) records.push({ owner: TREE_HEAD_OWNER, ttl: policy.ttl, rdata: rd.txt(formatTreeHeadText(zone.treeHead)) });
  // Settings are validated when written; anything unusable is left out here rather than failing
  // the whole zone.
  const address = (ip: string): rd.Rdata[] => (isIPv4(ip) ? [rd.a(ip)] : isIPv6(ip) ? [rd.aaaa(ip)] : []);
  for (const ip of zone.dns.openpgpkeyAddresses ?? []) {
    for (const rdata of address(ip)) records.push({ owner: relativeKey(['openpgpkey']), ttl: policy.ttl, rdata });
  }
  // Addresses of name servers inside the zone are authoritative data here (RFC 1034 §4.2.1).
  for (const server of servers) {
    const owner = relativeOwner(zone.name, server.name);
    if (owner === undefined || owner === '') continue;
    for (const ip of [...(server.ipv4 ?? []), ...(server.ipv6 ?? [])]) for (const rdata of address(ip)) records.push({ owner, ttl: policy.ttl, rdata });
  }
  return records;
}

/**
 * The apex DNSKEY RRset of a signed zone, and the CDS and CDNSKEY that tell a parent which DS to
 * hold (RFC 7344 §4, RFC 8078 §3): every key in a rollover is in DNSKEY, and only the active key
 * (a CSK) in CDS/CDNSKEY, so the parent is asked for the new DS once that key is the one to trust
 * (dnssec/key-states.ts).
 */
export function keyRecords(zone: ZoneSource, policy: ZonePolicy): ZoneRecord[] {
  const records: ZoneRecord[] = [];
  for (const key of zone.signingKeys ?? []) {
    const duties = KEY_DUTIES[key.state];
    const dnskey = rd.dnskey(key.flags, key.algorithm, key.publicKey);
    if (duties.published) records.push({ owner: '', ttl: policy.ttl, rdata: dnskey });
    if (duties.wantedByParent) {
      records.push(
        { owner: '', ttl: policy.ttl, rdata: rd.ds(zone.name, dnskey, DNSSEC_TYPE.CDS) },
        { owner: '', ttl: policy.ttl, rdata: rd.dnskey(key.flags, key.algorithm, key.publicKey, DNSSEC_TYPE.CDNSKEY) },
      );
    }
  }
  return records;
}

/** Relative owner keys of every ancestor of `owner` strictly between it and the apex. */
export function ancestors(owner: string): string[] {
  const out: string[] = [];
  let i = owner.length ? owner.charCodeAt(0) + 1 : 0;
  while (i < owner.length) {
    out.push(owner.slice(i));
    i += owner.charCodeAt(i) + 1;
  }
  return out;
}

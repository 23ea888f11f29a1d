// What the read model holds: one entry per served zone (its `domains` row) and one per published
// address (its `addresses` row joined with the key's summary). Kept flat, with numbers for times
// and interned repeated strings, because a large zone holds 100,000 of them and every object is
// work for each major GC.
import type { DnssecKeyState, ZoneDnsSettings } from '../db/database.js';
import { openpgpkeyLabel, wkdHash } from '../protocol/address-hashes.js';
import type { Requirement } from '../protocol/requirement.js';
import type { SignedTreeHead } from '../transparency/sth.js';

/** A served zone: its policy, DNS settings and SOA serial. */
export interface PublishedZone {
  name: string;
  /** SOA serial (RFC 1982 arithmetic, 32 bits). */
  serial: number;
  /** Zone stamp price; null = the server default (see src/protocol/precedence.ts). */
  powBits: number | null;
  /** Zone `ep`; null = none published. */
  endpoint: string | null;
  /** Where the gateway relays mail for the zone; never published. */
  nextHop: string | null;
  apiUrl: string | null;
  /** What protection mail for the zone must carry (src/protocol/requirement.ts). */
  requirement: Requirement;
  dns: ZoneDnsSettings;
  /** DNSSEC signing keys; none = the zone is served unsigned (src/dns/dnssec/). */
  signingKeys: ZoneSigningKey[];
  /** The zone log's latest signed head (src/transparency/); null until one is signed. */
  treeHead?: SignedTreeHead | null;
}

/** A zone's DNSSEC key as stored: the public part as published, the private part still sealed. */
export interface ZoneSigningKey {
  algorithm: number;
  flags: number;
  keyTag: number;
  /** The DNSKEY public key field. */
  publicKey: Buffer;
  /** Opened only by DNS nodes, with KEYPOST_SECRET_KEY_FILE (src/secrets/sealed-box.ts). */
  privateKeySealed: Buffer;
  /** What the key signs and whether CDS names it (src/dns/dnssec/key-states.ts). */
  state: DnssecKeyState;
}

/** The `dnssec_keys` columns the model reads. */
export interface SigningKeyRow {
  algorithm: number;
  flags: number;
  key_tag: number;
  public_key: Buffer;
  private_key_sealed: Buffer;
  state: DnssecKeyState;
}

/** One published address as every reader sees it. */
export interface PublishedAddress {
  /** Canonical address (ASCII-lowercased). */
  address: string;
  localPart: string;
  domain: string;
  fingerprint: string;
  userId: string;
  /** The minimal key for this address: primary key, this user ID, valid subkeys (binary). */
  minimalKey: Buffer;
  /** Per-address overrides; null = the zone's (see src/protocol/precedence.ts). */
  endpoint: string | null;
  powBits: number | null;
  nextHop: string | null;
  requirement: Requirement | null;
  /** The key's algorithm (openpgp.js name), size, creation and expiry (ms since the epoch). */
  algorithm: string;
  bits: number | null;
  createdAt: number;
  expiresAt: number | null;
  revoked: boolean;
  /** DNS labels of the local part (RFC 7929 §3 hash, WKD z-base-32), computed once. */
  openpgpkeyLabel: string;
  wkdLabel: string;
}

/** The `domains` columns the model reads. */
export interface ZoneRow {
  name: string;
  serial: string | number | bigint;
  pow_bits: number | null;
  endpoint: string | null;
  next_hop: string | null;
  api_url: string | null;
  requirement: Requirement | null;
  dns: ZoneDnsSettings | string;
  /** Read with the zone row from log_heads. */
  tree_head?: SignedTreeHead | null;
}

/** The `addresses` + `keys` columns the model reads. */
export interface AddressRow {
  address: string;
  local_part: string;
  domain: string;
  fingerprint: string;
  user_id: string;
  minimal_key: Buffer;
  endpoint: string | null;
  pow_bits: number | null;
  next_hop: string | null;
  requirement: Requirement | null;
  status: string;
  algorithm: string;
  bits: number | null;
  created_at: Date;
  expires_at: Date | null;
  revoked: boolean;
}

/**
 * Shares repeated strings instead of keeping one copy per row. Holds at most `limit` of them: once
 * full it starts over, so names of zones long gone do not stay for the life of the process (strings
 * already handed out stay shared; only new rows start a new set).
 */
export class Interner {
  private readonly shared = new Map<string, string>();

  constructor(private readonly limit: number) {}

  intern(text: string): string {
    let shared = this.shared.get(text);
    if (shared === undefined) {
      if (this.shared.size >= this.limit) this.shared.clear();
      this.shared.set(text, (shared = text));
    }
    return shared;
  }

  get size(): number {
    return this.shared.size;
  }
}

// Zone names and algorithm names: a deployment serves far fewer distinct ones than this.
const names = new Interner(10_000);
const intern = (text: string) => names.intern(text);

export function toPublishedZone(row: ZoneRow, keys: SigningKeyRow[]): PublishedZone {
  const dns = typeof row.dns === 'string' ? (JSON.parse(row.dns) as ZoneDnsSettings) : row.dns;
  return {
    name: row.name,
    serial: Number(BigInt(row.serial) % 4294967296n),
    powBits: row.pow_bits,
    endpoint: row.endpoint,
    nextHop: row.next_hop,
    apiUrl: row.api_url,
    requirement: row.requirement ?? 'none',
    dns: { ...dns, nameservers: dns.nameservers ?? [] },
    treeHead: row.tree_head ?? null,
    signingKeys: keys.map((k) => ({
      algorithm: k.algorithm,
      flags: k.flags,
      keyTag: k.key_tag,
      publicKey: k.public_key,
      privateKeySealed: k.private_key_sealed,
      state: k.state,
    })),
  };
}

export function toPublishedAddress(row: AddressRow): PublishedAddress {
  return {
    address: row.address,
    localPart: row.local_part,
    domain: intern(row.domain),
    fingerprint: row.fingerprint,
    userId: row.user_id,
    minimalKey: row.minimal_key,
    endpoint: row.endpoint,
    powBits: row.pow_bits,
    nextHop: row.next_hop,
    requirement: row.requirement,
    algorithm: intern(row.algorithm),
    bits: row.bits,
    createdAt: row.created_at.getTime(),
    expiresAt: row.expires_at ? row.expires_at.getTime() : null,
    revoked: row.revoked,
    openpgpkeyLabel: openpgpkeyLabel(row.local_part),
    wkdLabel: wkdHash(row.local_part),
  };
}

/** True when two zone entries publish the same thing (a refresh that changed nothing). */
export function sameZone(a: PublishedZone, b: PublishedZone): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

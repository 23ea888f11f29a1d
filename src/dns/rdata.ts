// RDATA encoders for the record types keypost publishes, and their presentation form for zone files.
// dns2 has no OPENPGPKEY or CERT, and its encoder is slow, so every RDATA is built here once, when a
// zone loads. Types without an RFC 1035 text form are printed as RFC 3597 allows parsers to accept
// either the mnemonic form or `\# <len> <hex>`; we print the mnemonic forms NSD and BIND read.
import { isIPv4, isIPv6 } from 'node:net';
import { TYPE, encodeName, keyToName } from '../protocol/dns-wire.js';
import { DNSSEC_TYPE, dnskeyRdata, dsRdata } from './dnssec/dnskey.js';

export interface Rdata {
  type: number;
  /** Wire RDATA (names uncompressed, RFC 3597 §4: no compression in RDATA we emit). */
  wire: Buffer;
}

export function a(address: string): Rdata {
  if (!isIPv4(address)) throw new RangeError(`not an IPv4 address: ${address}`);
  return { type: TYPE.A, wire: Buffer.from(address.split('.').map(Number)) };
}

function ipv6Groups(address: string): number[] {
  const expand = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((p) => {
          if (!p.includes('.')) return [parseInt(p, 16)];
          // An embedded IPv4 suffix (::ffff:192.0.2.1) is two groups.
          const o = p.split('.').map(Number);
          return [(o[0] << 8) | o[1], (o[2] << 8) | o[3]];
        });
  const halves = address.split('::');
  if (halves.length === 1) return expand(address);
  const head = expand(halves[0]);
  const tail = expand(halves[1]);
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

export function aaaa(address: string): Rdata {
  if (!isIPv6(address)) throw new RangeError(`not an IPv6 address: ${address}`);
  const wire = Buffer.alloc(16);
  ipv6Groups(address).forEach((g, i) => wire.writeUInt16BE(g, i * 2));
  return { type: TYPE.AAAA, wire };
}

/** RFC 5952 §4: lowercase hex, leading zeros dropped, the longest run of 2+ zero groups as "::". */
function presentIpv6(wire: Buffer): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(wire.readUInt16BE(i));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function ns(host: string): Rdata {
  return { type: TYPE.NS, wire: encodeName(host) };
}

export interface SoaFields {
  mname: string;
  /** RNAME as a domain name (hostmaster.example.org), see mailboxToName. */
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

export function soa(f: SoaFields): Rdata {
  const timers = Buffer.alloc(20);
  timers.writeUInt32BE(f.serial >>> 0, 0);
  timers.writeUInt32BE(f.refresh >>> 0, 4);
  timers.writeUInt32BE(f.retry >>> 0, 8);
  timers.writeUInt32BE(f.expire >>> 0, 12);
  timers.writeUInt32BE(f.minimum >>> 0, 16);
  return { type: TYPE.SOA, wire: Buffer.concat([encodeName(f.mname), encodeName(f.rname), timers]) };
}

/** RFC 1035 §8: the local part becomes one label, so a dot in it must be escaped. */
export function mailboxToName(mailbox: string): string {
  const at = mailbox.lastIndexOf('@');
  if (at < 0) return mailbox;
  return `${mailbox.slice(0, at).replace(/\./g, '\\.')}.${mailbox.slice(at + 1)}`;
}

/** TXT: one or more character-strings, each at most 255 octets (RFC 1035 §3.3.14). */
export function txt(text: string): Rdata {
  const bytes = Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length || parts.length === 0; i += 255) {
    const chunk = bytes.subarray(i, i + 255);
    parts.push(Buffer.from([chunk.length]), chunk);
  }
  return { type: TYPE.TXT, wire: Buffer.concat(parts) };
}

/** RFC 7929 §2.1: the RDATA is one binary transferable public key. */
export function openpgpkey(key: Uint8Array): Rdata {
  // No copy: callers encode it into a snapshot right away.
  return { type: TYPE.OPENPGPKEY, wire: Buffer.isBuffer(key) ? key : Buffer.from(key) };
}

/**
 * RFC 4398 §2.1 CERT with type IPGP (6): fingerprint length, fingerprint, then an optional URL in the
 * remaining octets where the key can be fetched (RFC 4398 §2.2; GnuPG 2.2 PKA imports from it a key
 * the keyring does not hold).
 */
export function certIpgp(fingerprintHex: string, url?: string): Rdata {
  const fpr = Buffer.from(fingerprintHex, 'hex');
  const link = Buffer.from(url ?? '', 'utf8');
  const wire = Buffer.alloc(5 + 1 + fpr.length + link.length);
  wire.writeUInt16BE(6, 0); // cert type IPGP
  wire.writeUInt16BE(0, 2); // key tag: unused for IPGP
  wire.writeUInt8(0, 4); // algorithm: unused for IPGP
  wire.writeUInt8(fpr.length, 5);
  fpr.copy(wire, 6);
  link.copy(wire, 6 + fpr.length);
  return { type: TYPE.CERT, wire };
}

/** RFC 4034 §2: a zone key; CDNSKEY (RFC 7344 §3.2) carries the same RDATA for the parent. */
export function dnskey(flags: number, algorithm: number, publicKey: Buffer, type: number = DNSSEC_TYPE.DNSKEY): Rdata {
  return { type, wire: dnskeyRdata(flags, algorithm, publicKey) };
}

/** RFC 4034 §5 DS of a DNSKEY owned by `owner`; CDS (RFC 7344 §3.1) has the same RDATA. */
export function ds(owner: string, key: Rdata, type: number = DNSSEC_TYPE.DS): Rdata {
  return { type, wire: dsRdata(encodeName(owner.toLowerCase()), key.wire) };
}

export const TYPE_NAMES: Record<number, string> = {
  [TYPE.A]: 'A',
  [TYPE.NS]: 'NS',
  [TYPE.SOA]: 'SOA',
  [TYPE.HINFO]: 'HINFO',
  [TYPE.TXT]: 'TXT',
  [TYPE.AAAA]: 'AAAA',
  [TYPE.CERT]: 'CERT',
  [TYPE.OPENPGPKEY]: 'OPENPGPKEY',
  63: 'ZONEMD',
  [DNSSEC_TYPE.DS]: 'DS',
  [DNSSEC_TYPE.RRSIG]: 'RRSIG',
  [DNSSEC_TYPE.NSEC]: 'NSEC',
  [DNSSEC_TYPE.DNSKEY]: 'DNSKEY',
  [DNSSEC_TYPE.CDS]: 'CDS',
  [DNSSEC_TYPE.CDNSKEY]: 'CDNSKEY',
};

export function typeName(type: number): string {
  return TYPE_NAMES[type] ?? `TYPE${type}`;
}

function nameAt(wire: Buffer, offset: number): { name: string; next: number } {
  let end = offset;
  while (wire[end] !== 0) end += wire[end] + 1;
  return { name: keyToName(wire.toString('latin1', offset, end + 1)), next: end + 1 };
}

function quoteString(bytes: Buffer): string {
  let out = '"';
  for (const b of bytes) {
    if (b === 0x22 || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
    else if (b < 0x20 || b >= 0x7f) out += `\\${String(b).padStart(3, '0')}`;
    else out += String.fromCharCode(b);
  }
  return `${out}"`;
}

/** Presentation form of RDATA (RFC 1035 §5.1; RFC 7929 §2.3; RFC 4398 §2.2; RFC 3597 §5 fallback). */
export function presentRdata(type: number, wire: Buffer): string {
  switch (type) {
    case TYPE.A:
      return [...wire].join('.');
    case TYPE.AAAA:
      return presentIpv6(wire);
    case TYPE.NS:
      return nameAt(wire, 0).name;
    case TYPE.SOA: {
      const m = nameAt(wire, 0);
      const r = nameAt(wire, m.next);
      const t = r.next;
      const n = (i: number) => wire.readUInt32BE(t + i * 4);
      return `${m.name} ${r.name} ${n(0)} ${n(1)} ${n(2)} ${n(3)} ${n(4)}`;
    }
    case TYPE.TXT:
    case TYPE.HINFO: {
      const strings: string[] = [];
      for (let i = 0; i < wire.length; i += wire[i] + 1) strings.push(quoteString(wire.subarray(i + 1, i + 1 + wire[i])));
      return strings.join(' ');
    }
    case TYPE.OPENPGPKEY:
      return wire.toString('base64');
    case TYPE.CERT: {
      const certType = wire.readUInt16BE(0);
      return `${certType === 6 ? 'IPGP' : certType} ${wire.readUInt16BE(2)} ${wire[4]} ${wire.subarray(5).toString('base64')}`;
    }
    case DNSSEC_TYPE.DNSKEY: // RFC 4034 §2.2
    case DNSSEC_TYPE.CDNSKEY:
      return `${wire.readUInt16BE(0)} ${wire[2]} ${wire[3]} ${wire.subarray(4).toString('base64')}`;
    case DNSSEC_TYPE.DS: // RFC 4034 §5.3
    case DNSSEC_TYPE.CDS:
      return `${wire.readUInt16BE(0)} ${wire[2]} ${wire[3]} ${wire.subarray(4).toString('hex').toUpperCase()}`;
    case 63: // ZONEMD, RFC 8976 §2.3
      return `${wire.readUInt32BE(0)} ${wire[4]} ${wire[5]} ${wire.subarray(6).toString('hex').toUpperCase()}`;
    default:
      return `\\# ${wire.length}${wire.length ? ` ${wire.toString('hex')}` : ''}`;
  }
}

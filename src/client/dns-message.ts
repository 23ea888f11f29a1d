// The sender's side of a DNS exchange: one query out, the matching answer read back. The name and
// integer primitives are the authoritative server's (src/protocol/dns-wire.ts), so both ends encode names
// the same way; this module only adds what a stub resolver needs on top of them.
import { CLASS, FLAG, HEADER_LENGTH, TYPE, encodeName, nameKey, readName, readU16, readU32, wireKey } from '../protocol/dns-wire.js';

/** RFC 6891 §6.2.5 and DNS Flag Day 2020: 1232 octets avoids IP fragmentation on most paths. */
export const EDNS_PAYLOAD = 1232;

/** The DO bit of the OPT record's flags (RFC 3225 §3): "send me DNSSEC records". */
const EDNS_FLAG_DO = 0x8000;

export interface ResourceRecord {
  /** Owner as a lowercased wire key (see src/protocol/dns-wire.ts). */
  owner: string;
  type: number;
  ttl: number;
  data: Buffer;
  /** Offset of the RDATA in the message, for RDATA that holds compressed names (CNAME). */
  dataOffset: number;
}

export interface DnsResponse {
  rcode: number;
  truncated: boolean;
  authoritative: boolean;
  /**
   * AD: the resolver validated every RRset of the answer and authority sections (RFC 4035 §3.2.3),
   * including the proof that a name or type does not exist. Only as trustworthy as that resolver
   * and the path to it (RFC 4035 §4.9.3).
   */
  authenticated: boolean;
  /** Records of the answer section that answer the question, CNAME chain followed. */
  answers: ResourceRecord[];
}

/**
 * A query with RD set (a recursive resolver needs it; an authoritative server ignores it) and EDNS0.
 * It asks a validating resolver to say whether it validated the answer: AD in the query (RFC 6840
 * §5.7) and DO in OPT (RFC 3225 §3), since a resolver older than RFC 6840 sets AD only for DO.
 * CD stays clear: the resolver must validate, not hand over what it could not.
 */
export function buildQuery(id: number, name: string, type: number): Buffer {
  const header = Buffer.alloc(HEADER_LENGTH);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(FLAG.RD | FLAG.AD, 2);
  header.writeUInt16BE(1, 4); // QDCOUNT
  header.writeUInt16BE(1, 10); // ARCOUNT: the OPT record
  const question = Buffer.alloc(4);
  question.writeUInt16BE(type, 0);
  question.writeUInt16BE(CLASS.IN, 2);
  // RFC 6891 §6.1.2: OPT owner is the root, CLASS carries the payload size, TTL the extended
  // RCODE, version 0 and flags (DO only), no options.
  const opt = Buffer.alloc(11);
  opt.writeUInt16BE(TYPE.OPT, 1);
  opt.writeUInt16BE(EDNS_PAYLOAD, 3);
  opt.writeUInt16BE(EDNS_FLAG_DO, 7);
  return Buffer.concat([header, encodeName(name), question, opt]);
}

interface RawRecord extends ResourceRecord {
  next: number;
}

function readRecord(msg: Buffer, offset: number): RawRecord | null {
  const owner = readName(msg, offset);
  if (!owner || owner.next + 10 > msg.length) return null;
  const p = owner.next;
  const length = readU16(msg, p + 8);
  if (p + 10 + length > msg.length) return null;
  return {
    owner: wireKey(owner.wire, 0, owner.wire.length),
    type: readU16(msg, p),
    ttl: readU32(msg, p + 4),
    data: msg.subarray(p + 10, p + 10 + length),
    dataOffset: p + 10,
    next: p + 10 + length,
  };
}

/**
 * Reads the response to the query (`id`, `name`, `type`). Returns null for anything that is not
 * that response (another ID, another question, not a response, unreadable): RFC 5452 §9.1 says to
 * accept an answer only when ID and question match, so a stray or spoofed datagram is ignored.
 */
export function parseResponse(bytes: Uint8Array, id: number, name: string, type: number): DnsResponse | null {
  const msg = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (msg.length < HEADER_LENGTH || readU16(msg, 0) !== id) return null;
  const flags = readU16(msg, 2);
  if (!(flags & FLAG.QR) || readU16(msg, 4) !== 1) return null;
  const question = readName(msg, HEADER_LENGTH);
  if (!question || question.next + 4 > msg.length) return null;
  const qname = wireKey(question.wire, 0, question.wire.length);
  if (qname !== nameKey(name) || readU16(msg, question.next) !== type) return null;

  const ancount = readU16(msg, 6);
  const records: RawRecord[] = [];
  let offset = question.next + 4;
  for (let i = 0; i < ancount; i++) {
    const record = readRecord(msg, offset);
    if (!record) return null;
    records.push(record);
    offset = record.next;
  }
  // A recursive resolver may answer through CNAMEs (RFC 1034 §3.6.2): follow the chain inside the
  // answer section, a bounded number of steps, and keep the records of the final owner.
  let owner = qname;
  for (let hops = 0; hops < 8; hops++) {
    const alias = records.find((r) => r.owner === owner && r.type === 5 && type !== 5);
    if (!alias) break;
    const target = readName(msg, alias.dataOffset);
    if (!target) return null;
    owner = wireKey(target.wire, 0, target.wire.length);
  }
  return {
    rcode: (flags & 0xf) | 0,
    truncated: (flags & FLAG.TC) !== 0,
    authoritative: (flags & FLAG.AA) !== 0,
    authenticated: (flags & FLAG.AD) !== 0,
    answers: records.filter((r) => r.owner === owner && r.type === type).map(({ next: _next, ...r }) => r),
  };
}

/** TXT RDATA: the character-strings (RFC 1035 §3.3.14) of one record, concatenated. */
export function txtText(data: Buffer): string | null {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; ) {
    const length = data[i];
    if (i + 1 + length > data.length) return null;
    parts.push(data.subarray(i + 1, i + 1 + length));
    i += 1 + length;
  }
  return Buffer.concat(parts).toString('utf8');
}

export interface CertRecord {
  certType: number;
  keyTag: number;
  algorithm: number;
  /** IPGP (type 6, RFC 4398 §2.1): the fingerprint, uppercase hex, when one is present. */
  fingerprint?: string;
  /** IPGP: the URL in the remaining octets, if any. */
  url?: string;
}

/** CERT RDATA: type(16) key tag(16) algorithm(8) certificate (RFC 4398 §2). */
export function parseCert(data: Buffer): CertRecord | null {
  if (data.length < 5) return null;
  const record: CertRecord = { certType: data.readUInt16BE(0), keyTag: data.readUInt16BE(2), algorithm: data[4] };
  if (record.certType === 6 && data.length > 5) {
    // IPGP: one octet fingerprint length, the fingerprint, then an optional URL.
    const length = data[5];
    if (6 + length > data.length) return null;
    if (length > 0) record.fingerprint = data.subarray(6, 6 + length).toString('hex').toUpperCase();
    if (data.length > 6 + length) record.url = data.subarray(6 + length).toString('utf8');
  }
  return record;
}

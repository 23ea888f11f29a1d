// Parsing a query just far enough to answer it. The order of checks follows NSD: unreadable header
// → drop; QR set → drop (never answer an answer, RFC 1035 §4.1.1, avoids reflection loops); other
// opcodes → NOTIMP; QDCOUNT ≠ 1 → FORMERR; a malformed question or additional section → FORMERR.
import { COOKIE_OPTION, parseCookieOption, type QueryCookie } from './cookies.js';
import { parseTsig, type TsigRecord } from './tsig.js';
import { FLAG, HEADER_LENGTH, MAX_LABEL_LENGTH, MAX_NAME_LENGTH, OPCODE, RCODE, TYPE, readU16, wireKey } from '../protocol/dns-wire.js';

export interface Edns {
  /** Requestor's UDP payload size as sent (RFC 6891 §6.2.3). */
  payload: number;
  version: number;
  /** DNSSEC OK, copied back (RFC 3225 §3). */
  dnssecOk: boolean;
  /** The COOKIE option (RFC 7873 §4), if the query had one. */
  cookie: QueryCookie | 'malformed' | null;
}

/** Finds the COOKIE among the OPT options in rdata [start, end); a second one is malformed. */
function readCookie(msg: Uint8Array, start: number, end: number): QueryCookie | 'malformed' | null {
  let cookie: QueryCookie | 'malformed' | null = null;
  for (let o = start; o < end; ) {
    if (o + 4 > end) return 'malformed';
    const code = readU16(msg, o);
    const length = readU16(msg, o + 2);
    if (o + 4 + length > end) return 'malformed';
    if (code === COOKIE_OPTION) cookie = cookie ? 'malformed' : parseCookieOption(msg.subarray(o + 4, o + 4 + length));
    o += 4 + length;
  }
  return cookie;
}

export interface Query {
  id: number;
  flags: number;
  opcode: number;
  /** Offset just past QTYPE/QCLASS; bytes 12..questionEnd are copied back verbatim. */
  questionEnd: number;
  /** Lowercased wire key of QNAME. */
  key: string;
  /** Offset of each QNAME label in the message, outermost (leftmost) first. */
  labelOffsets: number[];
  qtype: number;
  qclass: number;
  edns: Edns | null;
  tsig: TsigRecord | null;
}

export type ParseResult =
  | { kind: 'drop' }
  /** Answer with just a header (and the question when it was readable, and OPT when it had one). */
  | { kind: 'error'; rcode: number; id: number; flags: number; questionEnd: number; edns?: Edns | null }
  | { kind: 'query'; query: Query };

const DROP: ParseResult = { kind: 'drop' };

/** Offset past one RR starting at `o`, or -1. Also reports the type and where RDATA starts. */
function skipRecord(msg: Uint8Array, o: number, out: { type: number; nameEnd: number }): number {
  // Names in RRs may be compressed; walk without building them.
  let pos = o;
  let guard = 0;
  for (;;) {
    if (pos >= msg.length || ++guard > 128) return -1;
    const len = msg[pos];
    if (len === 0) {
      pos += 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= msg.length) return -1;
      pos += 2;
      break;
    }
    if ((len & 0xc0) !== 0) return -1;
    pos += len + 1;
  }
  if (pos + 10 > msg.length) return -1;
  out.type = readU16(msg, pos);
  out.nameEnd = pos;
  const end = pos + 10 + readU16(msg, pos + 8);
  return end > msg.length ? -1 : end;
}

/** Skips the answer and authority sections and reads OPT and TSIG from the additional one. */
function readSections(msg: Uint8Array, questionEnd: number): { edns: Edns | null; tsig: TsigRecord | null } | null {
  const ancount = readU16(msg, 6);
  const nscount = readU16(msg, 8);
  const arcount = readU16(msg, 10);
  const rr = { type: 0, nameEnd: 0 };
  let pos = questionEnd;
  for (let i = 0; i < ancount + nscount; i++) {
    pos = skipRecord(msg, pos, rr);
    if (pos < 0) return null;
  }
  let edns: Edns | null = null;
  let tsig: TsigRecord | null = null;
  for (let i = 0; i < arcount; i++) {
    const start = pos;
    pos = skipRecord(msg, pos, rr);
    if (pos < 0 || tsig) return null; // RFC 8945 §5.1: TSIG must be the last record
    if (rr.type === TYPE.OPT) {
      // RFC 6891 §6.1.1: one OPT, owner is the root.
      if (edns || rr.nameEnd !== start + 1 || msg[start] !== 0) return null;
      const p = rr.nameEnd;
      const rdlength = readU16(msg, p + 8);
      const cookie = rdlength ? readCookie(msg, p + 10, p + 10 + rdlength) : null;
      edns = { payload: readU16(msg, p + 2), version: msg[p + 5], dnssecOk: (msg[p + 6] & 0x80) !== 0, cookie };
    } else if (rr.type === TYPE.TSIG) {
      tsig = parseTsig(msg, start);
      if (!tsig) return null;
    }
  }
  return { edns, tsig };
}

export function parseQuery(msg: Uint8Array): ParseResult {
  if (msg.length < HEADER_LENGTH) return DROP;
  const id = readU16(msg, 0);
  const flags = readU16(msg, 2);
  if (flags & FLAG.QR) return DROP;
  const opcode = (flags >> 11) & 0xf;
  const qdcount = readU16(msg, 4);

  // Read QNAME without compression: a pointer in the first name can only point into the header.
  const labelOffsets: number[] = [];
  let o = HEADER_LENGTH;
  let nameOk = qdcount === 1;
  while (nameOk) {
    if (o >= msg.length) {
      nameOk = false;
      break;
    }
    const len = msg[o];
    if (len === 0) {
      o += 1;
      break;
    }
    if (len > MAX_LABEL_LENGTH || o + 1 + len > msg.length || o + 1 + len - HEADER_LENGTH >= MAX_NAME_LENGTH) {
      nameOk = false;
      break;
    }
    labelOffsets.push(o);
    o += len + 1;
  }
  const questionEnd = o + 4;
  const questionOk = nameOk && questionEnd <= msg.length;
  if (opcode !== OPCODE.QUERY) {
    // RFC 6891 §7: a query that carried OPT gets OPT back, NOTIMP included.
    const extra = questionOk ? readSections(msg, questionEnd) : null;
    return { kind: 'error', rcode: RCODE.NOTIMP, id, flags, questionEnd: questionOk ? questionEnd : HEADER_LENGTH, edns: extra?.edns };
  }
  if (!questionOk) return { kind: 'error', rcode: RCODE.FORMERR, id, flags, questionEnd: HEADER_LENGTH };
  const key = wireKey(msg, HEADER_LENGTH, o);
  const qtype = readU16(msg, o);
  const qclass = readU16(msg, o + 2);
  const formerr: ParseResult = { kind: 'error', rcode: RCODE.FORMERR, id, flags, questionEnd };
  // Meta-types that only live in the additional section never appear as a question type.
  if (qtype === TYPE.OPT || qtype === TYPE.TSIG) return formerr;

  const extra = readSections(msg, questionEnd);
  if (!extra) return formerr;
  const { edns, tsig } = extra;
  return {
    kind: 'query',
    query: { id, flags, opcode, questionEnd, key, labelOffsets, qtype, qclass, edns, tsig },
  };
}

// The authoritative answer: query bytes in, response bytes out (or null = drop). Pure apart from
// the clock TSIG needs, shared by UDP and TCP, and testable without sockets.
//
// Responses are assembled from pre-encoded pieces: header, the question copied byte for byte (so
// its case is preserved, RFC 1034 §3.1 / RFC 4343 §4.1), the RRset's ready answer-section bytes
// whose owners point at the question name, the SOA for negative answers with its owner pointing at
// the apex suffix of the question name, then OPT and TSIG.
import { parseQuery, type Edns, type Query } from './query.js';
import { COOKIE_OPTION } from './cookies.js';
import { ZONEMD_TYPE } from './zonemd.js';
import { zonemd, zonemdIfReady } from './transfer-contents.js';
import { transferAcl } from './acl.js';
import type { CookieSecret } from './cookies.js';
import type { RrlVerdict } from './rrl.js';
import type { DenialLimiter } from './denial-limiter.js';
import { TSIG_ERROR, signResponse, unsignedError, verifyRequest } from './tsig.js';
import { NODE_HEADER, findRRset, lookupNode, type NameNode, type SnapshotSet, type ZoneSnapshot } from './zone-snapshot.js';
import { dnssecParts } from './dnssec/signed-answer.js';
import { DNSSEC_TYPE } from './dnssec/dnskey.js';
import { CLASS, FLAG, HEADER_LENGTH, RCODE, TYPE } from '../protocol/dns-wire.js';

export type Transport = 'udp' | 'tcp';

export interface AnswerContext {
  transport: Transport;
  /** Peer address (used by transfer ACLs and logs). */
  remote?: string;
  /** Clock for TSIG and cookies, in seconds; defaults to the system clock. */
  nowSeconds?: number;
  /** Response-rate limiting (UDP only; a stream cannot be spoofed): rrl.ts or shared-rrl.ts. */
  rrl?: { check(remote: string, identity: string, nowMs: number): RrlVerdict };
  /**
   * Admission of fresh denial signatures (UDP only): over its budgets a signed denial that is not
   * cached is answered TC=1, to be asked again over TCP.
   */
  denials?: DenialLimiter;
  /** Server cookies (RFC 7873, RFC 9018); without it COOKIE options are ignored. */
  cookies?: CookieSecret;
  /**
   * Called with work the answer needs that is not done yet (the zone digest for ZONEMD); answer()
   * then returns null and the caller asks again once the work has settled. Without it, such a
   * query gets SERVFAIL.
   */
  defer?: (work: Promise<unknown>) => void;
  /**
   * On a worker thread (dns-workers.ts): called instead of answering a query that needs what only
   * the loading thread keeps (the zone digest and signed transfer build for ZONEMD; TSIG, whose
   * verification is kept in one place with the transfers); answer() then returns null and the
   * caller passes the query on.
   */
  handOff?: () => void;
}

/** RFC 6891 §6.2.5 floor and the DNS Flag Day 2020 recommended ceiling for UDP answers. */
export const MIN_UDP_PAYLOAD = 512;
export const MAX_UDP_PAYLOAD = 1232;
const TCP_MAX = 65535;
const OPT_LENGTH = 11;

export interface ZoneMatch {
  zone: ZoneSnapshot;
  /** Index into labelOffsets where the apex starts (labelOffsets.length = the root). */
  apexLabel: number;
}

/** Longest zone that contains the query name. */
export function findZone(set: SnapshotSet, q: Query): ZoneMatch | null {
  const offsets = q.labelOffsets;
  const key = q.key;
  if (set.zones.size <= 16) {
    // Few zones (the usual case): suffix comparisons beat building and hashing every suffix.
    let best: ZoneMatch | null = null;
    for (const zone of set.zones.values()) {
      const apexKey = zone.apexKey;
      if (apexKey.length > key.length || (best && best.zone.apexKey.length >= apexKey.length) || !key.endsWith(apexKey)) continue;
      const start = key.length - apexKey.length;
      // The suffix must begin at a label boundary of the question name.
      const label = start === 0 ? 0 : offsets.indexOf(start + HEADER_LENGTH);
      if (label >= 0) best = { zone, apexLabel: label };
    }
    return best;
  }
  let keyPos = 0;
  for (let i = 0; i <= offsets.length; i++) {
    const zone = set.zones.get(i === 0 ? key : key.slice(keyPos));
    if (zone) return { zone, apexLabel: i };
    if (i < offsets.length) keyPos += key.charCodeAt(keyPos) + 1;
  }
  return null;
}

function udpLimit(q: Query): number {
  if (!q.edns) return MIN_UDP_PAYLOAD;
  return Math.min(Math.max(q.edns.payload, MIN_UDP_PAYLOAD), MAX_UDP_PAYLOAD);
}

interface Sections {
  rcode: number;
  aa: boolean;
  /** Answer records: `count` of them in bytes[start, end). */
  answer?: { bytes: Uint8Array; start: number; end: number; count: number };
  /** Additional-section records, owners already pointing into the question. */
  additional?: { wire: Buffer; count: number };
  /** Offset of the apex name inside the question, for the SOA owner pointer. */
  soaOwner?: number;
  /** The name's node in a NODATA answer (its types make the DNSSEC denial). */
  node?: NameNode;
  /** RRSIG records following the answer records (DO set, signed zone). */
  answerSigs?: { wire: Buffer; count: number };
  /** The authority section spelled out (signed denial), in place of the bare SOA. */
  authority?: { wire: Buffer; count: number };
  zone?: ZoneSnapshot;
  /** COOKIE option data for the reply: client cookie then our server cookie (RFC 7873 §5.2). */
  cookie?: Buffer;
  /** The answer waits for work handed to AnswerContext.defer. */
  deferred?: boolean;
}

const optLengthFor = (cookie: Buffer | undefined) => OPT_LENGTH + (cookie ? 4 + cookie.length : 0);

function writeOpt(out: Buffer, o: number, edns: Edns, extendedRcode: number, cookie?: Buffer): void {
  out[o] = 0; // root owner
  out.writeUInt16BE(TYPE.OPT, o + 1);
  out.writeUInt16BE(MAX_UDP_PAYLOAD, o + 3);
  out[o + 5] = extendedRcode;
  out[o + 6] = 0; // version 0
  out[o + 7] = edns.dnssecOk ? 0x80 : 0;
  out[o + 8] = 0;
  if (!cookie) {
    out.writeUInt16BE(0, o + 9);
    return;
  }
  out.writeUInt16BE(4 + cookie.length, o + 9);
  out.writeUInt16BE(COOKIE_OPTION, o + 11);
  out.writeUInt16BE(cookie.length, o + 13);
  out.set(cookie, o + 15);
}

/** Header + question + sections + OPT; falls back to TC with no records when over `limit`. */
function assemble(msg: Uint8Array, q: Query, s: Sections, limit: number): Buffer {
  const questionLength = q.questionEnd - HEADER_LENGTH;
  const answerLength = s.answer ? s.answer.end - s.answer.start : 0;
  const answerSigsLength = s.answerSigs ? s.answerSigs.wire.length : 0;
  const authorityLength = s.authority ? s.authority.wire.length : s.soaOwner !== undefined ? 2 + s.zone!.negativeSoa.length : 0;
  const authorityCount = s.authority ? s.authority.count : s.soaOwner !== undefined ? 1 : 0;
  const optLength = q.edns ? optLengthFor(s.cookie) : 0;
  const additionalLength = s.additional ? s.additional.wire.length : 0;
  let size = HEADER_LENGTH + questionLength + answerLength + answerSigsLength + authorityLength + additionalLength + optLength;
  // RFC 2181 §9 / RFC 7929 §2.5: when the records do not fit, send none and set TC.
  const truncated = size > limit;
  if (truncated) size = HEADER_LENGTH + questionLength + optLength;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt16BE(q.id, 0);
  const rcode = s.rcode & 0xf;
  let flags = FLAG.QR | (q.flags & (FLAG.RD | FLAG.CD)) | rcode;
  if (s.aa) flags |= FLAG.AA;
  if (truncated) flags |= FLAG.TC;
  out.writeUInt16BE(flags, 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(truncated || !s.answer ? 0 : s.answer.count + (s.answerSigs?.count ?? 0), 6);
  out.writeUInt16BE(truncated ? 0 : authorityCount, 8);
  out.writeUInt16BE((q.edns ? 1 : 0) + (truncated || !s.additional ? 0 : s.additional.count), 10);
  // Byte loop: for a ~70-octet question it is cheaper than creating a view to copy from.
  for (let i = HEADER_LENGTH; i < q.questionEnd; i++) out[i] = msg[i];
  let o = q.questionEnd;
  if (!truncated) {
    if (s.answer) {
      out.set(s.answer.bytes.subarray(s.answer.start, s.answer.end), o);
      o += answerLength;
      if (s.answerSigs) {
        out.set(s.answerSigs.wire, o);
        o += answerSigsLength;
      }
    }
    if (s.authority) {
      out.set(s.authority.wire, o);
      o += authorityLength;
    } else if (s.soaOwner !== undefined) {
      out[o] = 0xc0 | (s.soaOwner >> 8);
      out[o + 1] = s.soaOwner & 0xff;
      out.set(s.zone!.negativeSoa, o + 2);
      o += authorityLength;
    }
    if (s.additional) {
      out.set(s.additional.wire, o);
      o += additionalLength;
    }
  }
  if (q.edns) writeOpt(out, o, q.edns, s.rcode >> 4, s.cookie);
  return out;
}

/** RFC 8914 §2: the Extended DNS Error option, with no extra text. */
const EDE_OPTION = 15;
/** RFC 8914 §5.2 / RFC 9824 §5: "Invalid Query Type". */
export const EDE_INVALID_QUERY_TYPE = 30;

/**
 * A header-only reply (FORMERR, NOTIMP) echoing whatever question was readable, and OPT if known,
 * carrying an extended DNS error when `ede` is given.
 */
export function errorResponse(msg: Uint8Array, id: number, flags: number, rcode: number, questionEnd: number, edns?: Edns | null, ede?: number): Buffer {
  const option = edns && ede !== undefined ? Buffer.from([0, EDE_OPTION, 0, 2, ede >> 8, ede & 0xff]) : undefined;
  const out = Buffer.alloc(questionEnd + (edns ? OPT_LENGTH : 0) + (option?.length ?? 0));
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(FLAG.QR | (flags & 0x7800) | (flags & (FLAG.RD | FLAG.CD)) | rcode, 2);
  out.writeUInt16BE(questionEnd > HEADER_LENGTH ? 1 : 0, 4);
  out.writeUInt16BE(edns ? 1 : 0, 10);
  out.set(msg.subarray(HEADER_LENGTH, questionEnd), HEADER_LENGTH);
  if (edns) writeOpt(out, questionEnd, edns, 0);
  if (option) {
    out.writeUInt16BE(option.length, questionEnd + 9);
    option.copy(out, questionEnd + OPT_LENGTH);
  }
  return out;
}

/** Decides what the authoritative data says for a parsed query (no size or TSIG concerns). */
export function resolve(set: SnapshotSet, q: Query, ctx?: AnswerContext): Sections & { match?: ZoneMatch } {
  if (q.edns && q.edns.version !== 0) return { rcode: RCODE.BADVERS, aa: false };
  if (q.qclass !== CLASS.IN && q.qclass !== CLASS.ANY) return { rcode: RCODE.REFUSED, aa: false };
  const match = findZone(set, q);
  if (!match) return { rcode: RCODE.REFUSED, aa: false };
  const zone = match.zone;
  // Zone transfers go over TCP through transfer.ts. Over UDP, an IXFR from a secondary gets the
  // current SOA alone, which tells it to transfer over TCP if it is behind (RFC 1995 §2).
  if (q.qtype === TYPE.IXFR && ctx?.transport === 'udp' && match.apexLabel === 0) {
    const acl = transferAcl(zone, ctx.remote);
    if (acl.allowed && (!acl.tsigKey || q.tsig?.keyKey === acl.tsigKey)) {
      const soa = { bytes: zone.soa.wire, start: 0, end: zone.soa.wire.length, count: zone.soa.count };
      return { rcode: RCODE.NOERROR, aa: true, answer: soa, zone, match };
    }
    return { rcode: acl.allowed ? RCODE.NOTAUTH : RCODE.REFUSED, aa: false, match };
  }
  if (q.qtype === TYPE.AXFR || q.qtype === TYPE.IXFR) return { rcode: RCODE.REFUSED, aa: false, match };
  const apexOffset = match.apexLabel < q.labelOffsets.length ? q.labelOffsets[match.apexLabel] : q.questionEnd - 5;
  const rel = match.apexLabel === 0 ? '' : q.key.slice(0, q.key.length - zone.apexKey.length);
  // RFC 8976 §2: the apex ZONEMD is zone data like any other. Its digest covers the whole zone, so
  // it is made once per snapshot, off the query path, when first asked for (or transferred).
  if (q.qtype === ZONEMD_TYPE && rel === '') {
    const digest = zonemdIfReady(zone);
    if (digest) return { rcode: RCODE.NOERROR, aa: true, answer: { bytes: digest.wire, start: 0, end: digest.wire.length, count: digest.count }, zone, match };
    if (ctx?.defer) {
      ctx.defer(zonemd(zone));
      return { rcode: RCODE.NOERROR, aa: true, zone, match, deferred: true };
    }
    return { rcode: RCODE.SERVFAIL, aa: false, zone, match };
  }
  const node = lookupNode(zone, rel);
  if (!node) return { rcode: RCODE.NXDOMAIN, aa: true, soaOwner: apexOffset, zone, match };
  // RFC 8482 §4.1: ANY is answered with one of the RRsets at the name.
  const at = q.qtype === TYPE.ANY ? (node.length ? 0 : -1) : findRRset(node, q.qtype);
  if (at < 0) return { rcode: RCODE.NOERROR, aa: true, soaOwner: apexOffset, node, zone, match };
  const start = at + NODE_HEADER;
  const answer = { bytes: node, start, end: start + node.readUInt32BE(at + 8), count: node.readUInt16BE(at + 2) };
  // RFC 1034 §4.3.2 step 6: the addresses of in-zone name servers go along with an NS answer.
  // Only at the apex (rel ''), where the question name at offset 12 is what glue owners point at.
  const additional = q.qtype === TYPE.NS && rel === '' && zone.glue ? zone.glue : undefined;
  return { rcode: RCODE.NOERROR, aa: true, answer, additional, zone, match };
}

export function answer(set: SnapshotSet, msg: Uint8Array, ctx: AnswerContext): Uint8Array | null {
  const parsed = parseQuery(msg);
  if (parsed.kind === 'drop') return null;
  if (parsed.kind === 'error') return errorResponse(msg, parsed.id, parsed.flags, parsed.rcode, parsed.questionEnd, parsed.edns);
  const q = parsed.query;
  let limit = ctx.transport === 'udp' ? udpLimit(q) : TCP_MAX;
  const cookie = q.edns?.cookie;
  // RFC 7873 §5.2.2: a COOKIE option of a length no cookie can have is a format error.
  if (cookie === 'malformed') return errorResponse(msg, q.id, q.flags, RCODE.FORMERR, q.questionEnd, q.edns);
  // RFC 9824 §5: NXNAME only marks denials; asking for it is a format error.
  if (q.qtype === DNSSEC_TYPE.NXNAME) return errorResponse(msg, q.id, q.flags, RCODE.FORMERR, q.questionEnd, q.edns, EDE_INVALID_QUERY_TYPE);
  if (ctx.handOff && (q.tsig || q.qtype === ZONEMD_TYPE)) {
    ctx.handOff();
    return null;
  }
  let result: Sections & { match?: ZoneMatch } = resolve(set, q, ctx);
  if (result.deferred) return null;
  let provenClient = false;
  if (cookie && ctx.cookies && ctx.remote) {
    const now = ctx.nowSeconds ?? Math.floor(Date.now() / 1000);
    // RFC 7873 §5.2.3: a stale or foreign server cookie is answered as if only the client cookie
    // had come; either way the reply carries a fresh server cookie (RFC 9018 §4.3).
    provenClient = ctx.cookies.valid(cookie, ctx.remote, now);
    const server = ctx.cookies.serverCookie(cookie.client, ctx.remote, now);
    if (server) result.cookie = Buffer.concat([cookie.client, server]);
  }
  // A client that returned our cookie has shown its address is its own, so it is not limited.
  if (ctx.rrl && ctx.remote && !provenClient) {
    const verdict = ctx.rrl.check(ctx.remote, rrlIdentity(q, result), Date.now());
    if (verdict === 'drop') return null;
    if (verdict === 'slip') {
      // A client that speaks cookies gets BADCOOKIE with a server cookie to retry with over UDP
      // (RFC 7873 §5.2.3, as BIND slips); any other gets TC=1 and no records, to retry on TCP.
      if (result.cookie) result = { rcode: RCODE.BADCOOKIE, aa: false, cookie: result.cookie };
      else limit = HEADER_LENGTH;
    }
  }
  // RFC 4035 §3.1: DO asks for the DNSSEC records. Not for a reply about to be cut to TC anyway.
  if (q.edns?.dnssecOk && result.zone?.signer && result.aa && limit > HEADER_LENGTH) {
    const { denials, remote } = ctx;
    const admit = denials && remote ? () => denials.admit(remote, Date.now()) : undefined;
    const parts = dnssecParts(result.zone, q, result, ctx.nowSeconds ?? Math.floor(Date.now() / 1000), admit);
    // Refused: TC=1 and no records (RFC 2181 §9), so the resolver asks again over TCP; NOERROR
    // as the signed denial itself would be (RFC 9824 §3).
    if (parts && 'refused' in parts) {
      limit = HEADER_LENGTH;
      result.rcode = RCODE.NOERROR;
    } else if (parts) {
      // Set in place: resolve() made `result` for this query alone, and a spread copy of it is
      // a slow-mode object that made every later property read in assemble() a dictionary lookup.
      result.rcode = parts.rcode;
      if (parts.answerSigs) result.answerSigs = parts.answerSigs;
      if (parts.authority) result.authority = parts.authority;
    }
  }
  if (!q.tsig) return assemble(msg, q, result, limit);
  return signed(msg, q, result, limit, ctx, result.match?.zone);
}

/**
 * What responses are counted together for rate limiting: positive answers per name and type,
 * NODATA per name, NXDOMAIN per zone (a flood of random names is one stream), errors per rcode.
 */
function rrlIdentity(q: Query, s: Sections): string {
  if (s.rcode === RCODE.NOERROR) return s.answer ? `${q.qtype}${q.key}` : `n${q.key}`;
  if (s.rcode === RCODE.NXDOMAIN) return `x${s.zone?.apexKey ?? ''}`;
  return `e${s.rcode}`;
}

/** RFC 8945 §5.2-5.3: verify the request's TSIG, then sign the answer (or report the failure). */
function signed(msg: Uint8Array, q: Query, s: Sections, limit: number, ctx: AnswerContext, zone: ZoneSnapshot | undefined): Buffer {
  const tsig = q.tsig!;
  const now = ctx.nowSeconds ?? Math.floor(Date.now() / 1000);
  const secret = zone?.tsigKeys.get(tsig.keyKey);
  const verdict = verifyRequest(msg, tsig, secret, now);
  if (!verdict.ok && verdict.error !== TSIG_ERROR.BADTIME) {
    const reply = assemble(msg, q, { rcode: RCODE.NOTAUTH, aa: false }, limit);
    return unsignedError(reply, tsig, verdict.error, now);
  }
  const keyOpts = { keyWire: tsig.keyWire, secret: secret!, nowSeconds: now, fudge: tsig.fudge };
  if (!verdict.ok) {
    const reply = assemble(msg, q, { rcode: RCODE.NOTAUTH, aa: false }, limit);
    return signResponse(reply, tsig.mac, keyOpts, TSIG_ERROR.BADTIME).message;
  }
  // Leave room for our own TSIG RR: owner + 10 + algorithm + 16 + MAC(32).
  const tsigRoom = tsig.keyWire.length + 10 + 13 + 16 + 32;
  return signResponse(assemble(msg, q, s, Math.max(limit - tsigRoom, HEADER_LENGTH)), tsig.mac, keyOpts).message;
}

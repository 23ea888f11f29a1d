// The DNSSEC part of an answer to a query with DO set (RFC 4035 §3.1): the RRSIGs of the answer
// RRset, and for a negative answer the authority section of compact denial (RFC 9824 §3): the
// SOA, its RRSIG, one NSEC at the query name and its RRSIG. A name that does not exist is
// answered NOERROR, as RFC 9824 §3 has it (NXDOMAIN only for clients that signal CO, which
// keypost does not read yet).
//
// Records are written in answer-section form: the RRSIGs of the answer and the NSEC point at the
// question name (offset 12); the SOA and its RRSIG point at the apex inside the question.
import type { Query } from '../query.js';
import { nodeRRsets, rrsetRdatas, type NameNode, type ZoneSnapshot } from '../zone-snapshot.js';
import { CLASS, HEADER_LENGTH, RCODE } from '../../protocol/dns-wire.js';
import { DNSSEC_TYPE } from './dnskey.js';
import { NXNAME_TYPES, existingTypes, nsecRdata } from './compact-denial.js';
import { ZONEMD_TYPE } from '../zonemd.js';
import type { DenialRefusal } from '../denial-limiter.js';

/** An answer as resolve() found it, before DNSSEC. */
export interface FoundAnswer {
  rcode: number;
  /** Answer records (`C0 0C type class ttl rdlength rdata` each) in bytes[start, end). */
  answer?: { bytes: Uint8Array; start: number; end: number };
  /** Offset of the apex inside the question; set for negative answers. */
  soaOwner?: number;
  /** The name's node, for NODATA (its types make the NSEC bitmap). */
  node?: NameNode;
}

export interface SignedParts {
  rcode: number;
  /** RRSIG records to follow the answer records. */
  answerSigs?: { wire: Buffer; count: number };
  /** The whole authority section, in place of the bare SOA. */
  authority?: { wire: Buffer; count: number };
}

const QUESTION_POINTER = 0xc000 | HEADER_LENGTH;

/** One record: a compression pointer as owner, then type, class, TTL, RDLENGTH and RDATA. */
function record(pointer: number, type: number, ttl: number, rdata: Buffer): Buffer {
  const out = Buffer.allocUnsafe(12 + rdata.length);
  out.writeUInt16BE(pointer, 0);
  out.writeUInt16BE(type, 2);
  out.writeUInt16BE(CLASS.IN, 4);
  out.writeUInt32BE(ttl >>> 0, 6);
  out.writeUInt16BE(rdata.length, 10);
  rdata.copy(out, 12);
  return out;
}

/** The RDATAs of answer-form records in bytes[start, end). */
function recordRdatas(bytes: Uint8Array, start: number, end: number): Buffer[] {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return rrsetRdatas({ type: 0, ttl: 0, count: 0, wire: view.subarray(start, end) });
}

/** A denial that was not cached and that the admission budget refused to sign now. */
export interface RefusedDenial {
  refused: DenialRefusal;
}

/**
 * `admit` is asked before a denial not cached yet is signed (UDP, denial-limiter.ts); when it
 * refuses, the answer is `{ refused }` and the caller sends TC=1 instead.
 */
export function dnssecParts(zone: ZoneSnapshot, q: Query, found: FoundAnswer, now: number, admit?: () => DenialRefusal | undefined): SignedParts | RefusedDenial | null {
  const signer = zone.signer;
  if (!signer) return null;
  const owner = Buffer.from(q.key, 'latin1');
  if (found.rcode === RCODE.NOERROR && found.answer) {
    const { bytes, start, end } = found.answer;
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const type = view.readUInt16BE(start + 2);
    const ttl = view.readUInt32BE(start + 6);
    const answerSigs = signer.rrsetSignatureRecords(bytes, owner, type, ttl, () => recordRdatas(bytes, start, end), now);
    return { rcode: RCODE.NOERROR, answerSigs };
  }
  if (found.soaOwner === undefined || (found.rcode !== RCODE.NOERROR && found.rcode !== RCODE.NXDOMAIN)) return null;
  const negativeTtl = zone.policy.negativeTtl;
  let types: readonly number[] = NXNAME_TYPES;
  if (found.rcode === RCODE.NOERROR) {
    const present = nodeRRsets(found.node ?? Buffer.alloc(0)).map((set) => set.type);
    // The apex ZONEMD is made on demand (zonemd.ts) but exists all the same (RFC 8976 §2).
    if (q.key === zone.apexKey) present.push(ZONEMD_TYPE);
    types = existingTypes(present);
  }
  let refusal: DenialRefusal | undefined;
  const denial = signer.denialSignatures(owner, negativeTtl, nsecRdata(owner, types), now, admit && (() => (refusal = admit()) === undefined));
  if (!denial) return { refused: refusal! };
  const soa = zone.soa;
  const apexNode = zone.fixed.get('')!;
  const soaSigs = signer.rrsetSignatures(apexNode, Buffer.from(zone.apexKey, 'latin1'), soa.type, soa.ttl, () => rrsetRdatas(soa), now);
  const apexPointer = 0xc000 | found.soaOwner;
  const soaRecord = Buffer.concat([Buffer.from([apexPointer >> 8, apexPointer & 0xff]), zone.negativeSoa]);
  const parts = [
    soaRecord,
    ...soaSigs.map((s) => record(apexPointer, DNSSEC_TYPE.RRSIG, negativeTtl, s)),
    record(QUESTION_POINTER, DNSSEC_TYPE.NSEC, negativeTtl, denial.nsec),
    ...denial.rrsigs.map((s) => record(QUESTION_POINTER, DNSSEC_TYPE.RRSIG, negativeTtl, s)),
  ];
  return { rcode: RCODE.NOERROR, authority: { wire: Buffer.concat(parts), count: parts.length } };
}

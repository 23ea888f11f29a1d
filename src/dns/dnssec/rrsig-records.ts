// RRSIG records in the form a positive answer with DO appends them (signed-answer.ts): owner a
// compression pointer to the question name (offset 12, RFC 1035 §4.1.4), class IN, TTL the
// original TTL (RFC 4035 §3.1.3 lets the answer's TTL stand), then RDLENGTH and RDATA. Signers
// keep their signatures in this form, in their own arena (zone-signer.ts) or in the store shared
// with worker threads (shared-signatures.ts), so an answer copies them as they are.
import { CLASS, HEADER_LENGTH } from '../../protocol/dns-wire.js';
import { DNSSEC_TYPE } from './dnskey.js';

const RR_FIXED = 12; // owner pointer(2) type(2) class(2) ttl(4) rdlength(2)
const QUESTION_POINTER = 0xc000 | HEADER_LENGTH;

/** Bytes the records of `rdatas` take. */
export function rrsigRecordsLength(rdatas: readonly Buffer[]): number {
  return rdatas.reduce((n, r) => n + RR_FIXED + r.length, 0);
}

/** Writes the records of `rdatas` with `ttl` into `out` from its start. */
export function writeRrsigRecords(out: Buffer, rdatas: readonly Buffer[], ttl: number): void {
  let o = 0;
  for (const r of rdatas) {
    out.writeUInt16BE(QUESTION_POINTER, o);
    out.writeUInt16BE(DNSSEC_TYPE.RRSIG, o + 2);
    out.writeUInt16BE(CLASS.IN, o + 4);
    out.writeUInt32BE(ttl >>> 0, o + 6);
    out.writeUInt16BE(r.length, o + 10);
    r.copy(out, o + RR_FIXED);
    o += RR_FIXED + r.length;
  }
}

/** The RDATAs of records written by writeRrsigRecords: views into `records`. */
export function rrsigRecordRdatas(records: Buffer): Buffer[] {
  const rdatas: Buffer[] = [];
  for (let o = 0; o < records.length; ) {
    const length = records.readUInt16BE(o + 10);
    rdatas.push(records.subarray(o + RR_FIXED, o + RR_FIXED + length));
    o += RR_FIXED + length;
  }
  return rdatas;
}

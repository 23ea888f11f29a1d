// DNSKEY, DS, CDS and CDNSKEY RDATA and the key tag (RFC 4034 §2, §5, Appendix B; RFC 7344).
import { createHash } from 'node:crypto';

export const DNSSEC_TYPE = {
  DS: 43,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  CDS: 59,
  CDNSKEY: 60,
  /** RFC 9824 §2: marks a compact-denial NSEC as proving that the name does not exist. */
  NXNAME: 128,
} as const;

/**
 * Apex records left out of an unsigned zone transfer (and so of its ZONEMD and of `keypost dns
 * records`): where no signer runs, keys without signatures would make the zone bogus at a
 * secondary. A signed transfer (signed-transfer.ts) carries them with their RRSIGs.
 */
export const UNTRANSFERRED_TYPES: ReadonlySet<number> = new Set([DNSSEC_TYPE.DNSKEY, DNSSEC_TYPE.CDS, DNSSEC_TYPE.CDNSKEY]);

/** RFC 4034 §2.1.1: bit 7 zone key; bit 15 secure entry point (KSK or combined signing key). */
export const CSK_FLAGS = 257;
const PROTOCOL = 3;
/** RFC 4509: SHA-256, the digest type registrars take (RFC 8624 §3.3: MUST implement). */
export const DS_DIGEST_SHA256 = 2;

export function dnskeyRdata(flags: number, algorithm: number, publicKey: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(flags, 0);
  head[2] = PROTOCOL;
  head[3] = algorithm;
  return Buffer.concat([head, publicKey]);
}

/** RFC 4034 Appendix B: the sum of the RDATA as 16-bit words, carries folded back once. */
export function keyTag(rdata: Buffer): number {
  let ac = 0;
  for (let i = 0; i < rdata.length; i++) ac += i & 1 ? rdata[i] : rdata[i] << 8;
  ac += (ac >> 16) & 0xffff;
  return ac & 0xffff;
}

/** RFC 4034 §5.1.4: digest = SHA-256(owner in canonical wire form ‖ DNSKEY RDATA). */
export function dsRdata(ownerWire: Buffer, dnskey: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(keyTag(dnskey), 0);
  head[2] = dnskey[3];
  head[3] = DS_DIGEST_SHA256;
  const digest = createHash('sha256').update(ownerWire).update(dnskey).digest();
  return Buffer.concat([head, digest]);
}

// NSEC3 (RFC 5155) for zone transfers: a secondary cannot sign denials online, so the transferred
// zone carries a complete hashed chain it can serve as it is. Parameters as RFC 9276 §3.1 asks:
// SHA-1, no opt-out, 0 extra iterations and an empty salt (more of either buys nothing against
// walking and costs every validator). keypost itself keeps answering with compact denial.
import { createHash } from 'node:crypto';
import { base32hex } from '../../protocol/base32.js';
import { typeBitmap } from './type-bitmap.js';

export const NSEC3_TYPE = 50;
export const NSEC3PARAM_TYPE = 51;
const HASH_SHA1 = 1;
const ITERATIONS = 0;

/** NSEC3PARAM RDATA (RFC 5155 §4.2): algorithm, flags 0, iterations, salt length 0. */
export const NSEC3PARAM_RDATA = Buffer.from([HASH_SHA1, 0, ITERATIONS >> 8, ITERATIONS & 0xff, 0]);

/** RFC 5155 §5: IH(salt, x, 0) = H(x ‖ salt) over the owner in canonical (lowercase) wire form. */
export function nsec3Hash(ownerWire: Buffer): Buffer {
  return createHash('sha1').update(ownerWire).digest();
}

/** One name of the zone as the chain sees it: its owner in wire form and the types it holds. */
export interface ChainName {
  ownerWire: Buffer;
  /** Types present, RRSIG included when the name has signed RRsets; empty for an empty non-terminal. */
  types: readonly number[];
}

export interface Nsec3Record {
  /** The hashed owner label (32 base32hex characters), to sit directly below the apex. */
  label: string;
  rdata: Buffer;
}

/**
 * The chain over every name of the zone (empty non-terminals included, RFC 5155 §7.1), in hash
 * order, each record pointing at the next hash and the last back at the first.
 */
export function nsec3Chain(names: Iterable<ChainName>): Nsec3Record[] {
  const hashed = [...names].map((name) => ({ hash: nsec3Hash(name.ownerWire), types: name.types }));
  hashed.sort((a, b) => Buffer.compare(a.hash, b.hash));
  return hashed.map(({ hash, types }, i) => {
    const next = hashed[(i + 1) % hashed.length].hash;
    const head = Buffer.from([HASH_SHA1, 0, ITERATIONS >> 8, ITERATIONS & 0xff, 0, next.length]);
    return { label: base32hex(hash), rdata: Buffer.concat([head, next, typeBitmap(types)]) };
  });
}

// Compact denial of existence (RFC 9824): one NSEC owned by the query name, signed online, whose
// next name is the name's immediate successor in canonical order (RFC 4034 §6.1), so that it
// denies nothing but the name itself; a wider span could deny names that exist, and would let
// anyone walk the zone (RFC 4470 §3 warns of both).
//   - The name does not exist: NOERROR, bitmap {RRSIG, NSEC, NXNAME} (RFC 9824 §3).
//   - It exists without the type asked (NODATA, also an empty non-terminal): the bitmap of the
//     types that are there, plus RRSIG and NSEC (RFC 9824 §3.1).
import { MAX_NAME_LENGTH } from '../../protocol/dns-wire.js';
import { DNSSEC_TYPE } from './dnskey.js';
import { typeBitmap } from './type-bitmap.js';

/**
 * The immediate successor of `owner` (lowercased wire): `\000.<owner>` (RFC 4471 §3.1.1). When
 * that is too long, the next name of the same length class (RFC 4471 §3.1.2): a zero octet added
 * to the leftmost label, or at 255 octets the leftmost label's last octet raised by one; no name
 * can exist in between, since it would be longer than 255 octets or a child of a missing name.
 */
export function immediateSuccessor(owner: Buffer): Buffer {
  if (owner.length + 2 <= MAX_NAME_LENGTH) return Buffer.concat([Buffer.from([1, 0]), owner]);
  const length = owner[0];
  if (owner.length < MAX_NAME_LENGTH && length < 63) {
    return Buffer.concat([Buffer.from([length + 1]), owner.subarray(1, 1 + length), Buffer.from([0]), owner.subarray(1 + length)]);
  }
  const label = [...owner.subarray(1, 1 + length)];
  while (label.length && label[label.length - 1] === 0xff) label.pop();
  if (!label.length) return owner; // a label of only 0xff octets has no successor of its kind
  let next = label[label.length - 1] + 1;
  // Canonical order compares lowercased octets, so 'A'-'Z' would sort as 'a'-'z': step past them.
  if (next >= 0x41 && next <= 0x5a) next = 0x5b;
  label[label.length - 1] = next;
  return Buffer.concat([Buffer.from([label.length, ...label]), owner.subarray(1 + length)]);
}

/** NSEC RDATA (RFC 4034 §4.1): next domain name, then the type bitmap. */
export function nsecRdata(owner: Buffer, types: Iterable<number>): Buffer {
  return Buffer.concat([immediateSuccessor(owner), typeBitmap(types)]);
}

export const NXNAME_TYPES: readonly number[] = [DNSSEC_TYPE.RRSIG, DNSSEC_TYPE.NSEC, DNSSEC_TYPE.NXNAME];

/** The bitmap of a name that exists: its types plus the RRSIG and NSEC that come with them. */
export function existingTypes(types: Iterable<number>): number[] {
  return [...new Set([...types, DNSSEC_TYPE.RRSIG, DNSSEC_TYPE.NSEC])];
}

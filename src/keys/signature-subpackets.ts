// Unhashed signature subpackets (RFC 9580 §5.2.3) are not covered by the signature, so anyone can
// add anything there (the SKS flooding and "poisoned notation" tricks used this). The directory
// drops them, except the three that authenticate themselves and that implementations need to
// check the signature at all:
//   16 Issuer Key ID and 33 Issuer Fingerprint - GnuPG 2.2 writes 33 hashed and 16 unhashed, and
//      older tools write only an unhashed 16; without an issuer a verifier cannot find the key.
//      A forged issuer just makes the signature fail, so keeping it is safe.
//   32 Embedded Signature - GnuPG puts a signing subkey's back-signature (0x19, RFC 9580
//      §5.2.1.9) here; it is a signature by the subkey itself, and without it GnuPG refuses the
//      subkey for signing.
// Each is kept only when the hashed area does not already carry the same type.
import type { SignaturePacket } from 'openpgp';

const SELF_AUTHENTICATING = new Set([16, 32, 33]);

/** Types of the subpackets in the hashed area, read from the packet's own hashed bytes. */
export function hashedSubpacketTypes(sig: SignaturePacket): Set<number> {
  const types = new Set<number>();
  const data = sig.signatureData;
  if (!data) return types;
  // Version, type, public-key algorithm, hash algorithm, then a 2-octet (v4) or 4-octet (v6) count.
  const countOctets = sig.version === 6 ? 4 : 2;
  let pos = 4 + countOctets;
  while (pos < data.length) {
    const first = data[pos];
    let length: number;
    if (first < 192) {
      length = first;
      pos += 1;
    } else if (first < 255) {
      length = ((first - 192) << 8) + data[pos + 1] + 192;
      pos += 2;
    } else {
      length = ((data[pos + 1] << 24) | (data[pos + 2] << 16) | (data[pos + 3] << 8) | data[pos + 4]) >>> 0;
      pos += 5;
    }
    if (length === 0 || pos + length > data.length) break;
    types.add(data[pos] & 0x7f);
    pos += length;
  }
  return types;
}

/** Drops every unhashed subpacket a verifier does not need (see the top of this file). */
export function stripUnhashedSubpackets(sig: SignaturePacket): void {
  if (sig.unhashedSubpackets.length === 0) return;
  const hashed = hashedSubpacketTypes(sig);
  const seen = new Set<number>();
  sig.unhashedSubpackets = sig.unhashedSubpackets.filter((sub) => {
    if (!SELF_AUTHENTICATING.has(sub.type) || hashed.has(sub.type) || seen.has(sub.type)) return false;
    seen.add(sub.type);
    return true;
  });
}

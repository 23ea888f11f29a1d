// Base-32 without padding, one encoder for the two alphabets keypost writes: z-base-32 (WKD and
// GnuPG PKA labels) and RFC 4648 §7 base32hex in lowercase (NSEC3 hashed owner names, RFC 5155 §3).
// Five bits per character, most significant first.

const ZBASE32 = Buffer.from('ybndrfg8ejkmcpqxot1uwisza345h769', 'latin1');
const BASE32HEX = Buffer.from('0123456789abcdefghijklmnopqrstuv', 'latin1');

function encode(bytes: Uint8Array, alphabet: Buffer): string {
  // Built as bytes, not by `+=`: a string grown one character at a time is a chain of cons
  // cells, and the lookup cache keeps one of these per published address.
  const out = Buffer.allocUnsafe(Math.ceil((bytes.length * 8) / 5));
  let length = 0;
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out[length++] = alphabet[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out[length++] = alphabet[(buffer << (5 - bits)) & 31];
  return out.toString('latin1', 0, length);
}

/** z-base-32 (the human-oriented base-32 of Zooko O'Whielacronx), as used by WKD and GnuPG PKA. */
export function zbase32(bytes: Uint8Array): string {
  return encode(bytes, ZBASE32);
}

/** RFC 4648 §7 base32hex, lowercase and unpadded, as NSEC3 owner labels spell hashes. */
export function base32hex(bytes: Uint8Array): string {
  return encode(bytes, BASE32HEX);
}

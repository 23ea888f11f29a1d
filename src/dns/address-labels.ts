// Owner-name labels derived from an address's local part (DESIGN.md "What DNS publishes").
// GnuPG lowercases ASCII only before hashing and leaves other octets alone, so we do the same
// rather than using a locale-aware toLowerCase().
import { createHash } from 'node:crypto';

function asciiLower(local: string): Buffer {
  const bytes = Buffer.from(local, 'utf8');
  for (let i = 0; i < bytes.length; i++) if (bytes[i] >= 0x41 && bytes[i] <= 0x5a) bytes[i] += 32;
  return bytes;
}

/** RFC 7929 §3: hex of SHA-256 truncated to 28 octets (56 hex digits), over the lowercased local part. */
export function openpgpkeyLabel(local: string): string {
  return createHash('sha256').update(asciiLower(local)).digest().subarray(0, 28).toString('hex');
}

const ZBASE32 = 'ybndrfg8ejkmcpqxot1uwisza345h769';

/** z-base-32 (the alphabet GnuPG uses for WKD and PKA), 5 bits per character, no padding. */
export function zbase32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ZBASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ZBASE32[(buffer << (5 - bits)) & 31];
  return out;
}

/** GnuPG's PKA / WKD label: z-base-32 of SHA-1 over the lowercased local part. */
export function pkaLabel(local: string): string {
  return zbase32(createHash('sha1').update(asciiLower(local)).digest());
}

// The hashed labels under which an address's local part is published, shared by the HTTP API (WKD,
// /v1/records), the DNS zone, the gateway's resolver and the sender client, so all of them always
// name an address the same way.
//
// GnuPG lowercases ASCII letters of the local part before hashing and leaves other bytes alone
// (RFC 7929 section 3 leaves case to the implementation), so that is what these do, over the UTF-8
// bytes of the local part.
import { createHash } from 'node:crypto';
import { asciiLowercase } from './ascii.js';

const ZBASE32_CODES = Buffer.from('ybndrfg8ejkmcpqxot1uwisza345h769', 'latin1');

/** z-base-32 (the human-oriented base-32 of Zooko O'Whielacronx), as used by WKD and GnuPG PKA. */
export function zbase32(bytes: Uint8Array): string {
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
      out[length++] = ZBASE32_CODES[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out[length++] = ZBASE32_CODES[(buffer << (5 - bits)) & 31];
  return out.toString('latin1', 0, length);
}

/**
 * RFC 7929 §3 owner label for OPENPGPKEY: SHA-256 of the local part truncated to 28 octets, as 56
 * lowercase hex characters (truncated SHA-256, not SHA-224). The `_openpgpkey` and `_keypost`
 * records use it.
 */
export function openpgpkeyLabel(local: string): string {
  return createHash('sha256').update(asciiLowercase(local), 'utf8').digest('hex').slice(0, 56);
}

/** WKD hashed local part (draft-koch-openpgp-webkey-service §3.1), also the GnuPG PKA label. */
export function wkdHash(local: string): string {
  return zbase32(createHash('sha1').update(asciiLowercase(local), 'utf8').digest());
}

export interface AddressDnsNames {
  /** `<h>._openpgpkey.<domain>`: OPENPGPKEY (RFC 7929). */
  openpgpkey: string;
  /** `<h>._keypost.<domain>`: keypost TXT record. */
  keypost: string;
  /** `<z>._pka.<domain>`: CERT IPGP for GnuPG 2.2's PKA. */
  pka: string;
}

/** The DNS owner names the README's "What DNS publishes" lists for an address (`local@domain`, domain canonical). */
export function dnsNamesFor(localPart: string, domain: string): AddressDnsNames {
  const h = openpgpkeyLabel(localPart);
  return {
    openpgpkey: `${h}._openpgpkey.${domain}`,
    keypost: `${h}._keypost.${domain}`,
    pka: `${wkdHash(localPart)}._pka.${domain}`,
  };
}

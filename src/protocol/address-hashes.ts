// The hashed labels under which an address's local part is published, shared by the HTTP API (WKD,
// /v1/records), the DNS zone, the gateway's resolver and the sender client, so all of them always
// name an address the same way.
//
// GnuPG lowercases ASCII letters of the local part before hashing and leaves other bytes alone
// (RFC 7929 section 3 leaves case to the implementation), so that is what these do, over the UTF-8
// bytes of the local part.
import { createHash, hash } from 'node:crypto';
import { asciiLowercase } from './ascii.js';
import { zbase32 } from './base32.js';

/**
 * RFC 7929 §3 owner label for OPENPGPKEY: SHA-256 of the local part truncated to 28 octets, as 56
 * lowercase hex characters (truncated SHA-256, not SHA-224). The `_openpgpkey` and `_keypost`
 * records use it.
 */
export function openpgpkeyLabel(local: string): string {
  // The one-shot hash() (UTF-8 for a string) costs half a createHash() object: every address lookup takes this.
  return hash('sha256', asciiLowercase(local), 'hex').slice(0, 56);
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

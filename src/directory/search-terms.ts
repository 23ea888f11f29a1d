// What a VKS path segment or an HKP `search=` value asks for. HKP (draft-shaw-openpgp-hkp §3.1.1)
// allows 0x-prefixed key IDs and fingerprints and free text; the directory answers fingerprints,
// 16-digit key IDs and exact addresses only. Short (8-digit) key IDs collide by design (the 2014
// "evil32" set), and name search would enumerate identities the policy publishes only by address.
import { canonicalAddress } from '../protocol/address.js';

export type SearchTerm =
  | { kind: 'fingerprint'; value: string }
  | { kind: 'keyid'; value: string }
  | { kind: 'address'; value: string }
  | { kind: 'unsupported'; reason: string };

export function parseSearchTerm(raw: string): SearchTerm {
  // GnuPG user-id syntax: "=exact", "<mail>"; only the address inside matters here.
  const text = raw.trim().replace(/^[=<]+/, '').replace(/>+$/, '').trim();
  if (text.includes('@')) {
    const address = canonicalAddress(text);
    return address ? { kind: 'address', value: address } : { kind: 'unsupported', reason: 'not a valid mail address' };
  }
  const hex = text.replace(/^0x/i, '').replace(/\s+/g, '');
  if (/^[0-9a-fA-F]+$/.test(hex)) {
    const value = hex.toUpperCase();
    if (value.length === 40 || value.length === 64) return { kind: 'fingerprint', value };
    if (value.length === 16) return { kind: 'keyid', value };
    if (value.length === 8) {
      return { kind: 'unsupported', reason: 'short key IDs are not supported (they collide); use the 16-digit key ID or the fingerprint' };
    }
  }
  return { kind: 'unsupported', reason: 'search by address, 16-digit key ID or fingerprint; name search is not supported' };
}

/** A VKS path fingerprint: 40 or 64 hex digits, any case (VKS documents uppercase). */
export function parseFingerprint(text: string): string | undefined {
  return /^([0-9a-fA-F]{40}|[0-9a-fA-F]{64})$/.test(text) ? text.toUpperCase() : undefined;
}

/** A VKS path key ID: 16 hex digits. */
export function parseKeyId(text: string): string | undefined {
  return /^[0-9a-fA-F]{16}$/.test(text) ? text.toUpperCase() : undefined;
}

// The mail address in an OpenPGP user ID. RFC 9580 §5.11 only says user IDs are "by convention"
// RFC 2822 name-addr ("Name (comment) <local@domain>"); GnuPG also accepts a bare addr-spec. The
// canonical form matches how addresses are stored: local part lowercased, domain as lowercase
// A-labels, so a user ID and a stored address compare as strings.
import { domainToASCII } from 'node:url';
import { asciiLowercase } from './address-hashes.js';

// RFC 1035 §2.3.4 labels; the last label is not all digits (no IP literals as domains).
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
// No quoted local parts, whitespace, controls or specials (RFC 5322 §3.4.1 dot-atom, loosely).
const BAD_LOCAL = /[\s<>()[\]\\,;:"@\x00-\x1f\x7f]/;

/** Canonical `local@domain`, or undefined if `text` is not a plain mail address. */
export function canonicalAddress(text: string): string | undefined {
  const at = text.lastIndexOf('@');
  if (at <= 0) return undefined;
  // ASCII case only, as GnuPG folds an address before hashing it for DANE and WKD (REFERENCE.md):
  // the stored spelling must be the one whose hash gpg asks for.
  const local = asciiLowercase(text.slice(0, at));
  // RFC 5321 §4.5.3.1.1: local part ≤ 64 octets.
  if (Buffer.byteLength(local) > 64 || BAD_LOCAL.test(local) || local.startsWith('.') || local.endsWith('.')) return undefined;
  const rawDomain = text.slice(at + 1).replace(/\.$/, '');
  if (!rawDomain || /\s/.test(rawDomain)) return undefined;
  const domain = domainToASCII(rawDomain);
  if (!domain || domain.length > 253) return undefined;
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)) || /^\d+$/.test(labels[labels.length - 1])) return undefined;
  return `${local}@${domain}`;
}

/** The address of a user ID: the last `<...>` if there is one, else the whole ID if it is an address. */
export function addressOfUserId(userId: string): string | undefined {
  const open = userId.lastIndexOf('<');
  if (open >= 0) {
    const close = userId.indexOf('>', open);
    if (close < 0 || userId.slice(close + 1).trim() !== '') return undefined;
    return canonicalAddress(userId.slice(open + 1, close).trim());
  }
  return canonicalAddress(userId.trim());
}

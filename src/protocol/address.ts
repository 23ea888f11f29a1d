// The one parser of mail addresses and zone names, for everything that reads one: the HTTP API
// (paths and bodies), the CLI, OpenPGP user IDs and the SMTP gateway.
//
// Input is checked BEFORE anything is normalised. Node's domainToASCII() follows the URL standard:
// it cuts a host at `/ ? # \`, drops zero-width characters and maps full-width and compatibility
// characters to ASCII, so "u1@a.test/junk", "u1@a.te\u200Bst" and "u1@ａ.test" all came out as
// "u1@a.test". Here a character that normalisation would remove or change is an error, so two
// different inputs never name the same stored address except by ASCII case.
//
// Canonical form: the local part with its ASCII letters lowercased (GnuPG folds ASCII only before
// hashing for DANE and WKD, RFC 7929 §3), the domain as lowercase A-labels without a final dot.
import { domainToASCII, domainToUnicode } from 'node:url';
import { KeypostError } from '../errors.js';
import { asciiLowercase } from './ascii.js';

export interface ParsedAddress {
  address: string;
  localPart: string;
  domain: string;
}

// RFC 1035 §2.3.4: labels ≤ 63 octets, names ≤ 255 octets on the wire (253 as text).
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
// RFC 5322 §3.2.3 atext (what GnuPG's is_valid_mailbox allows before the @), plus the dot of a
// dot-atom. Non-ASCII is allowed only as letters, marks and digits (RFC 6531 allows UTF-8 here).
const LOCAL_CHARS = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.\p{L}\p{M}\p{N}]+$/u;
const ASCII_LOCAL_CHARS = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+$/;
// A domain as typed: LDH and dots, or non-ASCII letters, marks and digits (IDNA U-labels).
// Everything else (`/ ? # \ % @ :`, spaces, zero-width and other format characters) is refused.
const DOMAIN_CHARS = /^[A-Za-z0-9.\-\p{L}\p{M}\p{N}]+$/u;

/** Text that Unicode compatibility normalisation would change (full-width, ligatures, NFD, ...). */
function changedByNfkc(text: string): boolean {
  // NFKC leaves ASCII as it is; most names are ASCII, and normalize() is the costly part.
  return !ASCII.test(text) && text.normalize('NFKC') !== text;
}
const ASCII = /^[\x00-\x7f]*$/;
// Already canonical as typed: lowercase LDH labels, none an A-label (xn--, which IDNA checks).
const PLAIN_LDH = /^[a-z0-9.-]+$/;
const A_LABEL = /(^|\.)xn--/;

function domainError(input: string, why: string): KeypostError {
  return new KeypostError('DIR_DOMAIN_INVALID', `not a valid domain name: "${input}" (${why})`);
}

const isSpaceOrTab = (code: number) => code === 0x20 || code === 0x09;

/** Space and tab cut from both ends; most input has none, and a regex replace costs more than a look. */
function trimSpaceTab(text: string): string {
  return isSpaceOrTab(text.charCodeAt(0)) || isSpaceOrTab(text.charCodeAt(text.length - 1)) ? text.replace(/^[ \t]+|[ \t]+$/g, '') : text;
}

// Every lookup and proof parses an address, and nearly all of them name one of a few zones: the
// canonical form of names seen lately is kept. Bounded, so a flood of distinct names costs no more
// than RECENT_DOMAINS entries; refused names are not kept and are checked in full each time.
const RECENT_DOMAINS = 256;
const recentDomains = new Map<string, string>();

/** Returns the canonical zone name or throws DIR_DOMAIN_INVALID. Unicode names become A-labels. */
export function normalizeDomain(input: string): string {
  const known = recentDomains.get(input);
  if (known !== undefined) return known;
  const ascii = checkedDomain(input);
  if (recentDomains.size >= RECENT_DOMAINS) recentDomains.clear();
  recentDomains.set(input, ascii);
  return ascii;
}

function checkedDomain(input: string): string {
  const typed = trimSpaceTab(input).replace(/\.$/, '');
  if (!typed) throw domainError(input, 'empty');
  // IDNA maps lowercase LDH without A-labels to itself, so such a name skips the round trip. It
  // passes the Unicode checks by construction too: skipping them keeps every address-taking route
  // (lookups, proofs) cheap.
  const plain = PLAIN_LDH.test(typed) && !A_LABEL.test(typed);
  if (!plain) {
    if (!DOMAIN_CHARS.test(typed)) throw domainError(input, 'only letters, digits, hyphens and dots');
    if (changedByNfkc(typed)) throw domainError(input, 'full-width or compatibility characters');
  }
  const ascii = plain ? typed : domainToASCII(typed);
  if (!ascii || ascii.length > 253) throw domainError(input, 'not IDNA');
  // IDNA may only have folded case: anything else it mapped away makes the name ambiguous.
  if (!plain && domainToUnicode(ascii) !== typed.toLowerCase()) throw domainError(input, 'IDNA would change it');
  const labels = ascii.split('.');
  if (labels.length < 2 || !labels.every((label) => LABEL.test(label)) || /^\d+$/.test(labels[labels.length - 1])) {
    throw domainError(input, 'need at least two labels of letters, digits, hyphens');
  }
  return ascii;
}

/** True for a syntactically valid host name (one label is allowed, e.g. "localhost"). */
export function isHostName(input: string): boolean {
  const name = input.replace(/\.$/, '');
  return name.length > 0 && name.length <= 253 && name.split('.').every((label) => LABEL.test(label));
}

/** The canonical local part, or undefined when it is not a dot-atom of allowed characters. */
function canonicalLocalPart(local: string): string | undefined {
  // RFC 5321 §4.5.3.1.1: local part ≤ 64 octets. RFC 5322 §3.2.3 dot-atom: no empty atoms.
  // An ASCII atom is its own NFKC form and one octet per character: the Unicode checks are moot.
  if (!local) return undefined;
  if (ASCII_LOCAL_CHARS.test(local) ? local.length > 64 : Buffer.byteLength(local) > 64 || !LOCAL_CHARS.test(local) || changedByNfkc(local)) return undefined;
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) return undefined;
  return asciiLowercase(local);
}

function addressError(input: string): KeypostError {
  return new KeypostError('DIR_ADDRESS_INVALID', `not a valid mail address: "${input}"`);
}

/**
 * A mail address typed by someone (API path or body, CLI argument): `local@domain` with exactly
 * one `@`, no quoting, no comments, no angle brackets. Throws DIR_ADDRESS_INVALID.
 */
export function parseAddress(input: string): ParsedAddress {
  const text = trimSpaceTab(input);
  const at = text.indexOf('@');
  if (at <= 0 || at !== text.lastIndexOf('@')) throw addressError(input);
  const localPart = canonicalLocalPart(text.slice(0, at));
  if (localPart === undefined) throw addressError(input);
  let domain: string;
  try {
    domain = normalizeDomain(text.slice(at + 1));
  } catch {
    throw addressError(input);
  }
  return { address: `${localPart}@${domain}`, localPart, domain };
}

/**
 * Canonical `local@domain`, or undefined if `text` is not exactly a plain mail address: no
 * surrounding spaces and no final dot on the domain (GnuPG refuses both in a user ID's mbox).
 */
export function canonicalAddress(text: string): string | undefined {
  return parseCanonicalAddress(text)?.address;
}

/** canonicalAddress with its parts, for callers that need the local part or domain too (one parse). */
export function parseCanonicalAddress(text: string): ParsedAddress | undefined {
  if (text !== text.trim() || text.endsWith('.')) return undefined;
  try {
    return parseAddress(text);
  } catch {
    return undefined;
  }
}

/** The zone an address belongs to (its domain part, canonical), or undefined if it is not an address. */
export function domainOfAddress(input: string): string | undefined {
  try {
    return parseAddress(input).domain;
  } catch {
    return undefined;
  }
}

/**
 * The address of an OpenPGP user ID, found the way GnuPG 2.2 finds its "mbox"
 * (mailbox_from_userid in common/mbox-util.c): with a `<`, the text between the first `<` and the
 * first `>` after it; without one, the whole user ID. RFC 9580 §5.11 only says user IDs are "by
 * convention" RFC 2822 name-addrs. On top of GnuPG's checks, nothing but spaces may follow the `>`,
 * and the address must pass `parseAddress`: every address taken from a user ID is one GnuPG
 * derives from it too, never a different one, so gpg finds the published key under that name.
 */
export function addressOfUserId(userId: string): string | undefined {
  const open = userId.indexOf('<');
  if (open < 0) return canonicalAddress(userId);
  const close = userId.indexOf('>', open + 1);
  if (close < 0 || userId.slice(close + 1).replace(/ +$/, '') !== '') return undefined;
  return canonicalAddress(userId.slice(open + 1, close));
}

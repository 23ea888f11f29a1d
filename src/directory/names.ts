// Validation and canonical forms of what domain owners and address holders type: zone names, mail
// addresses, endpoint URIs. Everything is stored canonical (lowercase ASCII, no trailing dot) so
// lookups compare strings, and DNS owner names derived from them are valid.
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { KeypostError, registerHttpStatuses } from '../errors.js';
import { asciiLowercase } from './address-hashes.js';

registerHttpStatuses({
  DIR_DOMAIN_INVALID: 400,
  DIR_ADDRESS_INVALID: 400,
  DIR_URI_INVALID: 400,
});

// RFC 1035 §2.3.4: labels ≤ 63 octets, names ≤ 255 octets on the wire (253 as text).
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** Returns the canonical zone name or throws DIR_DOMAIN_INVALID. Unicode names become A-labels. */
export function normalizeDomain(input: string): string {
  const trimmed = input.trim().replace(/\.$/, '');
  const ascii = trimmed ? domainToASCII(trimmed) : '';
  if (!ascii || ascii.length > 253) throw new KeypostError('DIR_DOMAIN_INVALID', `not a valid domain name: "${input}"`);
  const labels = ascii.split('.');
  if (labels.length < 2 || !labels.every((label) => LABEL.test(label)) || /^\d+$/.test(labels[labels.length - 1])) {
    throw new KeypostError('DIR_DOMAIN_INVALID', `not a valid domain name: "${input}" (need at least two labels of letters, digits, hyphens)`);
  }
  return ascii;
}

/** True for a syntactically valid host name (one label is allowed, e.g. "localhost"). */
export function isHostName(input: string): boolean {
  const name = input.replace(/\.$/, '');
  return name.length > 0 && name.length <= 253 && name.split('.').every((label) => LABEL.test(label));
}

export interface ParsedAddress {
  address: string;
  localPart: string;
  domain: string;
}

/**
 * Canonical form of a mail address: the domain lowercased to A-labels and the local part's ASCII
 * letters lowercased, because DNS and WKD names hash the local part folded that way (GnuPG folds
 * ASCII only), so two spellings that differ only in ASCII case are one published identity.
 */
export function parseAddress(input: string): ParsedAddress {
  const at = input.lastIndexOf('@');
  const local = at > 0 ? asciiLowercase(input.slice(0, at).trim()) : '';
  // RFC 5321 §4.5.3.1.1: local part ≤ 64 octets. No quoted local parts, no whitespace or controls.
  if (!local || Buffer.byteLength(local) > 64 || /[\s<>()[\]\\,;:"@\x00-\x1f\x7f]/.test(local)) {
    throw new KeypostError('DIR_ADDRESS_INVALID', `not a valid mail address: "${input}"`);
  }
  let domain: string;
  try {
    domain = normalizeDomain(input.slice(at + 1));
  } catch {
    throw new KeypostError('DIR_ADDRESS_INVALID', `not a valid mail address: "${input}"`);
  }
  return { address: `${local}@${domain}`, localPart: local, domain };
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
 * An SMTP endpoint or next hop: `smtp://host[:port]`, host a name, an IP literal (`[v6]`) or a
 * `.onion` name. Only `smtp:`: the gateway and `keypost send` negotiate TLS with STARTTLS
 * (RFC 3207) and speak no implicit TLS, so an `smtps://` hop would be accepted here and then fail
 * every delivery.
 */
export function normalizeSmtpUri(input: string, what: 'endpoint' | 'next hop'): string {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    throw new KeypostError('DIR_URI_INVALID', `${what} must be a URI like smtp://mx.example.org:25, got "${input}"`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const ok =
    url.protocol === 'smtp:' &&
    !url.username &&
    !url.password &&
    (url.pathname === '' || url.pathname === '/') &&
    !url.hash &&
    !url.search &&
    (isIP(host) !== 0 || isHostName(host));
  if (!ok) throw new KeypostError('DIR_URI_INVALID', `${what} must be a URI like smtp://mx.example.org:25, got "${input}"`);
  const port = url.port ? `:${url.port}` : '';
  // Non-special schemes keep the host as typed; DNS names compare case-insensitively.
  return `${url.protocol}//${url.hostname.toLowerCase()}${port}${url.search}`;
}

/** The zone's public API base, as published in `_keypost` TXT: an http(s) URL without credentials. */
export function normalizeApiUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    throw new KeypostError('DIR_URI_INVALID', `API URL must be an http(s) URL, got "${input}"`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password || url.hash || url.search) {
    throw new KeypostError('DIR_URI_INVALID', `API URL must be an http(s) URL without credentials or query, got "${input}"`);
  }
  return url.toString().replace(/\/$/, '');
}

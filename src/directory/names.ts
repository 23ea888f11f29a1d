// Validation and canonical forms of the URIs domain owners type: the published endpoint, the
// private next hop and the API URL. Zone names and mail addresses are src/protocol/address.ts.
import { isIP } from 'node:net';
import { KeypostError } from '../errors.js';
import { isHostName } from '../protocol/address.js';
import { isKp1Value } from '../protocol/kp1.js';

/**
 * An SMTP endpoint or next hop: `smtp://host[:port]`, host a name, an IP literal (`[v6]`) or a
 * `.onion` name. Only `smtp:`: the gateway and `keypost send` negotiate TLS with STARTTLS
 * (RFC 3207) and speak no implicit TLS, so an `smtps://` hop would be accepted here and then fail
 * every delivery.
 */
export function normalizeSmtpUri(input: string, what: 'endpoint' | 'next hop'): string {
  refuseTxtBreakers(input, what);
  let url: URL;
  try {
    url = new URL(input);
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
  refuseTxtBreakers(input, 'API URL');
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new KeypostError('DIR_URI_INVALID', `API URL must be an http(s) URL, got "${input}"`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password || url.hash || url.search) {
    throw new KeypostError('DIR_URI_INVALID', `API URL must be an http(s) URL without credentials or query, got "${input}"`);
  }
  return url.toString().replace(/\/$/, '');
}

/**
 * Endpoints and API URLs are published as `_keypost` TXT field values (src/protocol/kp1.ts), and
 * next hops travel through the same owner API: `;`, quotes, whitespace or control characters in
 * one would end the field early or make the record unreadable. Refused as typed, not repaired.
 */
function refuseTxtBreakers(input: string, what: string): void {
  if (!isKp1Value(input)) {
    throw new KeypostError('DIR_URI_INVALID', `${what} must not contain ";", quotes, spaces or control characters, got ${JSON.stringify(input)}`);
  }
}

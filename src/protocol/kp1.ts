// The `_keypost` TXT record (README "What DNS publishes"), written by the DNS zone and read by
// the gateway's resolver and the sender client, so one grammar holds on both sides:
//
//   _keypost.<zone>             v=kp1; api=<https url>; ep=<uri>; pow=<bits>; req=<req>   zone policy
//   <h(local)>._keypost.<zone>  v=kp1; fpr=<hex>; ep=<uri>; pow=<bits>; req=<req>         one address
//
// - fields are `name=value`, separated by `;`, optional spaces or tabs around each field;
// - the first field is `v=kp1`; a TXT record that does not start so is some other record;
// - a field name appears at most once: a duplicate is an error, never "first wins" or "last wins",
//   so an appended field can neither override nor be hidden from one reader and not another;
// - values carry no `;`, quotes, whitespace or control characters (`formatKp1` refuses to write
//   them, and the owner API refuses them at input);
// - `pow` is whole bits 0-40, the range KEYPOST_POW_DEFAULT_BITS and the owner API accept;
// - `req` is what protection mail must carry (src/protocol/requirement.ts): `encrypted`, `signed`,
//   `encrypted,signed`, or `none` (an address that takes plain mail in a zone that asks for more);
// - unknown fields are kept, so a later version can add some; readers ignore them.
// A TXT RDATA of several strings is one record: join them first (RFC 1035 §3.3.14, RFC 7208 §3.3).
import { parseRequirement, type Requirement } from './requirement.js';

/** Highest stamp price a record may name, in bits (config and owner API use the same bound). */
export const KP1_MAX_POW_BITS = 40;

const VERSION = 'kp1';
const NAME = /^[a-z][a-z0-9_-]*$/;
// Characters a value may not hold: the separator, quotes (zone-file and TXT presentation quoting),
// whitespace and controls (C0, DEL, C1) anywhere in Unicode.
const FORBIDDEN_IN_VALUE = /[;"'\s\p{Cc}]/u;
const FINGERPRINT = /^(?:[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$/;
const BITS = /^\d{1,2}$/;

export interface Kp1Fields {
  /** Primary key fingerprint, uppercase hex (address records). */
  fpr?: string;
  /** The zone's directory API base URL (zone policy). */
  api?: string;
  /** Where senders deliver: `smtp://host:port`. */
  ep?: string;
  /** Stamp price in bits, 0-40. */
  pow?: number;
  /** What protection mail must carry. */
  req?: Requirement;
}

export interface Kp1Record extends Kp1Fields {
  /** Fields this version does not know, by lowercase name. */
  extra: ReadonlyMap<string, string>;
}

export type Kp1Parse =
  | { kind: 'kp1'; record: Kp1Record }
  /** Not a kp1 record (another TXT at the same name). */
  | { kind: 'other' }
  /** A kp1 record that breaks the grammar: readers must not act on any of its fields. */
  | { kind: 'invalid'; reason: string };

/** True when `value` may be written as a kp1 field value. */
export function isKp1Value(value: string): boolean {
  return value.length > 0 && !FORBIDDEN_IN_VALUE.test(value);
}

/** Parses one TXT record's text (its strings already joined). */
export function parseKp1(text: string): Kp1Parse {
  const parts = text.split(';').map((part) => part.replace(/^[ \t]+|[ \t]+$/g, ''));
  // One trailing separator is tolerated ("v=kp1; pow=20;"), an empty field elsewhere is not.
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  const first = /^v[ \t]*=[ \t]*(.*)$/i.exec(parts[0]);
  if (!first || first[1] !== VERSION) return { kind: 'other' };

  const seen = new Set<string>(['v']);
  const record: Kp1Record & { extra: Map<string, string> } = { extra: new Map() };
  for (const part of parts.slice(1)) {
    const eq = part.indexOf('=');
    if (eq < 0) return invalid(part === '' ? 'empty field' : `field without "=": "${part}"`);
    const name = part.slice(0, eq).replace(/[ \t]+$/, '').toLowerCase();
    const value = part.slice(eq + 1).replace(/^[ \t]+/, '');
    if (!NAME.test(name)) return invalid(`bad field name "${part.slice(0, eq)}"`);
    if (seen.has(name)) return invalid(`duplicate field "${name}"`);
    seen.add(name);
    if (!isKp1Value(value)) return invalid(`bad value for "${name}"`);
    switch (name) {
      case 'fpr':
        if (!FINGERPRINT.test(value)) return invalid(`fpr is not a 40 or 64 digit hex fingerprint`);
        record.fpr = value.toUpperCase();
        break;
      case 'pow':
        if (!BITS.test(value) || Number(value) > KP1_MAX_POW_BITS) return invalid(`pow is not whole bits 0-${KP1_MAX_POW_BITS}`);
        record.pow = Number(value);
        break;
      case 'req': {
        const req = parseRequirement(value);
        // Canonical text only, so every reader and writer agrees on what a record says.
        if (req === undefined || req !== value) return invalid(`req is not one of none, encrypted, signed, encrypted,signed`);
        record.req = req;
        break;
      }
      case 'api':
        record.api = value;
        break;
      case 'ep':
        record.ep = value;
        break;
      default:
        record.extra.set(name, value);
    }
  }
  return { kind: 'kp1', record };
}

/**
 * The text of a kp1 record, fields in the order the README's "What DNS publishes" shows (fpr, api,
 * ep, pow, req). Throws on a value that `parseKp1` would not read back: publishing it would hand
 * readers a broken record.
 */
export function formatKp1(fields: Kp1Fields): string {
  const parts = [`v=${VERSION}`];
  const add = (name: string, value: string | undefined) => {
    if (value === undefined) return;
    if (!isKp1Value(value)) throw new RangeError(`kp1 ${name} value cannot be published: ${JSON.stringify(value)}`);
    parts.push(`${name}=${value}`);
  };
  if (fields.fpr !== undefined && !FINGERPRINT.test(fields.fpr)) throw new RangeError(`kp1 fpr is not a fingerprint: ${fields.fpr}`);
  add('fpr', fields.fpr);
  add('api', fields.api);
  add('ep', fields.ep);
  if (fields.pow !== undefined && !(Number.isInteger(fields.pow) && fields.pow >= 0 && fields.pow <= KP1_MAX_POW_BITS)) {
    throw new RangeError(`kp1 pow out of range 0-${KP1_MAX_POW_BITS}: ${fields.pow}`);
  }
  add('pow', fields.pow === undefined ? undefined : String(fields.pow));
  if (fields.req !== undefined && parseRequirement(fields.req) !== fields.req) throw new RangeError(`kp1 req is not a requirement: ${fields.req}`);
  add('req', fields.req);
  return parts.join('; ');
}

function invalid(reason: string): Kp1Parse {
  return { kind: 'invalid', reason };
}

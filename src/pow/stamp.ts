// Hashcash stamps: parse and format.
//
//   v1: `1:bits:date:resource:ext:rand:counter`   (what everything mints today)
//   v0: `0:date:resource:rand`                     (the original format; checked, never minted)
//
// Character rules follow hashcash 1.22: fields are separated by `:` so no field contains one; rand
// and counter use `[A-Za-z0-9+/=]` (base64's standard alphabet, the tool rejects `_` and `-`); the
// v1 rand may be empty but the last field (v1 counter, v0 rand) may not; the date is a digit-pair UTCTIME (see date.ts). Where the C tool is lax because of
// atoi() (`01:` as version, `8x` as bits, trailing fields after the counter) we reject the stamp as
// malformed: no minter produces those, and a strict grammar keeps one canonical reading of a stamp.
import { POW_CODES, StampError } from './errors.js';
import { isStampDateField } from './date.js';

export { StampError, POW_CODES } from './errors.js';
export {
  STAMP_DATE_WIDTHS,
  expandTwoDigitYear,
  formatStampDate,
  isStampDateField,
  parseStampDate,
  type StampDateWidth,
} from './date.js';

export interface Stamp {
  version: 0 | 1;
  /** Claimed bits (v1). A v0 stamp claims nothing: 0. */
  bits: number;
  /** The date field as written (YYMMDD[hhmm[ss]] or a shorter even width). */
  date: string;
  resource: string;
  /** v1 extension field, usually empty; '' for v0. */
  ext: string;
  rand: string;
  /** v1 counter; '' for v0, whose counter is part of rand. */
  counter: string;
  /** The exact text the stamp was parsed from, which is what gets hashed. */
  text: string;
}

/** Longest resource hashcash 1.22 compares in full (longer ones are truncated and never match). */
export const MAX_RESOURCE_LENGTH = 256;
/** Longest stamp we look at; a mail header line carrying more is not a stamp anyone minted. */
export const MAX_STAMP_LENGTH = 2048;
/** Highest claim that can be honoured: SHA-1 has 160 bits. */
export const MAX_CLAIMED_BITS = 160;

const STAMP_ALPHABET = /^[A-Za-z0-9+/=]*$/;
const BITS_FIELD = /^\d{1,3}$/;
// C0 controls and DEL never occur in a header value once folding whitespace is removed.
const CONTROL = /[\x00-\x1f\x7f]/;

function malformed(message: string): StampError {
  return new StampError(POW_CODES.malformed, message);
}

function checkResource(resource: string): void {
  if (resource.length > MAX_RESOURCE_LENGTH) {
    throw malformed(`stamp resource is longer than ${MAX_RESOURCE_LENGTH} characters`);
  }
  if (CONTROL.test(resource)) throw malformed('stamp resource contains control characters');
}

/** Parses a v0 or v1 stamp. Throws StampError with code POW_STAMP_MALFORMED. */
export function parseStamp(text: string): Stamp {
  if (typeof text !== 'string' || text.length === 0) throw malformed('empty stamp');
  if (text.length > MAX_STAMP_LENGTH) throw malformed(`stamp is longer than ${MAX_STAMP_LENGTH} characters`);
  const fields = text.split(':');
  const version = fields[0];

  if (version === '1') {
    if (fields.length !== 7) throw malformed(`a v1 stamp has 7 fields, this one has ${fields.length}`);
    const [, bits, date, resource, ext, rand, counter] = fields;
    if (!BITS_FIELD.test(bits)) throw malformed(`stamp bits "${bits}" is not a number`);
    if (!isStampDateField(date)) throw malformed(`stamp date "${date}" is not YYMMDD[hhmm[ss]]`);
    checkResource(resource);
    if (CONTROL.test(ext)) throw malformed('stamp extension contains control characters');
    if (!STAMP_ALPHABET.test(rand)) throw malformed('stamp rand has characters outside [A-Za-z0-9+/=]');
    if (!STAMP_ALPHABET.test(counter)) throw malformed('stamp counter has characters outside [A-Za-z0-9+/=]');
    if (counter === '') throw malformed('stamp counter is empty');
    return { version: 1, bits: Number(bits), date, resource, ext, rand, counter, text };
  }

  if (version === '0') {
    if (fields.length !== 4) throw malformed(`a v0 stamp has 4 fields, this one has ${fields.length}`);
    const [, date, resource, rand] = fields;
    if (!isStampDateField(date)) throw malformed(`stamp date "${date}" is not YYMMDD[hhmm[ss]]`);
    checkResource(resource);
    if (!STAMP_ALPHABET.test(rand)) throw malformed('stamp rand has characters outside [A-Za-z0-9+/=]');
    if (rand === '') throw malformed('stamp rand is empty');
    return { version: 0, bits: 0, date, resource, ext: '', rand, counter: '', text };
  }

  throw malformed(/^\d+$/.test(version) ? `unsupported stamp version ${version}` : 'not a hashcash stamp');
}

export interface StampFields {
  version?: 0 | 1;
  bits: number;
  date: string;
  resource: string;
  ext?: string;
  rand: string;
  counter: string;
}

/** Builds stamp text from its fields, validating them with the same rules as parseStamp. */
export function formatStamp(fields: StampFields): string {
  const version = fields.version ?? 1;
  const text =
    version === 1
      ? `1:${fields.bits}:${fields.date}:${fields.resource}:${fields.ext ?? ''}:${fields.rand}:${fields.counter}`
      : `0:${fields.date}:${fields.resource}:${fields.rand}`;
  // A field containing ':' shows up as a wrong field count here.
  parseStamp(text);
  return text;
}

/**
 * The stamp in an `X-Hashcash:` header value. Long stamps are folded over several lines, and
 * hashcash folds anywhere, even inside a field (RFC 5322 §2.2.3 unfolding alone would leave the
 * fold's whitespace in the stamp), so all whitespace is removed before the stamp is hashed.
 */
export function stampFromHeaderValue(value: string): string {
  return value.replace(/[ \t\r\n]+/g, '');
}

// Stamp verification with hashcash 1.22's rules, in its order: grammar and date, resource, value,
// then the validity window. The spent-stamp check is separate (spent-store.ts) because it needs the
// database and must run in the caller's transaction.
import type { Config } from '../config.js';
import { POW_CODES, type VerifyFailureCode } from './errors.js';
import { parseStampDate } from './date.js';
import { countLeadingZeroBits, stampDigest } from './sha1.js';
import { asciiLowercase } from '../protocol/ascii.js';
import { StampError, parseStamp, type Stamp } from './stamp.js';

export { countLeadingZeroBits } from './sha1.js';

export interface VerifyOptions {
  /** The resource the stamp must be for (for mail: the recipient address). */
  resource: string;
  /** Bits required. */
  bits: number;
  now: Date;
  /** How long after its date a stamp stays valid (hashcash's -e; default there 28 days). */
  validitySeconds: number;
  /** Clock-skew allowance, applied to both ends of the window (hashcash's -g; default 2 days). */
  graceSeconds: number;
  /** Compare resources exactly; by default ASCII case is ignored, as hashcash does without -C. */
  caseSensitive?: boolean;
}

/** The configured part of VerifyOptions (KEYPOST_STAMP_* variables), to spread into a call. */
export function verifyPolicy(pow: Config['pow']): Pick<VerifyOptions, 'validitySeconds' | 'graceSeconds' | 'caseSensitive'> {
  return { validitySeconds: pow.validitySeconds, graceSeconds: pow.graceSeconds, caseSensitive: pow.resourceCaseSensitive };
}

export type VerifyResult =
  | { ok: true; stamp: Stamp; value: number; expiresAt: Date }
  | { ok: false; code: VerifyFailureCode; reason: string; stamp?: Stamp };

/**
 * What a stamp is worth, given the SHA-1 of its text. v1: its claimed bits when the digest has at
 * least that many leading zeros, otherwise nothing, so a stamp never counts for more than it
 * claims. v0 claims nothing and is worth its leading zeros.
 */
export function stampValue(stamp: Pick<Stamp, 'version' | 'bits'>, digest: Uint8Array): number {
  const zeros = countLeadingZeroBits(digest);
  if (stamp.version === 0) return zeros;
  return zeros >= stamp.bits ? stamp.bits : 0;
}

/**
 * The moment from which the stamp counts as expired: its date plus validity plus grace. A spent
 * stamp's record can be purged at that moment, since the stamp is refused on its date from then on.
 */
export function stampExpiresAt(date: Date, options: Pick<VerifyOptions, 'validitySeconds' | 'graceSeconds'>): Date {
  return new Date(date.getTime() + (options.validitySeconds + options.graceSeconds) * 1000);
}

/**
 * The form in which two resources are compared: as written with case-sensitive resources (hashcash
 * -C), otherwise with ASCII case folded, as hashcash does by default. Equal keys, same resource.
 */
export function stampResourceKey(resource: string, caseSensitive = false): string {
  return caseSensitive ? resource : asciiLowercase(resource);
}

function fail(code: VerifyFailureCode, reason: string, stamp?: Stamp): VerifyResult {
  return stamp ? { ok: false, code, reason, stamp } : { ok: false, code, reason };
}

export function verifyStamp(text: string, options: VerifyOptions): VerifyResult {
  let stamp: Stamp;
  let minted: Date;
  try {
    stamp = parseStamp(text);
    minted = parseStampDate(stamp.date, options.now);
  } catch (err) {
    if (err instanceof StampError) return fail(POW_CODES.malformed, err.message);
    throw err;
  }

  if (stampResourceKey(options.resource, options.caseSensitive) !== stampResourceKey(stamp.resource, options.caseSensitive)) {
    return fail(POW_CODES.resourceMismatch, `stamp is for "${stamp.resource}", not "${options.resource}"`, stamp);
  }

  const value = stampValue(stamp, stampDigest(text));
  if (value < options.bits) {
    const worth =
      stamp.version === 1 && value === 0 && stamp.bits > 0
        ? `its hash does not have the ${stamp.bits} bits it claims`
        : `it is worth ${value} bits`;
    return fail(POW_CODES.insufficientBits, `${options.bits} bits required, ${worth}`, stamp);
  }

  // hashcash_valid_for(): future beyond the grace is refused; expired once date + validity + grace
  // is not later than now.
  const now = options.now.getTime();
  if (minted.getTime() > now + options.graceSeconds * 1000) {
    return fail(POW_CODES.future, `stamp is dated ${minted.toISOString()}, in the future`, stamp);
  }
  const expiresAt = stampExpiresAt(minted, options);
  if (expiresAt.getTime() <= now) {
    return fail(POW_CODES.expired, `stamp dated ${minted.toISOString()} expired at ${expiresAt.toISOString()}`, stamp);
  }
  return { ok: true, stamp, value, expiresAt };
}

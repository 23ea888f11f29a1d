// What every minter (node's mintStamp, the browser bundle) does around the search: check the
// request, build the fixed head of each stamp the way hashcash 1.22 does, and check the stamp that
// comes back with a full SHA-1 before anyone uses it. Platform-neutral: no node: imports.
import { formatStampDate, type StampDateWidth } from './date.js';
import { POW_CODES, StampError } from './errors.js';
import type { EngineName } from './kernel/block-engine.js';
import { COUNTER_ALPHABET } from './kernel/layout.js';
import { leadingZeroBits } from './kernel/sha1-core.js';
import { asciiLowercase } from '../protocol/ascii.js';
import { MAX_RESOURCE_LENGTH, parseStamp } from './stamp.js';

/** Highest difficulty we mint: 2^40 hashes is hours of work on a few cores already. */
export const MAX_MINT_BITS = 40;

export interface StampShapeOptions {
  /** The time the stamp is dated (default: now). */
  now?: Date;
  /** Keep the resource's case (hashcash -C); by default it is lowercased like hashcash -m does. */
  caseSensitive?: boolean;
  /** Extension field (default empty). */
  ext?: string;
  /** Date width, 6 (YYMMDD, the default), 10 or 12. */
  dateWidth?: StampDateWidth;
}

export interface MintResult {
  stamp: string;
  hashes: number;
  /** The mint's own time: from the call to the checked stamp, thread start-up included. */
  seconds: number;
  hashesPerSecond: number;
  /** The search engine that found the stamp. */
  engine: EngineName;
}

export function mintInvalid(message: string): StampError {
  return new StampError(POW_CODES.mintInvalid, message);
}

export function mintAborted(reason: unknown): StampError {
  const why = reason instanceof Error ? `: ${reason.message}` : '';
  return new StampError(POW_CODES.mintAborted, `minting was aborted${why}`);
}

/** A fresh rand field: 96 random bits as 16 standard-base64 characters, hashcash's own width. */
function randomField(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(12));
  let out = '';
  for (let i = 0; i < 12; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += COUNTER_ALPHABET[n >>> 18] + COUNTER_ALPHABET[(n >>> 12) & 63] + COUNTER_ALPHABET[(n >>> 6) & 63] + COUNTER_ALPHABET[n & 63];
  }
  return out;
}

export interface MintPlan {
  bits: number;
  /** A new head, `1:bits:date:resource:ext:rand:` as UTF-8, with fresh randomness on every call. */
  newHead(): Uint8Array;
}

/** Checks a mint request and returns what a search needs. Throws POW_MINT_INVALID. */
export function planMint(resource: string, bits: number, options: StampShapeOptions = {}): MintPlan {
  if (!Number.isInteger(bits) || bits < 0 || bits > MAX_MINT_BITS) {
    throw mintInvalid(`bits must be a whole number from 0 to ${MAX_MINT_BITS}, got ${bits}`);
  }
  if (resource.includes(':') || /[\x00-\x1f\x7f]/.test(resource)) {
    throw mintInvalid('a stamp resource cannot contain ":" or control characters');
  }
  if (resource.length > MAX_RESOURCE_LENGTH) throw mintInvalid(`a stamp resource is at most ${MAX_RESOURCE_LENGTH} characters`);
  const ext = options.ext ?? '';
  if (ext.includes(':') || /[\x00-\x1f\x7f]/.test(ext)) throw mintInvalid('a stamp extension cannot contain ":" or control characters');
  const date = formatStampDate(options.now ?? new Date(), options.dateWidth ?? 6);
  const canonical = options.caseSensitive ? resource : asciiLowercase(resource);
  const encoder = new TextEncoder();
  return { bits, newHead: () => encoder.encode(`1:${bits}:${date}:${canonical}:${ext}:${randomField()}:`) };
}

/**
 * Refuses a minted stamp that is not what was asked for: not a v1 stamp of `bits` bits, or a hash
 * with fewer zero bits (checked with `digest`, an independent SHA-1: node:crypto in node), so a
 * search bug can never send a worthless stamp. Throws POW_MINT_FAILED.
 */
export function checkMinted(stamp: string, bits: number, digest: (text: Uint8Array) => Uint8Array): void {
  let claimed: number;
  try {
    const parsed = parseStamp(stamp);
    claimed = parsed.version === 1 ? parsed.bits : -1;
  } catch (err) {
    throw new StampError(POW_CODES.mintFailed, `the minter produced a malformed stamp: ${(err as Error).message}`);
  }
  const worth = leadingZeroBits(digest(new TextEncoder().encode(stamp)));
  if (claimed !== bits || worth < bits) {
    throw new StampError(POW_CODES.mintFailed, `the minter produced a stamp worth ${worth} bits instead of ${bits}: ${stamp}`);
  }
}

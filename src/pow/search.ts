// The minting inner loop: try counters after a fixed stamp prefix until the SHA-1 of the whole
// stamp has enough leading zero bits. It is the only hot loop of minting; a faster SHA-1 (midstate
// reuse, SIMD, WASM) replaces searchCounters() and nothing else.
import { hasLeadingZeroBits, sha1 } from './sha1.js';

/** Counter digits: the standard base64 alphabet, which hashcash accepts in the counter field. */
const COUNTER_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DIGIT_CODES = Uint8Array.from(COUNTER_ALPHABET, (c) => c.charCodeAt(0));
/** 9 base64 digits hold 54 bits, more than the 2^53 counters a JS number can count. */
const MAX_COUNTER_DIGITS = 9;

/** The counter field for counter number `n`: base64 digits, most significant first. */
export function encodeCounter(n: number): string {
  let out = '';
  do {
    out = COUNTER_ALPHABET[n % 64] + out;
    n = Math.floor(n / 64);
  } while (n > 0);
  return out;
}

/** Writes encodeCounter(n) into `buf` at `offset`; returns the number of bytes written. */
function writeCounter(buf: Buffer, offset: number, n: number): number {
  let len = 1;
  for (let m = Math.floor(n / 64); m > 0; m = Math.floor(m / 64)) len++;
  for (let i = offset + len - 1; i >= offset; i--) {
    buf[i] = DIGIT_CODES[n % 64];
    n = Math.floor(n / 64);
  }
  return len;
}

export interface SearchResult {
  /** The counter that made the stamp, or -1 when none of the range did. */
  counter: number;
  /** Hashes computed (up to and including the hit). */
  hashes: number;
}

/**
 * Tries counters start, start+1, ..., start+count-1 appended to `prefix` (the stamp up to and
 * including the colon before the counter) and returns the first whose stamp has `bits` leading zero
 * bits. Pure and synchronous: callers run it in worker threads, in slices, to stay interruptible.
 */
export function searchCounters(prefix: Uint8Array, bits: number, start: number, count: number): SearchResult {
  const buf = Buffer.allocUnsafe(prefix.length + MAX_COUNTER_DIGITS);
  buf.set(prefix, 0);
  const end = start + count;
  for (let n = start; n < end; n++) {
    const len = prefix.length + writeCounter(buf, prefix.length, n);
    if (hasLeadingZeroBits(sha1(buf.subarray(0, len)), bits)) return { counter: n, hashes: n - start + 1 };
  }
  return { counter: -1, hashes: count };
}

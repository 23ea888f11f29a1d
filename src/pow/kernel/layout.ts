// Where the counter sits in a stamp, so that minting hashes one 64-octet block per candidate.
//
// A stamp is `1:bits:date:resource:ext:rand:counter`. Everything before the counter is fixed for a
// search, so the counter is padded (as hashcash 1.22 does, with leading '0's, which it accepts in
// the counter field) until the whole stamp ends at octet 52 of its last SHA-1 block:
//
//   last block:  words 0-11  fixed: the stamp's tail, '0' padding, 4 "outer" counter digits
//                word  12    the 4 "inner" counter digits: the only word that varies per candidate
//                word  13    0x80000000, SHA-1's padding (FIPS 180-4 §5.1.1)
//                words 14-15 the message length in bits
//
// The blocks before the last are hashed once (the midstate), rounds 0-11 of the last block are
// computed once per outer value, and a candidate costs rounds 12-79 of one block.
import { SHA1_INIT, blockWords, compress } from './sha1-core.js';

/** Counter digits: the standard base64 alphabet, which hashcash accepts in the counter field. */
export const COUNTER_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
export const DIGIT_CODES = Uint8Array.from(COUNTER_ALPHABET, (c) => c.charCodeAt(0));
/** The character the counter is padded with, as hashcash pads its own counters. */
const FILL = 0x30; // '0'

/** Index of the last block's word that holds the inner digits. */
export const COUNTER_WORD = 12;
/** Candidates per outer value: every value of the 4 inner digits. */
export const INNER_SPACE = 64 ** 4;
/** Candidates per search: 8 digits, 2^48, far beyond the 2^40 hashes of the largest stamp we mint. */
export const COUNTER_SPACE = 64 ** 8;
const COUNTER_DIGITS = 8;
/** Octets of the stamp inside its last block: words 0-12. */
const END_IN_BLOCK = (COUNTER_WORD + 1) * 4;

/** The 4 inner digits of inner counter `inner` (0 <= inner < INNER_SPACE) as a big-endian word. */
export function innerWord(inner: number): number {
  return (
    ((DIGIT_CODES[(inner >>> 18) & 63] << 24) |
      (DIGIT_CODES[(inner >>> 12) & 63] << 16) |
      (DIGIT_CODES[(inner >>> 6) & 63] << 8) |
      DIGIT_CODES[inner & 63]) >>>
    0
  );
}

export class StampLayout {
  /** '0' characters between the fixed head and the 8 counter digits. */
  readonly fill: number;
  /** Octets of the whole stamp. */
  readonly length: number;
  /** SHA-1 state after every block but the last. */
  readonly midstate: Uint32Array;
  private readonly padded: Uint8Array;
  private readonly lastBlock: number;
  private readonly headText: string;

  /** `head`: the UTF-8 stamp up to and including the colon before the counter. */
  constructor(readonly head: Uint8Array) {
    const shortest = head.length + COUNTER_DIGITS;
    this.fill = (((END_IN_BLOCK - shortest) % 64) + 64) % 64;
    this.length = shortest + this.fill;
    this.lastBlock = this.length - END_IN_BLOCK;
    this.padded = new Uint8Array(this.lastBlock + 64);
    this.padded.set(head);
    this.padded.fill(FILL, head.length, head.length + this.fill);
    this.padded[this.length] = 0x80;
    const bitLength = this.length * 8;
    const view = new DataView(this.padded.buffer);
    view.setUint32(this.padded.length - 8, Math.floor(bitLength / 2 ** 32));
    view.setUint32(this.padded.length - 4, bitLength >>> 0);
    this.midstate = Uint32Array.from(SHA1_INIT);
    for (let i = 0; i < this.lastBlock / 64; i++) compress(this.midstate, blockWords(this.padded, i));
    this.headText = new TextDecoder().decode(head);
  }

  /** The last block's 16 words for outer value `outer`; word 12 is left 0 for the searcher to fill. */
  lastBlockWords(outer: number): Uint32Array {
    const at = this.lastBlock + END_IN_BLOCK - COUNTER_DIGITS;
    for (let i = 3; i >= 0; i--, outer = Math.floor(outer / 64)) this.padded[at + i] = DIGIT_CODES[outer % 64];
    const words = blockWords(this.padded, this.lastBlock / 64);
    words[COUNTER_WORD] = 0;
    return words;
  }

  /** The counter field for counter number `n` (0 <= n < COUNTER_SPACE). */
  counterText(n: number): string {
    let digits = '';
    for (let i = 0; i < COUNTER_DIGITS; i++, n = Math.floor(n / 64)) digits = COUNTER_ALPHABET[n % 64] + digits;
    return '0'.repeat(this.fill) + digits;
  }

  /** The whole stamp for counter number `n`. */
  stampText(n: number): string {
    return this.headText + this.counterText(n);
  }
}

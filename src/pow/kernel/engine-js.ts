// The plain JavaScript engine, for runtimes without WebAssembly SIMD: the same midstate and
// precomputed rounds 0-11 as the kernel, then rounds 12-79 per candidate on scalar numbers.
import { type BlockEngine, firstWordMask } from './block-engine.js';
import { COUNTER_WORD, innerWord } from './layout.js';
import { roundConstant, rotl } from './sha1-core.js';

/** Message words t >= 16 that depend on the counter word, and so are recomputed per candidate. */
const VARYING: number[] = [];
{
  const varies = Array.from({ length: 80 }, (_, t) => t === COUNTER_WORD);
  for (let t = 16; t < 80; t++) {
    varies[t] = varies[t - 3] || varies[t - 8] || varies[t - 14] || varies[t - 16];
    if (varies[t]) VARYING.push(t);
  }
}

const K1 = roundConstant(0);
const K2 = roundConstant(20);
const K3 = roundConstant(40) | 0;
const K4 = roundConstant(60) | 0;

export class JsEngine implements BlockEngine {
  readonly name = 'js';
  /** The schedule with every word that does not depend on the counter filled in. */
  private readonly w = new Int32Array(80);
  /** a-e after round 11. */
  private readonly state = new Int32Array(5);
  private h0 = 0;
  private mask = 0;

  load(midstate: Uint32Array, words: Uint32Array, bits: number): void {
    const w = this.w;
    for (let t = 0; t < 16; t++) w[t] = words[t];
    w[COUNTER_WORD] = 0;
    for (let t = 16; t < 80; t++) w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    let a = midstate[0] | 0;
    let b = midstate[1] | 0;
    let c = midstate[2] | 0;
    let d = midstate[3] | 0;
    let e = midstate[4] | 0;
    for (let t = 0; t < COUNTER_WORD; t++) {
      const temp = (rotl(a, 5) + ((b & c) | (~b & d)) + e + K1 + w[t]) | 0;
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = temp;
    }
    this.state.set([a, b, c, d, e]);
    this.h0 = midstate[0] | 0;
    this.mask = firstWordMask(bits) | 0;
  }

  search(from: number, count: number): number {
    const mask = this.mask;
    for (let n = from, end = from + count; n < end; n++) if ((this.firstWord(n) & mask) === 0) return n;
    return -1;
  }

  firstWords(from: number): Uint32Array {
    return Uint32Array.of(this.firstWord(from));
  }

  /** The digest's first word for inner counter `n`: rounds 12-79 and the final addition of H0. */
  private firstWord(n: number): number {
    const w = this.w;
    w[COUNTER_WORD] = innerWord(n);
    for (let i = 0; i < VARYING.length; i++) {
      const t = VARYING[i];
      const x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16];
      w[t] = (x << 1) | (x >>> 31);
    }
    const s = this.state;
    let a = s[0];
    let b = s[1];
    let c = s[2];
    let d = s[3];
    let e = s[4];
    let t = COUNTER_WORD;
    for (; t < 20; t++) {
      const temp = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + K1 + w[t]) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = temp;
    }
    for (; t < 40; t++) {
      const temp = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + K2 + w[t]) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = temp;
    }
    for (; t < 60; t++) {
      const temp = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e + K3 + w[t]) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = temp;
    }
    for (; t < 80; t++) {
      const temp = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + K4 + w[t]) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = temp;
    }
    return (a + this.h0) >>> 0;
  }
}

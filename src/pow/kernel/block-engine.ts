// What a search engine does: given a stamp's last block with the counter word left open, find the
// first inner counter whose digest starts with enough zero bits. Two engines do it, the WebAssembly
// SIMD kernel (engine-wasm.ts) and the plain JavaScript fallback (engine-js.ts); both reuse the
// midstate and the work that does not depend on the counter.

export type EngineName = 'wasm' | 'js';

export interface BlockEngine {
  readonly name: EngineName;
  /**
   * Loads a last block: the state after the blocks before it, its 16 words (word 12, the counter's,
   * is ignored) and the zero bits wanted. Only the first digest word is tested, so for more than 32
   * bits a hit means its first 32 bits are zero and the caller checks the rest.
   */
  load(midstate: Uint32Array, words: Uint32Array, bits: number): void;
  /** The first inner counter of from..from+count-1 that hits, or -1. */
  search(from: number, count: number): number;
  /**
   * The digests' first words of the candidates from inner counter `from` on, computed by the same
   * code as search() (as many as one step computes; `from` a multiple of that). For the start-up
   * self-check and tests.
   */
  firstWords(from: number): Uint32Array;
}

/** The bits of the digest's first word that must be zero for `bits` leading zero bits. */
export function firstWordMask(bits: number): number {
  if (bits <= 0) return 0;
  return bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
}

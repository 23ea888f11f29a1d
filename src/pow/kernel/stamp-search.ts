// One search for a stamp: a fixed head (everything up to the counter), an engine, and counters
// numbered 0, 1, 2, ... Counter n is outer digits floor(n / 2^24) and inner digits n mod 2^24 (see
// layout.ts); the engine is reloaded whenever the outer digits change, once per 2^24 candidates.
import type { BlockEngine } from './block-engine.js';
import { COUNTER_SPACE, INNER_SPACE, StampLayout } from './layout.js';
import { leadingZeroBits, sha1Digest } from './sha1-core.js';

export interface SearchResult {
  /** The counter that made the stamp, or -1 when none of the range did. */
  counter: number;
  /** Candidates tried, up to and including the hit. */
  hashes: number;
}

export class StampSearch {
  readonly layout: StampLayout;
  private loadedOuter = -1;

  constructor(
    private readonly engine: BlockEngine,
    head: Uint8Array,
    private readonly bits: number,
  ) {
    this.layout = new StampLayout(head);
  }

  /** Tries counters start..start+count-1 and returns the first whose stamp has the bits wanted. */
  run(start: number, count: number): SearchResult {
    const end = Math.min(start + count, COUNTER_SPACE);
    let n = start;
    while (n < end) {
      const outer = Math.floor(n / INNER_SPACE);
      if (outer !== this.loadedOuter) {
        this.engine.load(this.layout.midstate, this.layout.lastBlockWords(outer), this.bits);
        this.loadedOuter = outer;
      }
      const base = outer * INNER_SPACE;
      const stop = Math.min(end, base + INNER_SPACE);
      const hit = this.engine.search(n - base, stop - n);
      if (hit < 0) {
        n = stop;
        continue;
      }
      const counter = base + hit;
      // The engine tested the first 32 bits; a wider price needs the rest of the digest.
      if (this.bits <= 32 || this.worth(counter) >= this.bits) return { counter, hashes: counter - start + 1 };
      n = counter + 1;
    }
    return { counter: -1, hashes: end - start };
  }

  /** Leading zero bits of the stamp with counter `n`, from a full SHA-1. */
  private worth(n: number): number {
    return leadingZeroBits(sha1Digest(new TextEncoder().encode(this.layout.stampText(n))));
  }

  stampText(counter: number): string {
    return this.layout.stampText(counter);
  }
}

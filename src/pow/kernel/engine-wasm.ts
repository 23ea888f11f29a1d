// The WebAssembly SIMD engine: the host side of the kernel that sha1-search-wat.ts generates.
import { type BlockEngine, firstWordMask } from './block-engine.js';
import { FIRST_WORDS, INPUTS, INPUT_MIDSTATE, INPUT_WORDS, MASK } from './memory-map.js';
import { webAssembly, type WasmMemory, type WasmModule } from './web-platform.js';

interface KernelExports {
  memory: WasmMemory;
  prepare(): void;
  search(from: number, count: number): number;
  lanes(): number;
  firstWords(from: number): void;
}

/**
 * Candidates per call into the kernel. V8 runs a wasm function in its baseline tier until the
 * optimised code is ready and switches only at the next call, so long calls would keep the first
 * one slow; calls of ~1 ms let it switch early at no measurable cost.
 */
const CHUNK = 1 << 14;

export class WasmEngine implements BlockEngine {
  readonly name = 'wasm';
  private readonly kernel: KernelExports;

  constructor(module: WasmModule) {
    if (!webAssembly) throw new Error('this runtime has no WebAssembly');
    this.kernel = new webAssembly.Instance(module).exports as unknown as KernelExports;
  }

  load(midstate: Uint32Array, words: Uint32Array, bits: number): void {
    const memory = new Uint32Array(this.kernel.memory.buffer);
    memory.set(midstate, INPUTS / 4 + INPUT_MIDSTATE);
    memory.set(words, INPUTS / 4 + INPUT_WORDS);
    memory.fill(firstWordMask(bits), MASK / 4, MASK / 4 + 4);
    this.kernel.prepare();
  }

  search(from: number, count: number): number {
    const end = from + count;
    for (let at = from; at < end; at += CHUNK) {
      const hit = this.kernel.search(at, Math.min(CHUNK, end - at));
      if (hit >= 0) return hit;
    }
    return -1;
  }

  firstWords(from: number): Uint32Array {
    const lanes = this.kernel.lanes();
    if (from % lanes !== 0) throw new Error(`firstWords() starts at a multiple of ${lanes}`);
    this.kernel.firstWords(from);
    return new Uint32Array(this.kernel.memory.buffer, FIRST_WORDS, lanes).slice();
  }
}

/** True when this runtime can compile the kernel (WebAssembly with 128-bit SIMD). */
export function canRunKernel(bytes: Uint8Array<ArrayBuffer>): boolean {
  return webAssembly !== undefined && webAssembly.validate(bytes);
}

// Picks the engine once, when a minter starts: the WebAssembly SIMD kernel wherever the runtime can
// compile it and it passes a self-check, the JavaScript fallback elsewhere (or when asked for, by
// tests and benchmarks).
import type { BlockEngine } from './block-engine.js';
import { JsEngine } from './engine-js.js';
import { WasmEngine } from './engine-wasm.js';
import { StampLayout } from './layout.js';
import { readWord, sha1Digest } from './sha1-core.js';
import type { WasmModule } from './web-platform.js';

/** 'auto': the kernel when available, else JavaScript. */
export type EnginePreference = 'auto' | 'wasm' | 'js';

export const ENGINE_PREFERENCES: readonly EnginePreference[] = ['auto', 'wasm', 'js'];

/**
 * True when `engine` computes the same first digest words as the reference SHA-1 for one step of
 * candidates, on a head whose counter spans two words. Microseconds; run once per engine.
 */
export function engineAgreesWithReference(engine: BlockEngine): boolean {
  const layout = new StampLayout(new TextEncoder().encode('1:20:260101:self-check@keypost.invalid::AAAAAAAAAAAAAAAA:'));
  engine.load(layout.midstate, layout.lastBlockWords(5), 20);
  const from = 64 * 77;
  const words = engine.firstWords(from);
  return words.every((word, i) => word === readWord(sha1Digest(new TextEncoder().encode(layout.stampText(5 * 2 ** 24 + from + i))), 0));
}

/** `kernel` is the compiled kernel, or undefined where this runtime cannot compile it. */
export function selectEngine(preference: EnginePreference, kernel: WasmModule | undefined): BlockEngine {
  if (preference === 'js') return new JsEngine();
  const engine = kernel ? new WasmEngine(kernel) : undefined;
  if (engine && engineAgreesWithReference(engine)) return engine;
  if (preference === 'wasm') {
    throw new Error(engine ? 'the WebAssembly kernel disagrees with SHA-1 on this runtime' : 'this runtime cannot run the WebAssembly SIMD kernel');
  }
  return new JsEngine();
}

// The compiled kernel in node: sha1-search.wasm, which `npm run build` writes next to this module.
import { readFileSync } from 'node:fs';
import { canRunKernel } from './engine-wasm.js';
import { webAssembly, type WasmModule } from './web-platform.js';

const WASM_FILE = new URL('./sha1-search.wasm', import.meta.url);

let cached: { module: WasmModule | undefined } | undefined;

/**
 * The kernel, compiled once per thread, or undefined when this runtime has no WebAssembly SIMD.
 * A missing file is a broken build, not a slow machine: that throws instead of falling back.
 */
export function kernelModule(): WasmModule | undefined {
  if (!cached) {
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = new Uint8Array(readFileSync(WASM_FILE));
    } catch (err) {
      throw new Error(`the stamp search kernel ${WASM_FILE.pathname} is missing; run npm run build (${(err as Error).message})`);
    }
    cached = { module: canRunKernel(bytes) ? new webAssembly!.Module(bytes) : undefined };
  }
  return cached.module;
}

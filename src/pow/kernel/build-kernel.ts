// Build step (npm run build, after tsc): writes the search kernel's WAT, assembles it with wabt into
// sha1-search.wasm next to the compiled kernel modules, and bundles the browser minter into
// dist/browser/. Nothing prebuilt is fetched; the .wasm and the bundle are build output only.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sha1SearchWat } from './sha1-search-wat.js';
import { bundleBrowserMinter } from './build-browser.js';

export const WASM_FILE = new URL('./sha1-search.wasm', import.meta.url);
export const WAT_FILE = new URL('./sha1-search.wat', import.meta.url);

/** Assembles WAT text to a wasm binary with wabt, SIMD enabled, validating the module. */
export async function assembleWat(text: string, name = 'sha1-search.wat'): Promise<Uint8Array> {
  const wabt = await (await import('wabt')).default();
  const parsed = wabt.parseWat(name, text, { simd: true });
  try {
    parsed.resolveNames();
    parsed.validate();
    return parsed.toBinary({ write_debug_names: false }).buffer;
  } finally {
    parsed.destroy();
  }
}

async function main(): Promise<void> {
  const text = sha1SearchWat();
  const binary = await assembleWat(text);
  writeFileSync(WAT_FILE, text);
  writeFileSync(WASM_FILE, binary);
  const outDir = fileURLToPath(new URL('../../../browser/', import.meta.url));
  mkdirSync(outDir, { recursive: true });
  await bundleBrowserMinter(outDir, fileURLToPath(WASM_FILE));
  process.stdout.write(`kernel: ${binary.length} octets of wasm; browser minter in ${outDir}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err) => {
    process.stderr.write(`kernel build failed: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  });
}

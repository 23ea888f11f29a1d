// Bundles the browser minter with esbuild: two ES modules a web page serves side by side.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

export const BROWSER_FILES = { module: 'keypost-mint.js', worker: 'keypost-mint-worker.js' } as const;

/** Bundles from the compiled modules next to this one into `outDir`, with the kernel at `wasmFile` inside the worker. */
export async function bundleBrowserMinter(outDir: string, wasmFile: string): Promise<void> {
  const entry = (name: string) => fileURLToPath(new URL(`./${name}`, import.meta.url));
  await build({
    entryPoints: [
      { in: entry('browser.js'), out: BROWSER_FILES.module.replace(/\.js$/, '') },
      { in: entry('browser-worker.js'), out: BROWSER_FILES.worker.replace(/\.js$/, '') },
    ],
    outdir: outDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    // The kernel bytes ride inside the worker, so a page needs no .wasm route or MIME type.
    loader: { '.wasm': 'binary' },
    plugins: [
      {
        name: 'keypost-kernel-wasm',
        setup(b) {
          b.onResolve({ filter: /^keypost:kernel-wasm$/ }, () => ({ path: wasmFile }));
        },
      },
    ],
    logLevel: 'warning',
  });
}

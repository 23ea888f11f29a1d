// keypost's minter for web pages, bundled by the build into dist/browser/keypost-mint.js (an ES
// module) with its Web Worker, dist/browser/keypost-mint-worker.js. Same kernel, same stamps, same
// options as node's mintStamp():
//
//   import { mintStamp } from './keypost-mint.js';
//   const { stamp } = await mintStamp('alice@example.org', 20, { onProgress, signal });
//
// The workers choose the WebAssembly SIMD kernel where the browser has it, JavaScript elsewhere.
import { POW_CODES, StampError } from '../errors.js';
import { checkMinted, mintAborted, mintInvalid, planMint, type MintResult, type StampShapeOptions } from '../mint-request.js';
import { MintPool, PoolAbortedError } from './mint-pool.js';
import type { EnginePreference } from './select-engine.js';
import { sha1Digest } from './sha1-core.js';
import type { FromWorker } from './worker-protocol.js';
import { webWorkerConstructor } from './web-platform.js';

export { MAX_MINT_BITS, type MintResult } from '../mint-request.js';
export { MintPool, StampError, POW_CODES };
export type { EnginePreference };

export interface BrowserMintOptions extends StampShapeOptions {
  /** Web Workers; default navigator.hardwareConcurrency. Ignored with `pool`. */
  workers?: number;
  signal?: AbortSignal;
  onProgress?: (hashes: number) => void;
  /** A pool kept across stamps (createMintPool), so later stamps pay no worker start-up. */
  pool?: MintPool;
  engine?: EnginePreference;
}

const WORKER_URL = new URL('./keypost-mint-worker.js', import.meta.url);

function defaultWorkers(): number {
  const navigator = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  return Math.max(1, navigator?.hardwareConcurrency ?? 1);
}

/** A pool of Web Workers; call close() when the page no longer mints. */
export function createMintPool(options: { workers?: number; engine?: EnginePreference } = {}): MintPool {
  const workers = options.workers ?? defaultWorkers();
  if (!Number.isInteger(workers) || workers < 1) throw mintInvalid(`workers must be a whole number of at least 1, got ${workers}`);
  const engine = options.engine ?? 'auto';
  return new MintPool(workers, (onMessage, onFailure) => {
    const Worker = webWorkerConstructor();
    const worker = new Worker(WORKER_URL, { type: 'module', name: `keypost-mint:${engine}` });
    worker.onmessage = (event) => onMessage(event.data as FromWorker);
    worker.onerror = (event) => onFailure(new Error(`mint worker failed: ${event.message}`));
    return {
      post: (message) => worker.postMessage(message),
      terminate: () => worker.terminate(),
    };
  });
}

/** SHA-1 for the final check: the browser's own where it has one, else the JavaScript one. */
async function digestOf(stamp: string): Promise<Uint8Array> {
  const text = new TextEncoder().encode(stamp);
  const subtle = globalThis.crypto?.subtle;
  return subtle ? new Uint8Array(await subtle.digest('SHA-1', text)) : sha1Digest(text);
}

export async function mintStamp(resource: string, bits: number, options: BrowserMintOptions = {}): Promise<MintResult> {
  const plan = planMint(resource, bits, options);
  const { signal } = options;
  if (signal?.aborted) throw mintAborted(signal.reason);
  const started = performance.now();
  const pool = options.pool ?? createMintPool({ workers: options.workers, engine: options.engine });
  let found;
  try {
    found = await pool.mint({ head: () => plan.newHead(), bits, signal, onProgress: options.onProgress });
  } catch (err) {
    throw err instanceof PoolAbortedError ? mintAborted(signal?.reason ?? err.reason) : err;
  } finally {
    if (!options.pool) pool.close();
  }
  const digest = await digestOf(found.stamp);
  checkMinted(found.stamp, bits, () => digest);
  const seconds = (performance.now() - started) / 1000;
  return { stamp: found.stamp, hashes: found.hashes, seconds, hashesPerSecond: seconds > 0 ? found.hashes / seconds : 0, engine: found.engine ?? 'js' };
}

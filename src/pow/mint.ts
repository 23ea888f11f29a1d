// Minting v1 stamps in node, on every core.
//
// Each worker thread gets its own random `rand` field and counts counters from zero, so the threads
// search disjoint stamp spaces without coordinating; the first hit wins and the others stop. The
// search itself is kernel/: the WebAssembly SIMD kernel, or the JavaScript fallback where the
// runtime has no SIMD. Stamps are what hashcash 1.22 mints: date YYMMDD in UTC, rand and counter in
// the base64 alphabet, resource lowercased unless asked otherwise (hashcash -m lowercases without
// -C), the counter padded with '0's as hashcash pads its own. Every stamp is checked with
// node:crypto's SHA-1 before it is returned.
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { BlockEngine, EngineName } from './kernel/block-engine.js';
import { kernelModule } from './kernel/kernel-file.js';
import { COUNTER_SPACE } from './kernel/layout.js';
import { MintPool, PoolAbortedError, type SpawnWorker } from './kernel/mint-pool.js';
import { selectEngine, type EnginePreference } from './kernel/select-engine.js';
import { StampSearch } from './kernel/stamp-search.js';
import type { FromWorker } from './kernel/worker-protocol.js';
import { checkMinted, mintAborted, mintInvalid, planMint, type MintResult, type StampShapeOptions } from './mint-request.js';
import type { MintWorkerData } from './mint-worker.js';
import { sha1 } from './sha1.js';

export { MAX_MINT_BITS, type MintResult } from './mint-request.js';
export { MintPool } from './kernel/mint-pool.js';
export type { EnginePreference } from './kernel/select-engine.js';

/** Up to this many bits the expected work (≤ 4096 hashes, well under a millisecond) is less than starting a thread. */
const INLINE_BITS = 12;

export interface MintOptions extends StampShapeOptions {
  /** Worker threads; default: one per core. Ignored with `pool`. */
  workers?: number;
  signal?: AbortSignal;
  /** Called with the total number of hashes tried so far, after each worker's slice (~25 ms). */
  onProgress?: (hashes: number) => void;
  /**
   * A warm pool to mint on (the gateway keeps one). Without it a pool of `workers` threads is started
   * for this stamp and stopped after it.
   */
  pool?: MintPool;
  /** The search engine; default 'auto': the WebAssembly SIMD kernel where the runtime has it. */
  engine?: EnginePreference;
}

const inlineEngines = new Map<EnginePreference, BlockEngine>();

/** The engine for stamps minted on the calling thread, chosen once per preference. */
function inlineEngine(preference: EnginePreference): BlockEngine {
  let engine = inlineEngines.get(preference);
  if (!engine) {
    engine = selectEngine(preference, preference === 'js' ? undefined : kernelModule());
    inlineEngines.set(preference, engine);
  }
  return engine;
}

/** Starts search threads (mint-worker.js) that use `engine`; the kernel is compiled once, here. */
export function spawnMintThread(engine: EnginePreference): SpawnWorker {
  const workerUrl = new URL('./mint-worker.js', import.meta.url);
  return (onMessage, onFailure) => {
    const data: MintWorkerData = { kernel: engine === 'js' ? undefined : kernelModule(), engine };
    const thread = new Worker(workerUrl, { workerData: data });
    thread.on('message', (message: FromWorker) => onMessage(message));
    thread.on('error', onFailure);
    thread.on('exit', (code) => onFailure(new Error(`mint worker exited with code ${code}`)));
    return {
      post: (message) => thread.postMessage(message),
      terminate: () => void thread.terminate(),
    };
  };
}

/** A pool of search threads. Call warm() to start them now, close() when done. */
export function createMintPool(options: { workers?: number; engine?: EnginePreference } = {}): MintPool {
  const workers = options.workers ?? availableParallelism();
  if (!Number.isInteger(workers) || workers < 1) throw mintInvalid(`workers must be a whole number of at least 1, got ${workers}`);
  return new MintPool(workers, spawnMintThread(options.engine ?? 'auto'));
}

function failed(err: unknown, signal: AbortSignal | undefined): unknown {
  if (err instanceof PoolAbortedError) return mintAborted(signal?.reason ?? err.reason);
  return err;
}

export async function mintStamp(resource: string, bits: number, options: MintOptions = {}): Promise<MintResult> {
  const plan = planMint(resource, bits, options);
  const workers = options.workers ?? availableParallelism();
  if (!options.pool && (!Number.isInteger(workers) || workers < 1)) {
    throw mintInvalid(`workers must be a whole number of at least 1, got ${workers}`);
  }
  const { signal } = options;
  if (signal?.aborted) throw mintAborted(signal.reason);
  const preference = options.engine ?? 'auto';

  const started = performance.now();
  let found: { stamp: string; hashes: number; engine: EngineName };
  if (bits <= INLINE_BITS) {
    const engine = inlineEngine(preference);
    const search = new StampSearch(engine, plan.newHead(), bits);
    const result = search.run(0, COUNTER_SPACE);
    found = { stamp: search.stampText(result.counter), hashes: result.hashes, engine: engine.name };
  } else {
    const pool = options.pool ?? createMintPool({ workers, engine: preference });
    try {
      const result = await pool.mint({ head: () => plan.newHead(), bits, signal, onProgress: options.onProgress });
      found = { ...result, engine: result.engine ?? (preference === 'js' ? 'js' : 'wasm') };
    } catch (err) {
      throw failed(err, signal);
    } finally {
      if (!options.pool) pool.close();
    }
  }
  checkMinted(found.stamp, bits, sha1);
  const seconds = (performance.now() - started) / 1000;
  return { ...found, seconds, hashesPerSecond: seconds > 0 ? found.hashes / seconds : 0 };
}

// One minting thread: searches its own counter space (its own random `rand`, so threads never
// repeat each other's work) in slices, reporting progress between slices. The parent stops it with
// worker.terminate(), which interrupts even this synchronous loop.
import { parentPort, workerData } from 'node:worker_threads';
import { searchCounters } from './search.js';

export interface MintWorkerData {
  /** UTF-8 bytes of the stamp up to and including the colon before the counter. */
  prefix: Uint8Array;
  bits: number;
  /** Counters tried between two progress messages. */
  slice: number;
}

export type MintWorkerMessage =
  | { type: 'progress'; hashes: number }
  | { type: 'found'; counter: number; hashes: number };

const { prefix, bits, slice } = workerData as MintWorkerData;
const port = parentPort;
if (!port) throw new Error('mint-worker.js runs only as a worker thread');

for (let start = 0; ; start += slice) {
  const result = searchCounters(prefix, bits, start, slice);
  if (result.counter >= 0) {
    port.postMessage({ type: 'found', counter: result.counter, hashes: result.hashes } satisfies MintWorkerMessage);
    break;
  }
  port.postMessage({ type: 'progress', hashes: result.hashes } satisfies MintWorkerMessage);
}

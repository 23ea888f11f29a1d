// Messages between a minter and its search workers (node worker_threads or browser Web Workers).
// Every worker of one mint gets its own head (its own random rand), so workers never repeat each
// other's candidates; the first worker that finds a stamp wins and the others are stopped.
import type { EngineName } from './block-engine.js';

export type ToWorker =
  /** Start searching (replacing any job the worker has). */
  | { type: 'job'; id: number; head: Uint8Array; bits: number }
  /** Stop job `id` if it is still running. */
  | { type: 'stop'; id: number };

export type FromWorker =
  /** Sent once the worker has chosen its engine. */
  | { type: 'ready'; engine: EngineName }
  /** Candidates tried since the last report for this job. */
  | { type: 'progress'; id: number; hashes: number }
  | { type: 'found'; id: number; stamp: string; hashes: number }
  | { type: 'failed'; id: number; message: string };

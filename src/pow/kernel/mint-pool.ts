// A set of search workers that mints one stamp at a time with all of them. The same class drives
// node worker_threads and browser Web Workers through a small handle; the caller decides whether the
// pool lives for one stamp (the CLI: start-up paid per stamp) or stays warm (the gateway).
import type { EngineName } from './block-engine.js';
import type { FromWorker, ToWorker } from './worker-protocol.js';

export interface WorkerHandle {
  post(message: ToWorker): void;
  terminate(): void;
}

/** Starts one worker; it reports messages and a failure (an error, or an exit) through the callbacks. */
export type SpawnWorker = (onMessage: (message: FromWorker) => void, onFailure: (err: Error) => void) => WorkerHandle;

export interface PoolJob {
  /** The head (stamp text up to the counter) for worker `index`; each must differ. */
  head(index: number): Uint8Array;
  bits: number;
  signal?: AbortSignal;
  /** Total candidates tried so far, after each worker's slice (~25 ms). */
  onProgress?: (hashes: number) => void;
}

export interface PoolResult {
  stamp: string;
  hashes: number;
  engine: EngineName | undefined;
}

export class PoolAbortedError extends Error {
  constructor(readonly reason: unknown) {
    super('minting was aborted');
  }
}

interface Slot {
  handle: WorkerHandle;
  engine?: EngineName;
}

interface Running {
  id: number;
  total: number;
  onProgress?: (hashes: number) => void;
  settle(outcome: { result: PoolResult } | { error: unknown }): void;
}

export class MintPool {
  private slots: (Slot | undefined)[];
  private running: Running | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 1;
  private closed = false;

  constructor(
    readonly size: number,
    private readonly spawn: SpawnWorker,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`a mint pool needs at least one worker, got ${size}`);
    this.slots = new Array(size).fill(undefined);
  }

  /** Starts any worker that is not running, so the next stamp pays no start-up. */
  warm(): void {
    for (let i = 0; i < this.size; i++) this.slot(i);
  }

  /** The engine the workers chose, once one has reported it. */
  get engine(): EngineName | undefined {
    return this.slots.find((s) => s?.engine)?.engine;
  }

  /** Mints one stamp; stamps asked for at the same time are minted one after another. */
  mint(job: PoolJob): Promise<PoolResult> {
    const turn = this.queue.then(() => this.runJob(job));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /** Stops every worker; a stamp being minted fails. Safe to call twice. */
  close(): void {
    this.closed = true;
    this.running?.settle({ error: new Error('the mint pool was closed') });
    for (let i = 0; i < this.size; i++) this.retire(i);
  }

  private slot(index: number): Slot {
    const existing = this.slots[index];
    if (existing) return existing;
    const slot: Slot = {
      handle: this.spawn(
        (message) => this.onMessage(slot, message),
        (err) => {
          if (this.slots[index] !== slot) return;
          // A dead worker is replaced at the next stamp; the stamp it was part of fails.
          this.slots[index] = undefined;
          this.running?.settle({ error: err });
        },
      ),
    };
    this.slots[index] = slot;
    return slot;
  }

  private retire(index: number): void {
    const slot = this.slots[index];
    this.slots[index] = undefined;
    slot?.handle.terminate();
  }

  private onMessage(slot: Slot, message: FromWorker): void {
    if (message.type === 'ready') {
      slot.engine = message.engine;
      return;
    }
    const running = this.running;
    if (!running || message.id !== running.id) return;
    if (message.type === 'failed') {
      running.settle({ error: new Error(`mint worker failed: ${message.message}`) });
      return;
    }
    running.total += message.hashes;
    if (message.type === 'found') {
      running.settle({ result: { stamp: message.stamp, hashes: running.total, engine: slot.engine } });
      return;
    }
    try {
      running.onProgress?.(running.total);
    } catch (err) {
      // A failing progress callback ends minting instead of escaping as an uncaught error.
      running.settle({ error: err });
    }
  }

  private runJob(job: PoolJob): Promise<PoolResult> {
    if (this.closed) return Promise.reject(new Error('the mint pool is closed'));
    const { signal } = job;
    if (signal?.aborted) return Promise.reject(new PoolAbortedError(signal.reason));
    return new Promise<PoolResult>((resolve, reject) => {
      const id = this.nextId++;
      let done = false;
      const running: Running = {
        id,
        total: 0,
        onProgress: job.onProgress,
        settle: (outcome) => {
          if (done) return;
          done = true;
          this.running = undefined;
          signal?.removeEventListener('abort', onAbort);
          for (const slot of this.slots) slot?.handle.post({ type: 'stop', id });
          if ('result' in outcome) resolve(outcome.result);
          else reject(outcome.error);
        },
      };
      const onAbort = () => running.settle({ error: new PoolAbortedError(signal!.reason) });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.running = running;
      for (let i = 0; i < this.size && !done; i++) this.slot(i).handle.post({ type: 'job', id, head: job.head(i), bits: job.bits });
    });
  }
}

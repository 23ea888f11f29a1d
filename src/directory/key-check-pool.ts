// Key checks run on worker threads. A flooded key (thousands of certifications, ~1 MB) takes about
// a second of CPU to parse and verify; on the main thread 30 of them stalled DNS answers by most of
// a second. Here the main thread only hands the bytes over and waits.
//
// The queue is bounded: when every worker is busy and `maxQueue` checks already wait, a new check
// is refused at once with DIR_KEY_CHECK_BUSY (HTTP 503 + Retry-After) instead of piling up memory
// and latency. Workers start with the first check and stop on close(), which is safe to call twice.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { KeypostError } from '../errors.js';
import type { KeyCheck } from '../keys/key-policy.js';
import type { KeyCheckAnswer, KeyCheckJob, ServedFilter } from './key-check-worker.js';
import type { KeyInput } from './upload-body.js';

export type { ServedFilter } from './key-check-worker.js';

/** Seconds a client is asked to wait when the queue is full: about one flooded-key check. */
const BUSY_RETRY_AFTER_SECONDS = 2;

export interface KeyCheckPoolOptions {
  /** Worker threads; 0 picks one less than the cores, between 1 and 4. */
  workers: number;
  /** Checks that may wait for a free worker; more are refused with DIR_KEY_CHECK_BUSY. */
  maxQueue: number;
  log: Logger;
  metrics?: Registry;
}

export interface KeyCheckPool {
  /**
   * Judges a key on a worker thread; same answer as checkKey, or throws DIR_KEY_CHECK_BUSY. An
   * upload body is read there too, and throws REQUEST_INVALID when it is not a valid upload.
   */
  check(input: KeyInput, options: { now: Date; served?: ServedFilter }): Promise<KeyCheck>;
  close(): Promise<void>;
}

export function defaultKeyCheckWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

interface Pending {
  job: KeyCheckJob;
  resolve(result: KeyCheck): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  running: Pending | undefined;
}

const workerUrl = new URL('./key-check-worker.js', import.meta.url);

export function createKeyCheckPool(options: KeyCheckPoolOptions): KeyCheckPool {
  const size = options.workers > 0 ? options.workers : defaultKeyCheckWorkers();
  const slots: Slot[] = [];
  const queue: Pending[] = [];
  let nextId = 1;
  let closing: Promise<void> | undefined;

  const checks = new Counter({
    name: 'keypost_key_checks_total',
    help: 'Key checks by outcome: done on a worker, or refused because the queue was full',
    labelNames: ['outcome'] as const,
    registers: options.metrics ? [options.metrics] : [],
  });
  new Gauge({
    name: 'keypost_key_check_queue',
    help: 'Key checks waiting for a worker thread',
    registers: options.metrics ? [options.metrics] : [],
    collect() {
      this.set(queue.length);
    },
  });

  function spawn(): Slot {
    const slot: Slot = { worker: new Worker(workerUrl), running: undefined };
    slot.worker.on('message', (answer: KeyCheckAnswer) => {
      const done = slot.running;
      slot.running = undefined;
      slot.worker.unref();
      if (done && done.job.id === answer.id) {
        checks.inc({ outcome: 'done' });
        if ('result' in answer) done.resolve(answer.result);
        else if ('refused' in answer) done.reject(new KeypostError('REQUEST_INVALID', answer.refused));
        else done.reject(new Error(`key check failed: ${answer.failure}`));
      }
      dispatch();
    });
    slot.worker.on('error', (err) => options.log.error({ err }, 'key check worker failed'));
    slot.worker.on('exit', (code) => {
      // A worker that dies (out of memory, a bug) fails its job and is replaced, unless closing.
      slots.splice(slots.indexOf(slot), 1);
      slot.running?.reject(new Error(`key check worker exited with code ${code}`));
      if (!closing) dispatch();
    });
    // Idle workers must not keep a finished process alive (close() stops them in a server); a
    // worker with a job is referenced until it answers.
    slot.worker.unref();
    slots.push(slot);
    return slot;
  }

  function dispatch(): void {
    while (queue.length > 0 && !closing) {
      const slot = slots.find((s) => !s.running) ?? (slots.length < size ? spawn() : undefined);
      if (!slot) return;
      const next = queue.shift()!;
      slot.running = next;
      slot.worker.ref();
      slot.worker.postMessage(next.job);
    }
  }

  return {
    check(input, checkOptions) {
      if (closing) return Promise.reject(new KeypostError('DIR_KEY_CHECK_BUSY', 'the directory is shutting down', { retry_after: BUSY_RETRY_AFTER_SECONDS }));
      const idle = slots.some((s) => !s.running) || slots.length < size;
      if (!idle && queue.length >= options.maxQueue) {
        checks.inc({ outcome: 'busy' });
        return Promise.reject(
          new KeypostError('DIR_KEY_CHECK_BUSY', 'too many keys are being checked right now; try again shortly', { retry_after: BUSY_RETRY_AFTER_SECONDS }),
        );
      }
      return new Promise<KeyCheck>((resolve, reject) => {
        queue.push({ job: { id: nextId++, input, now: checkOptions.now.getTime(), served: checkOptions.served }, resolve, reject });
        dispatch();
      });
    },
    close() {
      closing ??= (async () => {
        for (const pending of queue.splice(0)) pending.reject(new KeypostError('DIR_KEY_CHECK_BUSY', 'the directory is shutting down'));
        await Promise.all([...slots].map((slot) => slot.worker.terminate()));
      })();
      return closing;
    },
  };
}

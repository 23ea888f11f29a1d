// Minting v1 stamps on every core.
//
// Each worker thread gets its own random `rand` field and counts counters from zero, so the threads
// search disjoint stamp spaces without coordinating; the first hit wins and the others are
// terminated. The stamps are what hashcash 1.22 mints: date YYMMDD in UTC, rand and counter in the
// base64 alphabet, resource lowercased unless asked otherwise (hashcash -m lowercases without -C).
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { POW_CODES, StampError } from './errors.js';
import { formatStampDate, type StampDateWidth } from './date.js';
import { encodeCounter, searchCounters } from './search.js';
import { asciiLowercase } from '../protocol/ascii.js';
import { MAX_RESOURCE_LENGTH, formatStamp } from './stamp.js';
import type { MintWorkerData, MintWorkerMessage } from './mint-worker.js';

/** Highest difficulty we mint: 2^40 hashes is days of work on a few cores already. */
export const MAX_MINT_BITS = 40;
/** Up to this many bits the expected work (≤ 4096 hashes, a few ms) is less than starting a thread. */
const INLINE_BITS = 12;
/** Counters per worker slice: ~25-50 ms of hashing, so progress and cancellation stay prompt. */
const SLICE = 1 << 15;

export interface MintOptions {
  /** Worker threads; default: one per core. */
  workers?: number;
  /** The time the stamp is dated (default: now). */
  now?: Date;
  signal?: AbortSignal;
  /** Called with the total number of hashes tried so far, a few times per second. */
  onProgress?: (hashes: number) => void;
  /** Keep the resource's case (hashcash -C); by default it is lowercased like hashcash -m does. */
  caseSensitive?: boolean;
  /** Extension field (default empty). */
  ext?: string;
  /** Date width, 6 (YYMMDD, the default), 10 or 12. */
  dateWidth?: StampDateWidth;
}

export interface MintResult {
  stamp: string;
  hashes: number;
  seconds: number;
  hashesPerSecond: number;
}

function invalid(message: string): StampError {
  return new StampError(POW_CODES.mintInvalid, message);
}

function aborted(signal: AbortSignal): StampError {
  const why = signal.reason instanceof Error ? `: ${signal.reason.message}` : '';
  return new StampError(POW_CODES.mintAborted, `minting was aborted${why}`);
}

/** A fresh rand field: 96 random bits as 16 standard-base64 characters (no padding). */
function randomField(): string {
  return randomBytes(12).toString('base64');
}

function stampPrefix(resource: string, bits: number, date: string, ext: string): { prefix: string; complete(counter: string): string } {
  const rand = randomField();
  const prefix = `1:${bits}:${date}:${resource}:${ext}:${rand}:`;
  return { prefix, complete: (counter) => formatStamp({ bits, date, resource, ext, rand, counter }) };
}

export async function mintStamp(resource: string, bits: number, options: MintOptions = {}): Promise<MintResult> {
  if (!Number.isInteger(bits) || bits < 0 || bits > MAX_MINT_BITS) {
    throw invalid(`bits must be a whole number from 0 to ${MAX_MINT_BITS}, got ${bits}`);
  }
  if (resource.includes(':') || /[\x00-\x1f\x7f]/.test(resource)) {
    throw invalid('a stamp resource cannot contain ":" or control characters');
  }
  if (resource.length > MAX_RESOURCE_LENGTH) throw invalid(`a stamp resource is at most ${MAX_RESOURCE_LENGTH} characters`);
  const ext = options.ext ?? '';
  if (ext.includes(':') || /[\x00-\x1f\x7f]/.test(ext)) throw invalid('a stamp extension cannot contain ":" or control characters');
  const workers = options.workers ?? availableParallelism();
  if (!Number.isInteger(workers) || workers < 1) throw invalid(`workers must be a whole number of at least 1, got ${workers}`);
  const { signal } = options;
  if (signal?.aborted) throw aborted(signal);

  const date = formatStampDate(options.now ?? new Date(), options.dateWidth ?? 6);
  const canonical = options.caseSensitive ? resource : asciiLowercase(resource);
  const started = performance.now();
  const finish = (stamp: string, hashes: number): MintResult => {
    const seconds = (performance.now() - started) / 1000;
    return { stamp, hashes, seconds, hashesPerSecond: seconds > 0 ? hashes / seconds : 0 };
  };

  if (bits <= INLINE_BITS) {
    const { prefix, complete } = stampPrefix(canonical, bits, date, ext);
    const bytes = Buffer.from(prefix, 'utf8');
    for (let start = 0; ; start += SLICE) {
      const result = searchCounters(bytes, bits, start, SLICE);
      if (result.counter >= 0) return finish(complete(encodeCounter(result.counter)), start + result.hashes);
    }
  }

  return new Promise<MintResult>((resolve, reject) => {
    const threads: Worker[] = [];
    let total = 0;
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      for (const t of threads) void t.terminate();
      outcome();
    };
    const onAbort = () => settle(() => reject(aborted(signal!)));
    signal?.addEventListener('abort', onAbort, { once: true });

    const workerUrl = new URL('./mint-worker.js', import.meta.url);
    for (let i = 0; i < workers; i++) {
      const { prefix, complete } = stampPrefix(canonical, bits, date, ext);
      // A copy, so the message carries these bytes and not Buffer's whole shared pool.
      const data: MintWorkerData = { prefix: new Uint8Array(Buffer.from(prefix, 'utf8')), bits, slice: SLICE };
      const thread = new Worker(workerUrl, { workerData: data });
      threads.push(thread);
      thread.on('message', (message: MintWorkerMessage) => {
        if (settled) return;
        total += message.hashes;
        if (message.type === 'found') {
          settle(() => {
            try {
              resolve(finish(complete(encodeCounter(message.counter)), total));
            } catch (err) {
              reject(err);
            }
          });
        } else {
          try {
            options.onProgress?.(total);
          } catch (err) {
            // A failing progress callback ends minting instead of escaping as an uncaught error.
            settle(() => reject(err));
          }
        }
      });
      thread.on('error', (err) => settle(() => reject(err)));
      thread.on('exit', (code) => {
        if (!settled) settle(() => reject(new Error(`mint worker exited with code ${code}`)));
      });
    }
  });
}

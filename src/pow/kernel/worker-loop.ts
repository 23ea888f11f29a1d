// The body of a search worker, the same in node and in a browser: take jobs, search in slices of
// ~25 ms, report progress after each slice and look at new messages (a stop, or a newer job)
// between slices, so a warm worker can be reused for the next stamp without restarting.
import type { BlockEngine } from './block-engine.js';
import { COUNTER_SPACE } from './layout.js';
import { StampSearch } from './stamp-search.js';
import type { FromWorker, ToWorker } from './worker-protocol.js';
import { webMessageChannel } from './web-platform.js';

export interface WorkerPort {
  post(message: FromWorker): void;
  listen(handler: (message: ToWorker) => void): void;
}

/** Wall time one slice aims at: short enough for prompt progress and stops, long enough to be cheap. */
const SLICE_MS = 25;
const FIRST_SLICE = 1 << 12;
const LARGEST_SLICE = 1 << 24;

/** Lets queued messages in: setImmediate in node, a MessageChannel round trip in browsers. */
function yieldToMessages(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => {
    const channel = webMessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

interface Job {
  id: number;
  search: StampSearch;
  next: number;
}

export function serveMintJobs(port: WorkerPort, engine: BlockEngine): void {
  let current: Job | undefined;
  let running = false;
  let slice = FIRST_SLICE;

  const run = async () => {
    running = true;
    while (current) {
      const job = current;
      const started = performance.now();
      let result;
      try {
        result = job.search.run(job.next, slice);
      } catch (err) {
        port.post({ type: 'failed', id: job.id, message: (err as Error).message });
        current = undefined;
        break;
      }
      const elapsed = performance.now() - started;
      job.next += slice;
      if (result.counter >= 0) {
        port.post({ type: 'found', id: job.id, stamp: job.search.stampText(result.counter), hashes: result.hashes });
        if (current === job) current = undefined;
      } else if (job.next >= COUNTER_SPACE) {
        port.post({ type: 'failed', id: job.id, message: 'the counter space is exhausted' });
        if (current === job) current = undefined;
      } else {
        port.post({ type: 'progress', id: job.id, hashes: result.hashes });
      }
      // Halve or double towards SLICE_MS; a loaded machine gets shorter slices, not late stops.
      if (elapsed > SLICE_MS * 1.5 && slice > 64) slice /= 2;
      else if (elapsed < SLICE_MS / 1.5 && slice < LARGEST_SLICE) slice *= 2;
      await yieldToMessages();
    }
    running = false;
  };

  // Ready (with the engine's name) goes first: listening delivers jobs that arrived while the
  // kernel compiled, and a first slice can find a small stamp and post 'found' before returning,
  // which left the page not knowing which engine had minted it.
  port.post({ type: 'ready', engine: engine.name });
  port.listen((message) => {
    if (message.type === 'job') {
      current = { id: message.id, search: new StampSearch(engine, message.head, message.bits), next: 0 };
      if (!running) void run();
    } else if (message.type === 'stop' && current?.id === message.id) {
      current = undefined;
    }
  });
}

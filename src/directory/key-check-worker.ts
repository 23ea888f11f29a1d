// One key-check thread: runs the key policy (checkKey: dearmor, packet scan, parse, signature
// verification), and before it the reading of an upload's JSON body (upload-body.ts), off the
// event loop that answers DNS, SMTP and HTTP. Jobs come one at a time from
// key-check-pool.ts; everything in a job and its answer survives structured cloning (Uint8Array,
// Date, plain objects).
import { parentPort } from 'node:worker_threads';
import { checkKey, type KeyCheck } from '../keys/key-policy.js';
import { domainOfAddress } from '../protocol/address.js';
import { isJsonUpload, keytextOfUpload, type KeyInput } from './upload-body.js';
import { lowerCurrentThreadPriority } from '../thread-priority.js';

/** Which user IDs count as served: by domain, or exactly these addresses. Functions cannot cross threads. */
export interface ServedFilter {
  domains?: string[];
  addresses?: string[];
}

export interface KeyCheckJob {
  id: number;
  input: KeyInput;
  /** Milliseconds since the epoch: the time the key is judged at. */
  now: number;
  served?: ServedFilter;
}

export type KeyCheckAnswer =
  | { id: number; result: KeyCheck }
  /** The upload body is not a valid upload (REQUEST_INVALID); no key was judged. */
  | { id: number; refused: string }
  | { id: number; failure: string };

export function servedPredicate(served: ServedFilter | undefined): ((address: string) => boolean) | undefined {
  if (!served) return undefined;
  const domains = new Set(served.domains ?? []);
  const addresses = new Set(served.addresses ?? []);
  return (address) => addresses.has(address) || domains.has(domainOfAddress(address) ?? '');
}

const port = parentPort;
if (port) {
  // A check is a second of CPU; the main thread's DNS answers must not wait for it to be descheduled.
  lowerCurrentThreadPriority();
  port.on('message', async (job: KeyCheckJob) => {
    let answer: KeyCheckAnswer;
    try {
      const body = isJsonUpload(job.input) ? keytextOfUpload(job.input.json) : { keytext: job.input };
      answer =
        'problem' in body
          ? { id: job.id, refused: body.problem }
          : { id: job.id, result: await checkKey(body.keytext, { now: new Date(job.now), isServedAddress: servedPredicate(job.served) }) };
    } catch (err) {
      // checkKey promises not to throw for anything in its input; if it does, the caller gets a 500.
      answer = { id: job.id, failure: err instanceof Error ? err.message : String(err) };
    }
    port.postMessage(answer);
  });
}

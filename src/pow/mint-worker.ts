// One minting thread in node: chooses its engine once at start (the kernel module comes compiled
// from the parent, so threads share its code), then serves jobs until it is stopped.
import { parentPort, workerData } from 'node:worker_threads';
import { selectEngine, type EnginePreference } from './kernel/select-engine.js';
import { serveMintJobs } from './kernel/worker-loop.js';
import type { ToWorker } from './kernel/worker-protocol.js';
import type { WasmModule } from './kernel/web-platform.js';

export interface MintWorkerData {
  /** The compiled kernel, or undefined where it cannot run. */
  kernel: WasmModule | undefined;
  engine: EnginePreference;
}

const port = parentPort;
if (!port) throw new Error('mint-worker.js runs only as a worker thread');
const { kernel, engine } = workerData as MintWorkerData;

serveMintJobs(
  {
    post: (message) => port.postMessage(message),
    listen: (handler) => port.on('message', (message: ToWorker) => handler(message)),
  },
  selectEngine(engine, kernel),
);

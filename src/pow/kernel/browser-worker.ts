// The Web Worker of the browser minter (bundled as dist/browser/keypost-mint-worker.js). The kernel's
// bytes are bundled in; the worker compiles them when the browser has WebAssembly SIMD.
import kernelBytes from 'keypost:kernel-wasm';
import { canRunKernel } from './engine-wasm.js';
import { selectEngine, type EnginePreference } from './select-engine.js';
import { serveMintJobs } from './worker-loop.js';
import type { FromWorker, ToWorker } from './worker-protocol.js';
import { webAssembly, type WebMessageEvent } from './web-platform.js';

interface WorkerScope {
  name: string;
  postMessage(message: FromWorker): void;
  onmessage: ((event: WebMessageEvent<ToWorker>) => void) | null;
}

const scope = globalThis as unknown as WorkerScope;
// Jobs can arrive while the kernel compiles; hold them until the engine is chosen.
const early: ToWorker[] = [];
let deliver: ((message: ToWorker) => void) | undefined;
scope.onmessage = (event) => (deliver ? deliver(event.data) : early.push(event.data));

async function start(): Promise<void> {
  // The page names each worker keypost-mint:<engine preference>.
  const preference = (scope.name.split(':')[1] ?? 'auto') as EnginePreference;
  const kernel = preference !== 'js' && canRunKernel(kernelBytes) ? await webAssembly!.compile(kernelBytes) : undefined;
  serveMintJobs(
    {
      post: (message) => scope.postMessage(message),
      listen: (handler) => {
        deliver = handler;
        for (const message of early.splice(0)) handler(message);
      },
    },
    selectEngine(preference, kernel),
  );
}

void start();

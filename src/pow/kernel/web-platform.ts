// Typed access to the platform objects the minter uses in both node and browsers but that the
// project's type library (@types/node, no DOM) does not describe: WebAssembly, Web Workers, and a
// MessageChannel whose ports take `onmessage`. Only the members used here are declared.

/** A compiled WebAssembly module (structured-cloneable, so workers can share one). */
export interface WasmModule {
  readonly __brand?: 'WebAssembly.Module';
}

export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}

interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

interface WebAssemblyApi {
  Module: new (bytes: Uint8Array<ArrayBuffer>) => WasmModule;
  Instance: new (module: WasmModule, imports?: object) => WasmInstance;
  validate(bytes: Uint8Array<ArrayBuffer>): boolean;
  compile(bytes: Uint8Array<ArrayBuffer>): Promise<WasmModule>;
}

/** The WebAssembly namespace, or undefined in a runtime without it. */
export const webAssembly: WebAssemblyApi | undefined = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;

export interface WebMessageEvent<T> {
  readonly data: T;
}

export interface WebWorker {
  onmessage: ((event: WebMessageEvent<unknown>) => void) | null;
  onerror: ((event: { message: string }) => void) | null;
  postMessage(message: unknown): void;
  terminate(): void;
}

/** The Web Worker constructor of a browser page. */
export function webWorkerConstructor(): new (url: URL, options: { type: 'module'; name: string }) => WebWorker {
  const ctor = (globalThis as { Worker?: new (url: URL, options: { type: 'module'; name: string }) => WebWorker }).Worker;
  if (!ctor) throw new Error('this page has no Web Workers');
  return ctor;
}

interface WebMessagePort {
  onmessage: ((event: WebMessageEvent<unknown>) => void) | null;
  postMessage(message: unknown): void;
  close(): void;
}

/** A MessageChannel with the browser's port interface. */
export function webMessageChannel(): { port1: WebMessagePort; port2: WebMessagePort } {
  const ctor = (globalThis as unknown as { MessageChannel: new () => { port1: WebMessagePort; port2: WebMessagePort } }).MessageChannel;
  return new ctor();
}

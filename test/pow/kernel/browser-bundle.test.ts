// The browser bundle (dist/browser/, built by npm run build) mints real stamps. A page's Worker is
// stood in for by node worker_threads behind the Web Worker interface the bundle uses (a `Worker`
// constructor on the page; `name`, `postMessage` and `onmessage` inside the worker), so the bundled
// files run unchanged: the module, its worker script and the kernel bytes inside it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Worker as NodeWorker } from 'node:worker_threads';
import { verifyStamp } from '../../../src/pow/verify.js';

const BUNDLE = new URL('../../../browser/keypost-mint.js', import.meta.url);

// Runs inside the thread: the worker-side globals a browser gives a module worker. As in a browser,
// messages that arrive while the module script loads wait until it has run.
const BOOTSTRAP = `
const { parentPort, workerData } = require('node:worker_threads');
globalThis.name = workerData.name;
globalThis.postMessage = (message) => parentPort.postMessage(message);
const early = [];
let loaded = false;
parentPort.on('message', (data) => (loaded ? globalThis.onmessage?.({ data }) : early.push(data)));
import(workerData.url).then(() => {
  loaded = true;
  for (const data of early.splice(0)) globalThis.onmessage?.({ data });
});
`;

class PageWorker {
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onerror: ((event: { message: string }) => void) | null = null;
  private readonly thread: NodeWorker;
  static started = 0;

  constructor(url: URL, options: { type: 'module'; name: string }) {
    assert.equal(options.type, 'module');
    PageWorker.started++;
    this.thread = new NodeWorker(BOOTSTRAP, { eval: true, workerData: { url: url.href, name: options.name } });
    this.thread.on('message', (data) => this.onmessage?.({ data }));
    this.thread.on('error', (err) => this.onerror?.({ message: err.message }));
  }

  postMessage(message: unknown): void {
    this.thread.postMessage(message);
  }

  terminate(): void {
    void this.thread.terminate();
  }
}

interface BrowserMinter {
  mintStamp(resource: string, bits: number, options?: object): Promise<{ stamp: string; hashes: number; seconds: number; engine: string }>;
  createMintPool(options?: object): { warm(): void; close(): void };
  MAX_MINT_BITS: number;
}

const valid = (stamp: string, resource: string, bits: number) =>
  verifyStamp(stamp, { resource, bits, now: new Date(), validitySeconds: 86_400, graceSeconds: 86_400 }).ok;

describe('browser bundle', () => {
  let minter: BrowserMinter;
  before(async () => {
    assert.ok(existsSync(BUNDLE), 'npm run build writes dist/browser/keypost-mint.js');
    (globalThis as { Worker?: unknown }).Worker = PageWorker;
    minter = (await import(BUNDLE.href)) as BrowserMinter;
  });
  after(() => {
    delete (globalThis as { Worker?: unknown }).Worker;
  });

  for (const engine of ['wasm', 'js'] as const) {
    it(`mints a valid stamp in its workers with the ${engine} engine`, async () => {
      const result = await minter.mintStamp('Page@Example.org', 16, { workers: 2, engine });
      assert.equal(result.engine, engine);
      assert.ok(valid(result.stamp, 'page@example.org', 16), result.stamp);
      assert.match(result.stamp, /^1:16:\d{6}:page@example\.org::[A-Za-z0-9+/]{16}:0*[A-Za-z0-9+/]{8}$/);
      assert.ok(result.hashes > 0 && result.seconds > 0);
    });
  }

  it('reports progress and stops on abort', async () => {
    const controller = new AbortController();
    const seen: number[] = [];
    await assert.rejects(
      minter.mintStamp('page@example.org', minter.MAX_MINT_BITS, {
        workers: 2,
        signal: controller.signal,
        onProgress: (hashes: number) => {
          seen.push(hashes);
          if (seen.length === 4) controller.abort();
        },
      }),
      (err: { code?: string }) => err.code === 'POW_MINT_ABORTED',
    );
    assert.equal(seen.length, 4);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1]);
  });

  it('keeps a pool warm across stamps', async () => {
    const pool = minter.createMintPool({ workers: 2 });
    try {
      pool.warm();
      const started = PageWorker.started;
      for (let i = 0; i < 3; i++) assert.ok(valid((await minter.mintStamp(`p${i}@example.org`, 14, { pool })).stamp, `p${i}@example.org`, 14));
      assert.equal(PageWorker.started, started, 'no worker started after warm()');
    } finally {
      pool.close();
    }
  });
});

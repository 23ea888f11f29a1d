// The browser bundle in a real browser: headless Chromium loads dist/browser/keypost-mint.js from a
// page on loopback, mints in its Web Workers (module workers, the WebAssembly SIMD kernel where the
// browser has it), and posts what it got back to the page's server. The stamps it mints must pass
// the hashcash 1.22 tool, as every stamp keypost mints must.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireTool } from '../../support/tools.js';
import { hashcashCheck } from '../hashcash-tool.js';

const skip = requireTool('chromium', 'hashcash');
const BUNDLE_DIR = fileURLToPath(new URL('../../../browser/', import.meta.url));

// The page mints twice (the engine the browser selects on its own, then the JavaScript fallback),
// then starts a mint no one could finish and aborts it after a few progress reports.
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mint</title></head><body>
<script type="module">
import { mintStamp, MAX_MINT_BITS } from './keypost-mint.js';
const report = (body) => fetch('/result', { method: 'POST', body: JSON.stringify(body) });
try {
  const minted = [];
  for (const engine of ['auto', 'js']) {
    const r = await mintStamp('Page@Example.org', 18, { workers: 2, engine });
    minted.push({ asked: engine, engine: r.engine, stamp: r.stamp, hashes: r.hashes });
  }
  const controller = new AbortController();
  const progress = [];
  let abortCode = null;
  try {
    await mintStamp('page@example.org', MAX_MINT_BITS, {
      workers: 2,
      signal: controller.signal,
      onProgress: (hashes) => { progress.push(hashes); if (progress.length === 3) controller.abort(); },
    });
  } catch (err) {
    abortCode = err.code ?? String(err);
  }
  await report({ minted, abortCode, progress, cores: navigator.hardwareConcurrency });
} catch (err) {
  await report({ error: String(err && err.stack || err) });
}
</script></body></html>`;

interface PageReport {
  error?: string;
  minted: { asked: string; engine: string; stamp: string; hashes: number }[];
  abortCode: string | null;
  progress: number[];
}

describe('browser bundle in Chromium', { skip }, () => {
  let server: Server;
  let report: Promise<PageReport>;
  let browser: ChildProcess | undefined;
  let profile: string;
  let browserLog = '';

  before(async () => {
    let deliver!: (r: PageReport) => void;
    report = new Promise((resolve) => (deliver = resolve));
    server = createServer((req, res) => {
      if (req.method === 'POST' && req.url === '/result') {
        let body = '';
        req.on('data', (d) => (body += d)).on('end', () => {
          res.writeHead(204).end();
          deliver(JSON.parse(body) as PageReport);
        });
        return;
      }
      const files: Record<string, [string, () => Buffer | string]> = {
        '/': ['text/html; charset=utf-8', () => PAGE],
        '/keypost-mint.js': ['text/javascript', () => readFileSync(path.join(BUNDLE_DIR, 'keypost-mint.js'))],
        '/keypost-mint-worker.js': ['text/javascript', () => readFileSync(path.join(BUNDLE_DIR, 'keypost-mint-worker.js'))],
      };
      const file = files[req.url ?? ''];
      if (!file) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': file[0] }).end(file[1]());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    profile = mkdtempSync(path.join(tmpdir(), 'kp-chromium-'));
    // 127.0.0.1 is a secure context, so the page has crypto.subtle for the final SHA-1 check.
    browser = spawn('chromium', [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--user-data-dir=${profile}`, `http://127.0.0.1:${port}/`,
    ], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    browser.stderr!.on('data', (d) => (browserLog = (browserLog + d).slice(-4000)));
  });

  after(async () => {
    // Chromium's renderer and GPU processes share its process group; stop them all before the
    // profile goes.
    if (browser?.pid && browser.exitCode === null) {
      const gone = new Promise((resolve) => browser!.once('exit', resolve));
      process.kill(-browser.pid, 'SIGKILL');
      await gone;
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  });

  it('mints stamps hashcash accepts, on the SIMD kernel by default, and stops on abort', { timeout: 120_000 }, async () => {
    const exited = new Promise<never>((_, reject) => browser!.once('exit', (code) => reject(new Error(`chromium exited (${code}) before the page reported:\n${browserLog}`))));
    const result = await Promise.race([report, exited]);
    assert.equal(result.error, undefined, result.error);

    const [auto, js] = result.minted;
    // Chromium has WebAssembly SIMD, so the bundle must select the kernel there on its own.
    assert.equal(auto.engine, 'wasm');
    assert.equal(js.engine, 'js');
    for (const { stamp, hashes } of result.minted) {
      assert.ok(hashes > 0);
      const verdict = hashcashCheck(stamp, { resource: 'page@example.org', bits: 18 });
      assert.equal(verdict.verdict, 'ok', `${stamp}: ${verdict.stderr}`);
    }

    assert.equal(result.abortCode, 'POW_MINT_ABORTED');
    assert.equal(result.progress.length, 3);
    assert.ok(result.progress[2] > result.progress[0], 'progress counts up');
  });
});

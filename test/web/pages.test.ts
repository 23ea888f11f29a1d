// What every page promises without a browser: a strict Content-Security-Policy and no inline
// script or style for it to allow, small assets, and the API's per-client rate limit on writes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { addDomain, startApi, type RunningApi } from '../directory/write-side.js';
import { ASSETS_DIR, MINTER_DIR } from '../../src/web/plugin.js';

const PAGES = ['/', '/?q=nobody@example.org', '/publish', '/remove', '/stamp', '/v/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'];

describe('web pages', () => {
  let testDb: TestDatabase;
  let api: RunningApi;

  before(async () => {
    testDb = await openTestDatabase();
    await addDomain(testDb.db, 'example.org');
    api = await startApi(testDb, { KEYPOST_RATE_LIMIT_MAX: '3', KEYPOST_RATE_LIMIT_WINDOW: '1h' });
  });

  after(async () => {
    await api?.close();
    await testDb?.close();
  });

  test('every page carries a CSP without inline script or style, and has none of either', async () => {
    for (const page of PAGES) {
      const response = await fetch(`${api.baseUrl}${page}`);
      const csp = response.headers.get('content-security-policy') ?? '';
      const directives = new Map(csp.split(';').map((d) => { const [name, ...values] = d.trim().split(/\s+/); return [name, values] as const; }));
      assert.deepEqual(directives.get('default-src'), ["'none'"], page);
      assert.deepEqual(directives.get('script-src'), ["'self'", "'wasm-unsafe-eval'"], page);
      assert.deepEqual(directives.get('style-src'), ["'self'"], page);
      assert.deepEqual(directives.get('frame-ancestors'), ["'none'"], page);
      assert.deepEqual(directives.get('form-action'), ["'self'"], page);
      assert.match(response.headers.get('content-type') ?? '', /^text\/html/, page);
      const html = await response.text();
      assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, `${page}: inline script`);
      assert.doesNotMatch(html, /<style|\sstyle=/i, `${page}: inline style`);
      assert.doesNotMatch(html, /\son[a-z]+=/i, `${page}: inline event handler`);
    }
  });

  test('the search echoes what was typed escaped, never as markup', async () => {
    const typed = '<img src=x onerror=alert(1)>@example.org';
    const html = await (await fetch(`${api.baseUrl}/?q=${encodeURIComponent(typed)}`)).text();
    assert.ok(!html.includes('<img src=x'), 'the query is escaped');
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'));
  });

  test('no asset is over 100 KB gzipped', () => {
    const files = [
      ...readdirSync(ASSETS_DIR).map((f) => path.join(ASSETS_DIR, f)),
      ...readdirSync(MINTER_DIR).filter((f) => f.endsWith('.js')).map((f) => path.join(MINTER_DIR, f)),
    ];
    assert.ok(files.some((f) => f.endsWith('keypost-mint-worker.js')), 'the minter bundle is served');
    for (const file of files) {
      const size = gzipSync(readFileSync(file)).length;
      assert.ok(size < 100 * 1024, `${path.basename(file)} is ${size} octets gzipped`);
    }
  });

  test('form writes are rate-limited per client like the API', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await fetch(`${api.baseUrl}/remove`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'address=x%40example.org' });
      statuses.push(response.status);
      if (response.status === 429) assert.match(await response.text(), /Too many requests/);
    }
    // Three refused for their missing CSRF token, then the limit of three is spent.
    assert.deepEqual(statuses, [403, 403, 403, 429]);
  });
});

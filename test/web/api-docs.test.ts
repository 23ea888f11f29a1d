/// <reference lib="dom" />
// /docs is the OpenAPI document rendered for people (Swagger UI), under a CSP of its own that
// allows no inline script; the machine-readable document stays at /docs/json, and / is still the
// web front with its stricter CSP.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { addDomain, startApi, type RunningApi } from '../directory/write-side.js';
import { launchChromium, openPage } from './browser.js';

function cspDirectives(header: string | null): Map<string, string[]> {
  return new Map((header ?? '').split(';').filter((d) => d.trim()).map((d) => {
    const [name, ...values] = d.trim().split(/\s+/);
    return [name, values] as const;
  }));
}

describe('API documentation at /docs', () => {
  let testDb: TestDatabase;
  let api: RunningApi;

  before(async () => {
    testDb = await openTestDatabase();
    await addDomain(testDb.db, 'example.org');
    api = await startApi(testDb);
  });

  after(async () => {
    await api?.close();
    await testDb?.close();
  });

  test('GET /docs is an HTML page under a CSP without inline script; /docs/json is the document', async () => {
    const page = await fetch(`${api.baseUrl}/docs`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const csp = cspDirectives(page.headers.get('content-security-policy'));
    assert.deepEqual(csp.get('default-src'), ["'none'"]);
    assert.deepEqual(csp.get('script-src'), ["'self'"]);
    assert.deepEqual(csp.get('frame-ancestors'), ["'none'"]);
    const html = await page.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline script');
    for (const src of html.matchAll(/<script[^>]*\bsrc="([^"]+)"/g)) {
      const asset = await fetch(new URL(src[1], `${api.baseUrl}/docs`));
      assert.equal(asset.status, 200, src[1]);
      await asset.arrayBuffer();
    }

    const json = await fetch(`${api.baseUrl}/docs/json`);
    assert.equal(json.status, 200);
    assert.equal(((await json.json()) as { openapi: string }).openapi, '3.0.3');
  });

  test('GET / is still the web front under its own CSP', async () => {
    const front = await fetch(`${api.baseUrl}/`);
    assert.equal(front.status, 200);
    assert.match(front.headers.get('content-type') ?? '', /^text\/html/);
    assert.deepEqual(cspDirectives(front.headers.get('content-security-policy')).get('script-src'), ["'self'", "'wasm-unsafe-eval'"]);
    assert.match(await front.text(), /href="\/docs"/, 'the front links the API documentation');
  });

  describe('in Chromium', { skip: requireTool('chromium') }, () => {
    let browser: Browser;
    before(async () => {
      browser = await launchChromium();
    });
    after(async () => {
      await browser?.close();
    });

    test('the page renders the operations from the document, links the JSON, and breaks no CSP rule', { timeout: 60_000 }, async () => {
      const { page, errors, screenshot, close } = await openPage(browser);
      try {
        await page.goto(`${api.baseUrl}/docs`);
        // Rendered operations mean the UI fetched and parsed /docs/json under the page's CSP.
        await page.locator('.opblock-summary-path', { hasText: '/vks/v1/upload' }).first().waitFor({ timeout: 30_000 });
        const jsonLink = await page.locator('a[href$="/docs/json"], a[href="./json"], a[href="json"]').count();
        assert.ok(jsonLink >= 1, 'the page links the OpenAPI JSON');
        await screenshot('api-docs');
        assert.deepEqual(errors, [], 'the browser console shows errors (a CSP violation is one)');
      } finally {
        await close();
      }
    });
  });
});

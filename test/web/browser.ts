// Pages under test in a real browser: Debian's Chromium driven by playwright-core (which downloads
// no browser). Every page a test visits is checked the same way: axe-core finds no serious or
// critical accessibility violation, the console shows no error, and a screenshot is kept under
// test-artifacts/web/ (the folder README.md names).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS_DIR = path.resolve('test-artifacts/web');

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface CheckedPage {
  page: Page;
  context: BrowserContext;
  /** Console errors and uncaught exceptions seen so far. */
  errors: string[];
  /** Runs axe, asserts no console error, saves a screenshot named `name`. */
  check(name: string, options?: { allowErrors?: RegExp }): Promise<void>;
  /** Only the screenshot (a page without JavaScript cannot run axe). */
  screenshot(name: string): Promise<void>;
  close(): Promise<void>;
}

export async function openPage(
  browser: Browser,
  options: { viewport?: { width: number; height: number }; javaScript?: boolean } = {},
): Promise<CheckedPage> {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1024, height: 900 },
    acceptDownloads: true,
    javaScriptEnabled: options.javaScript ?? true,
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`${page.url()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`${page.url()}: uncaught ${error.message}`));
  const screenshot = async (name: string) => {
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, `${name}.png`), fullPage: true });
  };
  return {
    page,
    context,
    errors,
    screenshot,
    async check(name, checkOptions = {}) {
      await screenshot(name);
      // Evaluated through the DevTools protocol, which the page's CSP does not govern: an inline
      // <script> carrying axe would (rightly) be refused.
      await page.evaluate(AXE_SOURCE);
      const violations = await page.evaluate(async () => {
        const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: unknown }[] }[] }> } }).axe;
        const result = await axe.run();
        return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => JSON.stringify(n.target)) }));
      });
      const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      assert.deepEqual(serious, [], `${name}: axe found serious or critical violations`);
      const unexpected = errors.filter((e) => !checkOptions.allowErrors?.test(e));
      assert.deepEqual(unexpected, [], `${name}: the browser console shows errors`);
    },
    close: () => context.close(),
  };
}

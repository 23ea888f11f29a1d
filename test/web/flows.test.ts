/// <reference lib="dom" />
// The web pages end to end in Chromium against a running keypost (the real HTTP listener from
// main.ts, its directory, the test mail sink): publish by upload, confirm through the mailed link,
// find the key; remove through a mailed link; mint a stamp in the page that hashcash(1) accepts;
// the same forms with JavaScript off; forms refuse a POST without a CSRF token. Every page visited
// passes axe and a clean console.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { dnsNamesFor } from '../../src/protocol/address-hashes.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { startMailSink, type MailSink } from '../support/mail-sink.js';
import { requireTool } from '../support/tools.js';
import { addDomain, decryptMail, linkIn, makeKey, postJson, startApi, type RunningApi, type TestKey } from '../directory/write-side.js';
import { hashcashCheck } from '../pow/hashcash-tool.js';
import { launchChromium, openPage } from './browser.js';

const skip = requireTool('chromium', 'hashcash');
const PRICE = 16;
const ENDPOINT = 'smtp://mx.example.org:25';

describe('web pages in Chromium', { skip }, () => {
  let testDb: TestDatabase;
  let sink: MailSink;
  let api: RunningApi;
  let browser: Browser;
  let scratch: string;

  before(async () => {
    testDb = await openTestDatabase();
    sink = await startMailSink();
    await addDomain(testDb.db, 'example.org', { powBits: PRICE, endpoint: ENDPOINT });
    api = await startApi(testDb, { KEYPOST_MAIL_SUBMISSION_URL: sink.url });
    browser = await launchChromium();
    scratch = mkdtempSync(path.join(tmpdir(), 'kp-web-'));
  });

  after(async () => {
    await browser?.close();
    await api?.close();
    await sink?.close();
    await testDb?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  /** The link in the newest mail to `address` matching `subject`, decrypted with the key. */
  async function mailedLink(key: TestKey, address: string, mailsBefore: number, what: RegExp): Promise<string> {
    const mail = await sink.waitFor((m) => m.to.includes(address) && sink.messages.indexOf(m) >= mailsBefore && what.test(m.raw));
    return linkIn(await decryptMail(mail, key.privateKey)).link;
  }

  /** Publishes `address` through the API (upload, request-verify, confirm), as a setup step. */
  async function publishThroughApi(key: TestKey, address: string): Promise<void> {
    const upload = await postJson(`${api.baseUrl}/vks/v1/upload`, { keytext: key.publicKey });
    const mailsBefore = sink.messages.length;
    const verify = await postJson(`${api.baseUrl}/vks/v1/request-verify`, { token: upload.body.token, addresses: [address] });
    assert.equal(verify.status, 200, JSON.stringify(verify.body));
    const { token } = linkIn(await decryptMail(await sink.waitFor((m) => m.to.includes(address) && sink.messages.indexOf(m) >= mailsBefore), key.privateKey));
    assert.equal((await postJson(`${api.baseUrl}/v/${token}`, {})).status, 200);
  }

  test('upload a key file, open the mailed link, confirm, and search finds the key', { timeout: 120_000 }, async () => {
    const key = await makeKey(['Alice <alice@example.org>', 'alice@unserved.example']);
    const file = path.join(scratch, 'alice.asc');
    writeFileSync(file, key.publicKey);
    const { page, check, close } = await openPage(browser);
    try {
      await page.goto(`${api.baseUrl}/publish`);
      await check('publish-form');
      await page.setInputFiles('#keyfile', file);
      const mailsBefore = sink.messages.length;
      await page.getByRole('button', { name: 'Upload and mail confirmation links' }).click();
      await page.getByRole('heading', { name: 'Check your mail' }).waitFor();
      assert.deepEqual(await page.locator('#mailed li').allTextContents(), ['alice@example.org']);
      await check('publish-mailed');

      // Uploading again within the cooldown mails nothing and says why.
      await page.goto(`${api.baseUrl}/publish`);
      await page.fill('#keytext', key.publicKey);
      await page.getByRole('button', { name: 'Upload and mail confirmation links' }).click();
      await page.getByRole('heading', { name: 'Check your mail' }).waitFor();
      assert.equal(await page.locator('#mailed').count(), 0);
      assert.equal(await page.locator('#skipped dt').textContent(), 'alice@example.org');
      assert.match((await page.locator('#skipped dd').textContent()) ?? '', /mailed to it recently/);

      const link = await mailedLink(key, 'alice@example.org', mailsBefore, /./);
      await page.goto(link);
      await page.getByRole('heading', { name: 'Confirm publication' }).waitFor();
      assert.match(await page.locator('main').innerText(), new RegExp(key.fingerprint));
      await check('confirm-publication');
      // The GET published nothing.
      const before = await fetch(`${api.baseUrl}/v1/records/alice@example.org`);
      assert.equal(before.status, 404);
      await page.getByRole('button', { name: 'Publish' }).click();
      await page.getByRole('heading', { name: 'Published' }).waitFor();
      await check('confirmed-publication');

      await page.getByRole('link', { name: 'See what is published' }).click();
      await page.getByRole('heading', { name: 'Published for alice@example.org' }).waitFor();
      const main = await page.locator('main').innerText();
      assert.match(main, new RegExp(key.fingerprint));
      assert.match(main, /Alice <alice@example\.org>/);
      assert.match(main, new RegExp(`${PRICE} bits`));
      assert.match(main, new RegExp(ENDPOINT.replace(/[.]/g, '\\.')));
      assert.doesNotMatch(main, /unserved\.example/, 'an unverified user ID is never shown');
      // The dig commands name exactly the records the zone publishes (src/protocol/address-hashes).
      const names = dnsNamesFor('alice', 'example.org');
      const digs = await page.locator('ul.digs code').allTextContents();
      assert.deepEqual(digs, [
        `dig +short ${names.openpgpkey} OPENPGPKEY`,
        `dig +short ${names.keypost} TXT`,
        'dig +short _keypost.example.org TXT',
        `dig +short ${names.pka} CERT`,
      ]);
      await check('search-found');

      // The download is the armoured minimal key.
      const download = page.waitForEvent('download');
      await page.getByRole('link', { name: 'Download the armoured key' }).click();
      const saved = path.join(scratch, 'downloaded.asc');
      await (await download).saveAs(saved);
      const armored = (await import('node:fs')).readFileSync(saved, 'utf8');
      assert.match(armored, /^-----BEGIN PGP PUBLIC KEY BLOCK-----/);

      // By fingerprint and by key ID the same key and address are found.
      for (const term of [key.fingerprint, key.fingerprint.slice(24)]) {
        await page.goto(`${api.baseUrl}/?q=${term}`);
        assert.match(await page.locator('main').innerText(), /alice@example\.org/, `search by ${term}`);
      }
    } finally {
      await close();
    }
  });

  test('a miss says "nothing published", the same for unknown, unverified and unserved addresses', { timeout: 60_000 }, async () => {
    const pending = await makeKey(['pending@example.org']);
    const upload = await postJson(`${api.baseUrl}/vks/v1/upload`, { keytext: pending.publicKey });
    await postJson(`${api.baseUrl}/vks/v1/request-verify`, { token: upload.body.token, addresses: ['pending@example.org'] });
    const { page, check, close } = await openPage(browser, { viewport: { width: 360, height: 740 } });
    try {
      const answers: string[] = [];
      for (const query of ['nobody@example.org', 'pending@example.org', 'someone@unserved.example', pending.fingerprint]) {
        await page.goto(`${api.baseUrl}/`);
        await page.getByLabel('Address, fingerprint or key ID').fill(query);
        await page.getByRole('button', { name: 'Search' }).click();
        await page.getByRole('heading', { name: 'Nothing published' }).waitFor();
        answers.push((await page.locator('main').innerText()).replace(query, '<query>'));
      }
      assert.equal(new Set(answers).size, 1, 'every miss reads the same');
      // Phone width: nothing scrolls sideways.
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth));
      await check('search-nothing-published-phone');
    } finally {
      await close();
    }
  });

  test('remove: a mailed removal link deletes the address and search no longer finds it', { timeout: 120_000 }, async () => {
    const key = await makeKey(['bob@example.org']);
    await publishThroughApi(key, 'bob@example.org');
    const { page, check, close } = await openPage(browser);
    try {
      await page.goto(`${api.baseUrl}/remove`);
      await check('remove-form');
      await page.getByLabel('Mail address').fill('bob@example.org');
      const mailsBefore = sink.messages.length;
      await page.getByRole('button', { name: 'Mail me a removal link' }).click();
      await page.getByRole('heading', { name: 'Check your mail' }).waitFor();
      await check('remove-mailed');

      const link = await mailedLink(key, 'bob@example.org', mailsBefore, /Delete/);
      await page.goto(link);
      await page.getByRole('heading', { name: 'Confirm deletion' }).waitFor();
      await check('confirm-deletion');
      await page.getByRole('button', { name: 'Delete' }).click();
      await page.getByRole('heading', { name: 'Deleted' }).waitFor();
      await check('confirmed-deletion');

      await page.goto(`${api.baseUrl}/?q=bob@example.org`);
      await page.getByRole('heading', { name: 'Nothing published' }).waitFor();
      assert.equal((await fetch(`${api.baseUrl}/v1/records/bob@example.org`)).status, 404);

      // The used link now says so and does nothing.
      await page.goto(link);
      await page.getByRole('heading', { name: 'Link already used' }).waitFor();
    } finally {
      await close();
    }
  });

  test('with JavaScript off, publish, confirm, search and remove all work as plain forms', { timeout: 120_000 }, async () => {
    const key = await makeKey(['nojs@example.org']);
    const { page, screenshot, errors, close } = await openPage(browser, { javaScript: false });
    try {
      await page.goto(`${api.baseUrl}/publish`);
      await page.fill('#keytext', key.publicKey);
      let mailsBefore = sink.messages.length;
      await page.getByRole('button', { name: 'Upload and mail confirmation links' }).click();
      await page.getByRole('heading', { name: 'Check your mail' }).waitFor();
      await page.goto(await mailedLink(key, 'nojs@example.org', mailsBefore, /./));
      await page.getByRole('button', { name: 'Publish' }).click();
      await page.getByRole('heading', { name: 'Published' }).waitFor();

      await page.goto(`${api.baseUrl}/`);
      await page.getByLabel('Address, fingerprint or key ID').fill('nojs@example.org');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.getByRole('heading', { name: 'Published for nojs@example.org' }).waitFor();
      assert.match(await page.locator('main').innerText(), new RegExp(key.fingerprint));
      await screenshot('nojs-search-found');

      await page.goto(`${api.baseUrl}/remove`);
      await page.getByLabel('Mail address').fill('nojs@example.org');
      mailsBefore = sink.messages.length;
      await page.getByRole('button', { name: 'Mail me a removal link' }).click();
      await page.getByRole('heading', { name: 'Check your mail' }).waitFor();
      await page.goto(await mailedLink(key, 'nojs@example.org', mailsBefore, /Delete/));
      await page.getByRole('button', { name: 'Delete' }).click();
      await page.getByRole('heading', { name: 'Deleted' }).waitFor();
      assert.equal((await fetch(`${api.baseUrl}/v1/records/nojs@example.org`)).status, 404);
      assert.deepEqual(errors, []);
    } finally {
      await close();
    }
  });

  test('mint a stamp in the page at the published price; hashcash -c accepts it', { timeout: 180_000 }, async () => {
    const key = await makeKey(['carol@example.org']);
    await publishThroughApi(key, 'carol@example.org');
    const { page, check, close } = await openPage(browser);
    try {
      await page.goto(`${api.baseUrl}/stamp?address=Carol@Example.org`);
      assert.equal(await page.getByLabel('Bits').inputValue(), String(PRICE), 'the page fills in the published price');
      await page.getByRole('button', { name: 'Mint' }).click();
      const stampBox = page.getByLabel('Stamp (X-Hashcash header value)');
      await stampBox.waitFor({ state: 'visible', timeout: 150_000 });
      const stamp = await stampBox.inputValue();
      assert.equal(await page.locator('#progress').evaluate((bar) => (bar as HTMLProgressElement).value), 1, 'the bar ends full');
      assert.match(await page.getByRole('status').innerText(), /^Done: [\d,]+ hashes in [\d.]+ s\.$/);
      const verdict = hashcashCheck(stamp, { resource: 'carol@example.org', bits: PRICE });
      assert.equal(verdict.verdict, 'ok', `${stamp}: ${verdict.stderr}`);
      await check('stamp-minted');
    } finally {
      await close();
    }
  });

  test('a form POST without its CSRF token is refused and changes nothing', { timeout: 60_000 }, async () => {
    const key = await makeKey(['dave@example.org']);
    const { page, check, close } = await openPage(browser);
    try {
      await page.goto(`${api.baseUrl}/publish`);
      const cookie = (await page.context().cookies()).find((c) => c.name === '_csrf');
      assert.equal(cookie?.httpOnly, true);
      assert.equal(cookie?.sameSite, 'Strict');
      await page.fill('#keytext', key.publicKey);
      await page.evaluate(() => document.querySelector('input[name="_csrf"]')!.remove());
      const mailsBefore = sink.messages.length;
      await page.getByRole('button', { name: 'Upload and mail confirmation links' }).click();
      await page.getByRole('heading', { name: 'Not done' }).waitFor();
      assert.match(await page.locator('main').innerText(), /did not come from this site/);
      // The refused page is a 403, which Chromium reports on the console; nothing else may be.
      await check('csrf-refused', { allowErrors: /status of 403/ });
      const upload = await postJson(`${api.baseUrl}/vks/v1/upload`, { keytext: key.publicKey });
      assert.equal(upload.body.status['dave@example.org'], 'unpublished', 'the refused form mailed nothing');
      assert.equal(sink.messages.slice(mailsBefore).some((m) => m.to.includes('dave@example.org')), false);
    } finally {
      await close();
    }
    // Without a browser: no cookie, no token, every state-changing form answers 403.
    for (const [pathname, body] of [['/publish', `keytext=${encodeURIComponent(key.publicKey)}`], ['/remove', 'address=dave%40example.org'], ['/v/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/confirm', '']]) {
      const response = await fetch(`${api.baseUrl}${pathname}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
      assert.equal(response.status, 403, pathname);
    }
  });
});

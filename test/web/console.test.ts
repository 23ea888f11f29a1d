/// <reference lib="dom" />
// The domain owner's console in Chromium against keypost's HTTP and DNS listeners: sign in with the
// owner token (kept only in an HttpOnly, SameSite=Strict cookie, never in a URL), see the zone's
// addresses, change the stamp price and see it in `dig`, publish and withdraw an address, sign out; a session
// past its time ends on the server even if the browser still sends the cookie.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { Browser } from 'playwright-core';
import { loadConfig } from '../../src/config.js';
import { startKeypost, type RunningKeypost } from '../../src/main.js';
import { SESSION_SECONDS } from '../../src/web/owner-session.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { addDomain, makeKey, ownerPublish } from '../directory/write-side.js';
import { dig, waitFor } from '../dns/support/server.js';
import { launchChromium, openPage } from './browser.js';

const skip = requireTool('chromium', 'dig');
const ZONE = 'console.test';

describe('domain console in Chromium', { skip }, () => {
  let testDb: TestDatabase;
  let keypost: RunningKeypost;
  let browser: Browser;
  let token: string;
  let baseUrl: string;
  let clockOffsetMs = 0;

  const dnsServer = () => {
    const address = keypost.addresses.dns!;
    return { host: '127.0.0.1', port: Number(address.slice(address.lastIndexOf(':') + 1)) };
  };

  before(async () => {
    testDb = await openTestDatabase();
    token = await addDomain(testDb.db, ZONE, { powBits: 20 });
    const config = loadConfig({ ...testDb.env, KEYPOST_DNS_LISTEN: '127.0.0.1:0', KEYPOST_HTTP_LISTEN: '127.0.0.1:0', KEYPOST_LOG_LEVEL: 'silent' });
    keypost = await startKeypost({ config, log: pino({ level: 'silent' }), only: ['dns', 'api'], now: () => new Date(Date.now() + clockOffsetMs) });
    baseUrl = `http://${keypost.addresses.api}`;
    for (const local of ['erin', 'frank']) {
      await ownerPublish(baseUrl, ZONE, token, `${local}@${ZONE}`, (await makeKey([`${local}@${ZONE}`])).publicKey);
    }
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await keypost?.close();
    await testDb?.close();
  });

  test('owner signs in, sees the addresses, changes the price and sees it in dig, publishes, withdraws, signs out', { timeout: 120_000 }, async () => {
    const { page, check, close, errors } = await openPage(browser);
    const requested: string[] = [];
    page.on('request', (request) => requested.push(request.url()));
    try {
      await page.goto(`${baseUrl}/console`);
      await check('console-sign-in');
      await page.getByLabel('Domain').fill(ZONE);
      await page.getByLabel('Owner token').fill('not-the-token');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByText('That token does not open that domain.').waitFor();
      // The refusal is a 403, which Chromium reports on the console: expected once, and only that.
      assert.deepEqual(errors.splice(0).map((e) => /status of (\d+)/.exec(e)?.[1]), ['403']);

      await page.getByLabel('Owner token').fill(token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: `Console for ${ZONE}` }).waitFor();
      const session = (await page.context().cookies()).find((c) => c.name === 'kp_owner');
      assert.equal(session?.httpOnly, true);
      assert.equal(session?.sameSite, 'Strict');
      assert.equal(session?.path, '/console');
      assert.deepEqual(await page.locator('#addresses tbody th a').allTextContents(), [`erin@${ZONE}`, `frank@${ZONE}`]);
      await check('console-signed-in');

      // Searchable: a prefix narrows the list.
      await page.getByLabel('Addresses starting with').fill('fr');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForURL(/q=fr/);
      assert.deepEqual(await page.locator('#addresses tbody th a').allTextContents(), [`frank@${ZONE}`]);

      assert.match(await dig(dnsServer(), '+short', `_keypost.${ZONE}`, 'TXT'), /pow=20/);
      await page.getByLabel('Stamp price (bits)').fill('23');
      await page.getByLabel('Mail the gateway accepts').selectOption('encrypted');
      await page.getByRole('button', { name: 'Save the policy' }).click();
      await page.getByText('The zone policy is saved and published.').waitFor();
      await waitFor('the new price and requirement in DNS', async () => (/pow=23; req=encrypted/.test(await dig(dnsServer(), '+short', `_keypost.${ZONE}`, 'TXT')) ? true : undefined));
      assert.equal(await page.getByLabel('Mail the gateway accepts').inputValue(), 'encrypted', 'the form shows what is stored');

      // Publish: the owner vouches, so the address is served at once.
      const gina = await makeKey([`gina@${ZONE}`]);
      await page.getByLabel('Address', { exact: true }).fill(`gina@${ZONE}`);
      await page.getByLabel('or paste the armoured key').fill(gina.publicKey);
      await page.getByRole('button', { name: 'Publish', exact: true }).click();
      await page.getByText(`gina@${ZONE} is published with key ${gina.fingerprint}.`).waitFor();
      const record = await fetch(`${baseUrl}/v1/records/gina@${ZONE}`);
      assert.equal(record.status, 200);
      assert.equal((await record.json()).fingerprint, gina.fingerprint);

      await page.getByRole('button', { name: `Withdraw frank@${ZONE}` }).click();
      await page.getByText(`frank@${ZONE} is withdrawn.`).waitFor();
      assert.equal((await fetch(`${baseUrl}/v1/records/frank@${ZONE}`)).status, 404);

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('heading', { name: 'Domain console' }).waitFor();
      assert.equal((await page.context().cookies()).some((c) => c.name === 'kp_owner'), false, 'signing out drops the session cookie');
      assert.equal(requested.some((url) => url.includes(token)), false, 'the token never appears in a URL');
      await check('console-signed-out');
    } finally {
      await close();
    }
  });

  test('a session past its time is refused by the server, whatever the browser sends', { timeout: 60_000 }, async () => {
    const { page, check, close } = await openPage(browser);
    try {
      await page.goto(`${baseUrl}/console`);
      await page.getByLabel('Domain').fill(ZONE);
      await page.getByLabel('Owner token').fill(token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: `Console for ${ZONE}` }).waitFor();
      clockOffsetMs = (SESSION_SECONDS + 1) * 1000;
      await page.getByRole('button', { name: 'Save the policy' }).click();
      await page.getByText('Your session has ended. Sign in again.').waitFor();
      await check('console-session-ended', { allowErrors: /status of 401/ });
    } finally {
      clockOffsetMs = 0;
      await close();
    }
  });
});

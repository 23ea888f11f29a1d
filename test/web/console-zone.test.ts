/// <reference lib="dom" />
// What the owner's console and the search page say about a zone beyond its addresses, in Chromium
// against keypost's HTTP, DNS and SMTP listeners:
// - the DS record for the registrar (and the DNSKEY) is what `keypost dns ds` prints and what the
//   DNS server answers; a zone without DNSSEC says so;
// - mail deferred by the zone's next hop shows in the queue summary, and the retry button sends it
//   now (the next hop receives it), while another zone's deferred mail is left alone;
// - a search result says whether the address's zone is signed, with a `dig +dnssec` command that
//   really shows the signature.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { loadConfig } from '../../src/config.js';
import { startKeypost, type RunningKeypost } from '../../src/main.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { runKeypost } from '../support/keypost-process.js';
import { requireTool } from '../support/tools.js';
import { makeKey, ownerPublish } from '../directory/write-side.js';
import { dig, section, waitFor } from '../dns/support/server.js';
import { dataReplies, hashcashStamp, startDownstream, swaks, type Downstream } from '../gateway/support.js';
import { launchChromium, openPage } from './browser.js';

const skip = requireTool('chromium', 'dig', 'hashcash', 'swaks');
const SIGNED = 'signed.test';
const PLAIN = 'plain.test';

describe('zone status in the console and the search, in Chromium', { skip }, () => {
  let testDb: TestDatabase;
  let keypost: RunningKeypost;
  let browser: Browser;
  let downstream: Downstream;
  let baseUrl: string;
  const tokens: Record<string, string> = {};

  const dnsServer = () => {
    const address = keypost.addresses.dns!;
    return { host: '127.0.0.1', port: Number(address.slice(address.lastIndexOf(':') + 1)) };
  };

  before(async () => {
    testDb = await openTestDatabase();
    // The next hop defers everything until a test says otherwise.
    downstream = await startDownstream();
    downstream.mode = 'defer';
    for (const [zone, dnssec] of [[SIGNED, 'on'], [PLAIN, 'off']]) {
      const added = await runKeypost(['domain', 'add', zone, '--pow', '8', '--next-hop', downstream.hop, '--dnssec', dnssec, '--json'], testDb.env);
      assert.equal(added.code, 0, added.stderr);
      tokens[zone] = JSON.parse(added.stdout).owner_token;
    }
    const config = loadConfig({
      ...testDb.env,
      KEYPOST_DNS_LISTEN: '127.0.0.1:0',
      KEYPOST_HTTP_LISTEN: '127.0.0.1:0',
      KEYPOST_SMTP_LISTEN: '127.0.0.1:0',
      KEYPOST_SMTP_HOSTNAME: 'gw.test',
      KEYPOST_LOG_LEVEL: 'silent',
      // A deferred recipient waits an hour: only the console's retry sends it sooner.
      KEYPOST_RELAY_RETRY_MIN: '1h',
      KEYPOST_RELAY_RETRY_MAX: '4h',
      KEYPOST_RELAY_POLL_INTERVAL: '200ms',
      KEYPOST_RELAY_TIMEOUT: '5s',
    });
    keypost = await startKeypost({ config, log: pino({ level: 'silent' }), only: ['dns', 'api', 'gateway'] });
    baseUrl = `http://${keypost.addresses.api}`;
    for (const address of [`alice@${SIGNED}`, `bob@${PLAIN}`]) {
      const zone = address.split('@')[1];
      await ownerPublish(baseUrl, zone, tokens[zone], address, (await makeKey([address])).publicKey);
    }
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await keypost?.close();
    await downstream?.close();
    await testDb?.close();
  });

  async function signIn(page: Page, zone: string): Promise<void> {
    await page.goto(`${baseUrl}/console`);
    await page.getByLabel('Domain').fill(zone);
    await page.getByLabel('Owner token').fill(tokens[zone]);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: `Console for ${zone}` }).waitFor();
  }

  /** Sends one stamped message through the gateway; resolves with its queue id. */
  async function send(to: string, subject: string): Promise<string> {
    const data = `From: <writer@sender.test>\r\nSubject: ${subject}\r\nX-Hashcash: ${await hashcashStamp(to, 8)}\r\n\r\n${subject}\r\n.\r\n`;
    const result = await swaks({ server: keypost.addresses.gateway!, from: 'writer@sender.test', to, data });
    const id = /queued as ([0-9A-F]{16})$/.exec(dataReplies(result.stdout).at(-1) ?? '')?.[1];
    assert.ok(id, result.stdout);
    return id;
  }

  const recipientRow = (id: string) => testDb.db.selectFrom('mail_queue_recipients').selectAll().where('message_id', '=', id).executeTakeFirst();

  test('the console shows the DS and DNSKEY that keypost dns ds prints and the DNS server answers', { timeout: 60_000 }, async () => {
    const cli = await runKeypost(['dns', 'ds', SIGNED], testDb.env);
    assert.equal(cli.code, 0, cli.stderr);
    const [dsLine, dnskeyLine] = cli.stdout.trim().split('\n');

    const { page, check, close } = await openPage(browser);
    try {
      await signIn(page, SIGNED);
      assert.deepEqual(await page.locator('code.ds-record').allTextContents(), [dsLine]);
      assert.deepEqual(await page.locator('code.dnskey-record').allTextContents(), [dnskeyLine]);
      // The DNSKEY the server serves is the one the page shows (dig splits the key field).
      const keyFields = (rdata: string) => {
        const [flags, protocol, algorithm, ...key] = rdata.trim().split(/\s+/);
        return `${flags} ${protocol} ${algorithm} ${key.join('')}`;
      };
      const served = await dig(dnsServer(), '+short', SIGNED, 'DNSKEY');
      assert.equal(keyFields(served), keyFields(dnskeyLine.replace(`${SIGNED}. IN DNSKEY `, '')));
      await check('console-dnssec');
      // On a phone the long records wrap instead of widening the page.
      await page.setViewportSize({ width: 360, height: 800 });
      const wide = await page.evaluate(() =>
        Array.from(document.querySelectorAll('main *')).filter((e) => e.getBoundingClientRect().right > 360).map((e) => `${e.tagName}.${e.className}#${e.id} ${Math.round(e.getBoundingClientRect().right)}`),
      );
      assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 360, `no sideways scrolling at 360 px: ${wide.join(', ')}`);
      await check('console-dnssec-phone');
    } finally {
      await close();
    }
  });

  test('a zone without DNSSEC says so in the console and in the search', { timeout: 60_000 }, async () => {
    const { page, check, close } = await openPage(browser);
    try {
      await signIn(page, PLAIN);
      await page.getByText(`DNSSEC is off for ${PLAIN}`).waitFor();
      assert.equal(await page.locator('code.ds-record').count(), 0);
      await check('console-dnssec-off');

      await page.goto(`${baseUrl}/?q=${encodeURIComponent(`bob@${PLAIN}`)}`);
      assert.match(await page.locator('.dnssec-status').innerText(), new RegExp(`^Not signed: ${PLAIN.replace('.', '\\.')} does not sign`));
      await check('search-unsigned');
    } finally {
      await close();
    }
  });

  test('a search result says the zone is signed, and its dig +dnssec command shows the signature', { timeout: 60_000 }, async () => {
    const { page, check, close } = await openPage(browser);
    try {
      await page.goto(`${baseUrl}/?q=${encodeURIComponent(`alice@${SIGNED}`)}`);
      assert.match(await page.locator('.dnssec-status').innerText(), new RegExp(`^Signed: ${SIGNED.replace('.', '\\.')} signs its answers`));
      const commands = await page.locator('section.address ul.digs-dnssec code').allTextContents();
      assert.ok(commands.some((c) => /^delv \S+\._keypost\.signed\.test\.? TXT$/.test(c)), commands.join('\n'));
      const digDnssec = commands.find((c) => c.startsWith('dig +dnssec '));
      assert.ok(digDnssec, commands.join('\n'));
      // The visitor's command, pointed at this server: the answer carries the RRSIG.
      const answer = section(await dig(dnsServer(), ...digDnssec.split(' ').slice(1)), 'ANSWER');
      assert.ok(answer.some((line) => / RRSIG OPENPGPKEY 13 /.test(line)), answer.join('\n'));
      await check('search-signed');
    } finally {
      await close();
    }
  });

  test('deferred mail shows in the queue summary and the retry button relays it; other zones are left alone', { timeout: 120_000 }, async () => {
    const mine = await send(`alice@${SIGNED}`, 'for the signed zone');
    const theirs = await send(`bob@${PLAIN}`, 'for the plain zone');
    // Both are tried once, refused with a 451, and deferred for an hour.
    for (const id of [mine, theirs]) await waitFor(`deferral of ${id}`, async () => ((await recipientRow(id))?.last_error ? true : undefined), 20_000, 50);

    const { page, check, close } = await openPage(browser);
    try {
      await signIn(page, SIGNED);
      const summary = page.locator('dl.queue-summary');
      assert.match(await summary.innerText(), /Queued\s+1 message for 1 recipient/);
      assert.match(await summary.innerText(), /Deferred\s+1 /);
      const rows = page.locator('#queue-entries tbody tr');
      assert.equal(await rows.count(), 1, 'only mail for this zone is listed');
      const row = await rows.first().innerText();
      assert.ok(row.includes(mine), row);
      assert.match(row, /451|try again later/);
      await check('console-queue-deferred');

      downstream.mode = 'accept';
      await page.getByRole('button', { name: 'Retry deferred mail now' }).click();
      await page.getByText('1 recipient is due now').waitFor();
      await downstream.waitForCount(1, 20_000);
      assert.deepEqual(downstream.mails[0].to, [`alice@${SIGNED}`]);
      assert.match(downstream.mails[0].raw.toString('latin1'), /^Subject: for the signed zone\r$/m);

      await waitFor('the delivered message to leave the queue', async () => ((await recipientRow(mine)) ? undefined : true), 20_000, 50);
      await page.goto(`${baseUrl}/console`);
      await page.getByText(`No mail for ${SIGNED} is waiting`).waitFor();
      await check('console-queue-empty');

      // The other zone's recipient kept its hour: the retry never touched it.
      const other = await recipientRow(theirs);
      assert.ok(other, 'the other zone’s message is still queued');
      assert.equal(other.attempts, 1);
      assert.ok(new Date(other.next_attempt_at).getTime() > Date.now() + 30 * 60_000, `next attempt ${String(other.next_attempt_at)}`);
    } finally {
      await close();
    }
  });

  test('the retry form is refused without its CSRF token', async () => {
    const response = await fetch(`${baseUrl}/console/queue/retry`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    assert.equal(response.status, 403);
  });
});

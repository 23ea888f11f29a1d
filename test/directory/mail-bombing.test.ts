// Issue 15 item 7: verification mail cannot be used to flood an inbox. The cooldown per (address,
// key) let 30 throwaway keys claiming one address send 30 mails; now every address has a budget of
// mails per window whatever the key, and every client has one whatever the address. Beyond either,
// the request is 429 with a stable code, and no mail goes out.
//
// The API runs behind a "proxy" (KEYPOST_TRUSTED_PROXIES=127.0.0.1) so each request can be a
// different client through X-Forwarded-For, as a botnet would be.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { startMailSink, type MailSink } from '../support/mail-sink.js';
import { addDomain, makeKey, postJson, startApi, type RunningApi } from './write-side.js';

let testDb: TestDatabase;
let sink: MailSink;
let api: RunningApi;

before(async () => {
  testDb = await openTestDatabase();
  sink = await startMailSink();
  await addDomain(testDb.db, 'example.org');
  api = await startApi(testDb, {
    KEYPOST_MAIL_SUBMISSION_URL: sink.url,
    KEYPOST_TRUSTED_PROXIES: '127.0.0.1',
    KEYPOST_VERIFY_MAIL_PER_CLIENT: '5',
  });
});

after(async () => {
  await api?.close();
  await sink?.close();
  await testDb?.close();
});

const mailsTo = (address: string) => sink.messages.filter((m) => m.to.includes(address)).length;

/** Uploads a fresh key for `address` and asks for its link, as client `client`. */
async function askForMail(address: string, client: string): Promise<{ status: number; body: any; headers?: Headers }> {
  const key = await makeKey([address]);
  const headers = { 'x-forwarded-for': client };
  const upload = await postJson(`${api.baseUrl}/vks/v1/upload`, { keytext: key.publicKey }, headers);
  assert.equal(upload.status, 200, JSON.stringify(upload.body));
  return postJson(`${api.baseUrl}/vks/v1/request-verify`, { token: upload.body.token, addresses: [address] }, headers);
}

/** A mail requested after everything else has been answered: once it arrives, earlier ones have too. */
async function barrier(client: string): Promise<void> {
  const address = `barrier-${client.replace(/\W/g, '-')}@example.org`;
  const answer = await askForMail(address, client);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  await sink.waitFor((m) => m.to.includes(address));
}

describe('verification mail budgets', () => {
  test('mail bombing: 30 throwaway keys claiming one address send 3 mails, then 429', async () => {
    const victim = 'victim@example.org';
    const answers = [];
    for (let i = 0; i < 30; i++) answers.push(await askForMail(victim, `198.51.100.${i + 1}`));

    assert.deepEqual(answers.slice(0, 3).map((a) => a.status), [200, 200, 200]);
    for (const answer of answers.slice(0, 3)) assert.equal(answer.body.status[victim], 'pending');
    for (const answer of answers.slice(3)) {
      assert.equal(answer.status, 429, JSON.stringify(answer.body));
      assert.equal(answer.body.code, 'DIR_VERIFY_MAIL_LIMITED');
      assert.equal(answer.body.address, victim);
      assert.ok(answer.body.retry_after > 0 && answer.body.retry_after <= 3600, `retry_after ${answer.body.retry_after}`);
    }

    // HKP add, which mails every address at once, is held to the same budget.
    const key = await makeKey([victim]);
    const response = await fetch(`${api.baseUrl}/pks/add`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '198.51.100.200' },
      body: new URLSearchParams({ keytext: key.publicKey }).toString(),
    });
    assert.equal(response.status, 429);
    assert.ok(Number(response.headers.get('retry-after')) > 0);
    assert.match(await response.text(), /victim@example\.org/);

    await barrier('198.51.100.250');
    assert.equal(mailsTo(victim), 3);
  });

  test('mail bombing from one client: its budget holds whatever addresses it names', async () => {
    const client = '203.0.113.9';
    const answers = [];
    for (let i = 0; i < 7; i++) answers.push(await askForMail(`spread-${i}@example.org`, client));
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200, 429, 429]);
    assert.equal(answers[5].body.code, 'DIR_VERIFY_MAIL_CLIENT_LIMITED');

    // Another client is not held up by this one's budget.
    await barrier('203.0.113.10');
    assert.equal(sink.messages.filter((m) => m.to.some((to) => to.startsWith('spread-'))).length, 5);
  });

  test('concurrent requests for one address cannot race past its budget', async () => {
    const target = 'raced@example.org';
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => askForMail(target, `192.0.2.${i + 1}`)));
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [200, 200, 200, ...Array(9).fill(429)]);
    await barrier('192.0.2.200');
    assert.equal(mailsTo(target), 3);
  });
});

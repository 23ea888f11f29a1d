// Issue 15 item 17: a node's own writes are visible to its own reads at once. A publish confirmed
// with POST /v/:token, or an owner's PUT, PATCH or DELETE, must show in /v1/records and VKS
// by-email in the very next request to the same node, without waiting for the change feed's
// NOTIFY or poll to reach the read model.
//
// Each case first makes the node hold the zone in memory (repeated reads of an address already
// published), so a read model that only refreshes from the change feed would still answer from
// the state before the write.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { startMailSink, type MailSink } from '../support/mail-sink.js';
import { addDomain, decryptMail, linkIn, makeKey, postJson, startApi, type RunningApi } from './write-side.js';

let testDb: TestDatabase;
let sink: MailSink;
let api: RunningApi;
let ownerToken: string;

before(async () => {
  testDb = await openTestDatabase();
  sink = await startMailSink();
  ownerToken = await addDomain(testDb.db, 'example.org', { powBits: 20 });
  api = await startApi(testDb, { KEYPOST_MAIL_SUBMISSION_URL: sink.url });
  const anchor = await makeKey(['anchor@example.org']);
  assert.equal((await owner('PUT', '/v1/domains/example.org/addresses/anchor@example.org', { keytext: anchor.publicKey })).status, 200);
});

after(async () => {
  await api?.close();
  await sink?.close();
  await testDb?.close();
});

async function owner(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { authorization: `Bearer ${ownerToken}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${api.baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

async function records(address: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${api.baseUrl}/v1/records/${encodeURIComponent(address)}`);
  return { status: response.status, body: await response.json() };
}

/** Reads the zone until the node answers from memory: the anchor is served, twice in a row. */
async function holdZoneInMemory(): Promise<void> {
  for (let served = 0; served < 2; ) served = (await records('anchor@example.org')).status === 200 ? served + 1 : 0;
}

describe('a node serves its own writes at once', () => {
  test('a publish confirmed with POST /v/:token is in /v1/records and VKS by-email in the next request', async () => {
    // Three confirmations, so a change feed that happens to deliver in between cannot hide a miss.
    const holders = ['carol', 'carl', 'caro'];
    const links: { address: string; fingerprint: string; token: string }[] = [];
    for (const name of holders) {
      const address = `${name}@example.org`;
      const key = await makeKey([`${name} <${address}>`]);
      const upload = await postJson(`${api.baseUrl}/vks/v1/upload`, { keytext: key.publicKey });
      assert.equal(upload.status, 200, JSON.stringify(upload.body));
      const verify = await postJson(`${api.baseUrl}/vks/v1/request-verify`, { token: upload.body.token, addresses: [address] });
      assert.equal(verify.status, 200, JSON.stringify(verify.body));
      const mail = await sink.waitFor((m) => m.to.includes(address));
      links.push({ address, fingerprint: key.fingerprint, token: linkIn(await decryptMail(mail, key.privateKey)).token });
    }
    for (const { address, fingerprint, token } of links) {
      await holdZoneInMemory();
      assert.equal((await records(address)).status, 404);
      const confirmed = await postJson(`${api.baseUrl}/v/${token}`, {});
      assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
      const served = await records(address);
      assert.equal(served.status, 200, `${address}: ${JSON.stringify(served.body)}`);
      assert.equal(served.body.fingerprint, fingerprint);
      const vks = await fetch(`${api.baseUrl}/vks/v1/by-email/${encodeURIComponent(address)}`);
      assert.equal(vks.status, 200);
    }
  });

  test("an owner's publish, price change and withdrawal each show in the next request", async () => {
    const key = await makeKey(['dave@example.org']);
    await holdZoneInMemory();
    assert.equal((await records('dave@example.org')).status, 404);

    assert.equal((await owner('PUT', '/v1/domains/example.org/addresses/dave@example.org', { keytext: key.publicKey })).status, 200);
    const published = await records('dave@example.org');
    assert.equal(published.status, 200, JSON.stringify(published.body));
    assert.equal(published.body.pow, 20, 'the zone price while the address sets none');

    await holdZoneInMemory();
    assert.equal((await owner('PATCH', '/v1/domains/example.org/addresses/dave@example.org', { pow: 27 })).status, 200);
    assert.equal((await records('dave@example.org')).body.pow, 27);

    await holdZoneInMemory();
    assert.equal((await owner('PATCH', '/v1/domains/example.org', { pow: 23 })).status, 200);
    assert.equal((await records('anchor@example.org')).body.pow, 23, 'a zone price change reaches addresses that set none');

    await holdZoneInMemory();
    assert.equal((await owner('DELETE', '/v1/domains/example.org/addresses/dave@example.org')).status, 204);
    assert.equal((await records('dave@example.org')).status, 404);
  });
});

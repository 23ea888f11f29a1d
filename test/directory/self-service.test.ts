// Self-service publication end to end: VKS upload → request-verify → the mail captured by a real
// SMTP listener, decrypted with the key → the link's page (GET changes nothing) → POST publishes.
// Also: used and expired links do nothing, a newer key replaces the old one, a revocation
// withdraws, deletion by the address holder, HKP add, limits and the OpenAPI document.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as openpgp from 'openpgp';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { startMailSink, type MailSink } from '../support/mail-sink.js';
import { addDomain, decryptMail, linkIn, logHeadSettled, makeKey, postJson, revokedCopy, startApi, type RunningApi } from './write-side.js';

let testDb: TestDatabase;
let sink: MailSink;
let api: RunningApi;
let clockOffsetMs = 0;
const now = () => new Date(Date.now() + clockOffsetMs);

before(async () => {
  testDb = await openTestDatabase();
  sink = await startMailSink();
  await addDomain(testDb.db, 'example.org');
  await addDomain(testDb.db, 'example.net');
  api = await startApi(testDb, { KEYPOST_MAIL_SUBMISSION_URL: sink.url, KEYPOST_VERIFY_TOKEN_TTL: '1h' }, { now });
});

after(async () => {
  await api?.close();
  await sink?.close();
  await testDb?.close();
});

async function addressRow(address: string) {
  return testDb.db.selectFrom('addresses').selectAll().where('address', '=', address).executeTakeFirst();
}

async function serial(zone: string): Promise<number> {
  const row = await testDb.db.selectFrom('domains').select('serial').where('name', '=', zone).executeTakeFirstOrThrow();
  return Number(row.serial);
}

/** Upload + request-verify for one address; returns the link token from the decrypted mail. */
async function requestLink(key: Awaited<ReturnType<typeof makeKey>>, address: string): Promise<string> {
  const upload = await postJson(`${api.baseUrl}/vks/v1/upload`, { keytext: key.publicKey });
  assert.equal(upload.status, 200, JSON.stringify(upload.body));
  const before = sink.messages.length;
  const verify = await postJson(`${api.baseUrl}/vks/v1/request-verify`, { token: upload.body.token, addresses: [address] });
  assert.equal(verify.status, 200, JSON.stringify(verify.body));
  assert.equal(verify.body.status[address], 'pending');
  const mail = await sink.waitFor((m) => m.to.includes(address) && sink.messages.indexOf(m) >= before);
  return linkIn(await decryptMail(mail, key.privateKey)).token;
}

let barriers = 0;
/**
 * Mails a fresh address and waits for that mail. Verification mail leaves in request order, so a
 * mail an earlier request should not have sent would have arrived by now: a test that checks
 * "no mail" waits for this positive event first instead of sleeping.
 */
async function mailBarrier(): Promise<void> {
  const address = `barrier${++barriers}@example.org`;
  await requestLink(await makeKey([address]), address);
}

describe('VKS upload and request-verify', () => {
  test('publishes an address only after the mailed, encrypted link is confirmed by POST', async () => {
    const key = await makeKey(['Alice <alice@example.org>', 'alice@elsewhere.example', 'Alice Net <alice@example.net>']);
    const upload = await postJson(`${api.baseUrl}/vks/v1/upload`, { keytext: key.publicKey });
    assert.equal(upload.status, 200);
    assert.equal(upload.body.key_fpr, key.fingerprint);
    // Only addresses of served domains count; nothing is published or mailed yet.
    assert.deepEqual(upload.body.status, { 'alice@example.net': 'unpublished', 'alice@example.org': 'unpublished' });
    assert.match(upload.body.token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(await addressRow('alice@example.org'), undefined);

    const verify = await postJson(`${api.baseUrl}/vks/v1/request-verify`, { token: upload.body.token, addresses: ['Alice@Example.org'] });
    assert.equal(verify.status, 200);
    assert.deepEqual(verify.body.status, { 'alice@example.net': 'unpublished', 'alice@example.org': 'pending' });

    const mail = await sink.waitFor((m) => m.to.includes('alice@example.org'));
    assert.match(mail.raw, /multipart\/encrypted; protocol="application\/pgp-encrypted"/);
    assert.doesNotMatch(mail.raw, /\/v\/[A-Za-z0-9_-]{43}/, 'the link must not be readable without the key');
    const text = await decryptMail(mail, key.privateKey);
    const { link, token } = linkIn(text);
    assert.ok(link.startsWith(api.baseUrl), `link ${link} points at the bound API address`);

    // The page a GET shows changes nothing (mail scanners follow links).
    const page = await fetch(link);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /<form method="post" action="\/v\//);
    assert.match(html, new RegExp(key.fingerprint));
    assert.equal(await addressRow('alice@example.org'), undefined);

    const serialBefore = await serial('example.org');
    const confirmed = await postJson(`${api.baseUrl}/v/${token}`, {});
    assert.equal(confirmed.status, 200);
    assert.deepEqual(confirmed.body, { status: 'published', address: 'alice@example.org', fingerprint: key.fingerprint });
    const row = await addressRow('alice@example.org');
    assert.equal(row?.status, 'published');
    assert.equal(row?.fingerprint, key.fingerprint);
    assert.equal(row?.source, 'self');
    assert.equal(row?.user_id, 'Alice <alice@example.org>');
    assert.ok((await serial('example.org')) > serialBefore, 'publishing bumps the zone serial');

    // The served copy by fingerprint carries the verified user ID only.
    const stored = await testDb.db.selectFrom('keys').select('key_data').where('fingerprint', '=', key.fingerprint).executeTakeFirstOrThrow();
    const servedText = Buffer.from(stored.key_data).toString('latin1');
    assert.ok(servedText.includes('alice@example.org'));
    assert.ok(!servedText.includes('alice@example.net'), 'an unverified address never reaches the served key');
    assert.ok(!servedText.includes('elsewhere.example'));

    // Status now reports the address as published.
    const again = await postJson(`${api.baseUrl}/vks/v1/upload`, { keytext: key.publicKey });
    assert.equal(again.body.status['alice@example.org'], 'published');
  });

  test('a used link does nothing the second time', async () => {
    const key = await makeKey(['used@example.org']);
    const token = await requestLink(key, 'used@example.org');
    assert.equal((await postJson(`${api.baseUrl}/v/${token}`, {})).status, 200);
    // The owner withdraws it; replaying the used link must not publish it again.
    await testDb.db.updateTable('addresses').set({ status: 'withdrawn' }).where('address', '=', 'used@example.org').execute();
    // The tree head covering the publication moves the serial a moment after it; only then is it still.
    await logHeadSettled(testDb.db, 'example.org');
    const serialBefore = await serial('example.org');
    const replay = await postJson(`${api.baseUrl}/v/${token}`, {});
    assert.equal(replay.status, 410);
    assert.equal(replay.body.code, 'DIR_TOKEN_USED');
    assert.equal((await addressRow('used@example.org'))?.status, 'withdrawn');
    assert.equal(await serial('example.org'), serialBefore);
    const page = await fetch(`${api.baseUrl}/v/${token}`);
    assert.equal(page.status, 410);
  });

  test('an expired link does nothing', async () => {
    const key = await makeKey(['late@example.org']);
    const token = await requestLink(key, 'late@example.org');
    clockOffsetMs = 2 * 3600_000; // past the 1 h lifetime
    try {
      const late = await postJson(`${api.baseUrl}/v/${token}`, {});
      assert.equal(late.status, 410);
      assert.equal(late.body.code, 'DIR_TOKEN_EXPIRED');
      assert.equal(await addressRow('late@example.org'), undefined);
    } finally {
      clockOffsetMs = 0;
    }
    const unknown = await postJson(`${api.baseUrl}/v/${'A'.repeat(43)}`, {});
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'DIR_TOKEN_UNKNOWN');
  });

  test('a newly verified key replaces the old one for that address', async () => {
    const first = await makeKey(['bob@example.org']);
    assert.equal((await postJson(`${api.baseUrl}/v/${await requestLink(first, 'bob@example.org')}`, {})).status, 200);
    const second = await makeKey(['Bob <bob@example.org>']);
    const confirmed = await postJson(`${api.baseUrl}/v/${await requestLink(second, 'bob@example.org')}`, {});
    assert.equal(confirmed.status, 200);
    const row = await addressRow('bob@example.org');
    assert.equal(row?.fingerprint, second.fingerprint);
    const old = await testDb.db.selectFrom('keys').select('key_data').where('fingerprint', '=', first.fingerprint).executeTakeFirstOrThrow();
    assert.ok(!Buffer.from(old.key_data).toString('latin1').includes('bob@example.org'), 'the replaced key no longer names the address');
  });

  test('re-uploading a published key with a new subkey refreshes it without a mail', async () => {
    const key = await makeKey(['ivan@example.org']);
    assert.equal((await postJson(`${api.baseUrl}/v/${await requestLink(key, 'ivan@example.org')}`, {})).status, 200);
    const mailsBefore = sink.messages.filter((m) => m.to.includes('ivan@example.org')).length;
    const privateKey = await openpgp.readPrivateKey({ armoredKey: key.privateKey });
    const extended = (await privateKey.addSubkey({})).toPublic().armor();
    const upload = await postJson(`${api.baseUrl}/vks/v1/upload`, { keytext: extended });
    assert.equal(upload.status, 200);
    assert.equal(upload.body.status['ivan@example.org'], 'published');
    const stored = await testDb.db.selectFrom('keys').select('key_ids').where('fingerprint', '=', key.fingerprint).executeTakeFirstOrThrow();
    assert.equal(stored.key_ids.length, 3, 'primary, original and new subkey');
    const minimal = (await addressRow('ivan@example.org'))!.minimal_key;
    const served = await openpgp.readKey({ binaryKey: new Uint8Array(minimal) });
    assert.equal(served.subkeys.length, 2);
    await mailBarrier();
    assert.equal(sink.messages.filter((m) => m.to.includes('ivan@example.org')).length, mailsBefore);
  });

  test('request-verify refuses addresses the key does not hold, and a repeated request sends no second mail', async () => {
    const key = await makeKey(['carol@example.org']);
    const upload = await postJson(`${api.baseUrl}/vks/v1/upload`, { keytext: key.publicKey });
    const foreign = await postJson(`${api.baseUrl}/vks/v1/request-verify`, { token: upload.body.token, addresses: ['mallory@example.org'] });
    assert.equal(foreign.status, 422);
    assert.equal(foreign.body.code, 'DIR_ADDRESS_NOT_REQUESTABLE');
    const badToken = await postJson(`${api.baseUrl}/vks/v1/request-verify`, { token: 'nope', addresses: ['carol@example.org'] });
    assert.equal(badToken.status, 400);
    assert.equal(badToken.body.code, 'DIR_UPLOAD_TOKEN_INVALID');

    await postJson(`${api.baseUrl}/vks/v1/request-verify`, { token: upload.body.token, addresses: ['carol@example.org'] });
    await sink.waitFor((m) => m.to.includes('carol@example.org'));
    const again = await postJson(`${api.baseUrl}/vks/v1/request-verify`, { token: upload.body.token, addresses: ['carol@example.org'] });
    assert.equal(again.body.status['carol@example.org'], 'pending');
    await mailBarrier();
    assert.equal(sink.messages.filter((m) => m.to.includes('carol@example.org')).length, 1);
  });

  test('uploading a revocation withdraws the key’s addresses and it cannot be published again', async () => {
    const key = await makeKey(['dave@example.org']);
    const token = await requestLink(key, 'dave@example.org');
    assert.equal((await postJson(`${api.baseUrl}/v/${token}`, {})).status, 200);
    const revoked = await postJson(`${api.baseUrl}/vks/v1/upload`, { keytext: await revokedCopy(key) });
    assert.equal(revoked.status, 200);
    assert.equal(revoked.body.status['dave@example.org'], 'revoked');
    assert.equal((await addressRow('dave@example.org'))?.status, 'withdrawn');
    const keyRow = await testDb.db.selectFrom('keys').select('revoked').where('fingerprint', '=', key.fingerprint).executeTakeFirstOrThrow();
    assert.equal(keyRow.revoked, true);
    // The old, unrevoked copy is refused now.
    const replay = await postJson(`${api.baseUrl}/vks/v1/upload`, { keytext: key.publicKey });
    assert.equal(replay.status, 422);
    assert.equal(replay.body.code, 'DIR_KEY_REVOKED');
  });

  test('the address holder deletes an address through a mailed link', async () => {
    const key = await makeKey(['erin@example.org']);
    assert.equal((await postJson(`${api.baseUrl}/v/${await requestLink(key, 'erin@example.org')}`, {})).status, 200);
    const asked = await postJson(`${api.baseUrl}/v1/delete-request`, { address: 'erin@example.org' });
    assert.equal(asked.status, 202);
    const mail = await sink.waitFor((m) => m.to.includes('erin@example.org') && /Delete/.test(m.raw));
    const { token } = linkIn(await decryptMail(mail, key.privateKey));
    const page = await (await fetch(`${api.baseUrl}/v/${token}`)).text();
    assert.match(page, /Delete/);
    assert.equal((await addressRow('erin@example.org'))?.status, 'published', 'GET changed nothing');
    const done = await postJson(`${api.baseUrl}/v/${token}`, {});
    assert.deepEqual(done.body, { status: 'deleted', address: 'erin@example.org', fingerprint: key.fingerprint });
    assert.equal((await addressRow('erin@example.org'))?.status, 'withdrawn');

    const absent = await postJson(`${api.baseUrl}/v1/delete-request`, { address: 'nobody@example.org' });
    assert.equal(absent.status, 404);
    assert.equal(absent.body.code, 'DIR_ADDRESS_NOT_PUBLISHED');
  });
});

describe('HKP add', () => {
  test('POST /pks/add mails every served address of the key and answers plain text', async () => {
    const key = await makeKey(['grace@example.org', 'grace@example.net', 'grace@unserved.example']);
    const response = await fetch(`${api.baseUrl}/pks/add`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ keytext: key.publicKey }).toString(),
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await response.text();
    assert.match(text, new RegExp(key.fingerprint));
    assert.match(text, /grace@example\.org: verification mail sent/);
    const org = await sink.waitFor((m) => m.to.includes('grace@example.org'));
    await sink.waitFor((m) => m.to.includes('grace@example.net'));
    assert.ok(!sink.messages.some((m) => m.to.includes('grace@unserved.example')));
    const { token } = linkIn(await decryptMail(org, key.privateKey));
    assert.equal((await postJson(`${api.baseUrl}/v/${token}`, {})).status, 200);
    assert.equal((await addressRow('grace@example.org'))?.status, 'published');
  });

  test('rejections are plain text with a 4xx status', async () => {
    const response = await fetch(`${api.baseUrl}/pks/add`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'keytext=garbage',
    });
    assert.equal(response.status, 400);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(await response.text(), /BEGIN PGP PUBLIC KEY BLOCK/);
    const missing = await fetch(`${api.baseUrl}/pks/add`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'other=1' });
    assert.equal(missing.status, 400);
  });
});

describe('rejections are 4xx JSON with a stable code', () => {
  test('policy, shape and size failures', async () => {
    const cases: [string, unknown, number, string][] = [
      ['unparsable key', { keytext: 'hello' }, 400, 'DIR_KEY_UNPARSABLE'],
      ['missing keytext', {}, 400, 'REQUEST_INVALID'],
      ['no served address', { keytext: (await makeKey(['x@unserved.example'])).publicKey }, 422, 'DIR_KEY_NO_SERVED_ADDRESS'],
      ['secret key', { keytext: (await makeKey(['s@example.org'])).privateKey }, 422, 'DIR_KEY_SECRET'],
      ['over 1 MiB', { keytext: 'A'.repeat(1024 * 1024 + 10) }, 413, 'PAYLOAD_TOO_LARGE'],
    ];
    for (const [name, body, status, code] of cases) {
      const response = await postJson(`${api.baseUrl}/vks/v1/upload`, body);
      assert.equal(response.status, status, `${name}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.code, code, name);
      assert.equal(typeof response.body.error, 'string', name);
    }
    // A key that cannot receive the encrypted link cannot prove possession: refused at request time.
    const { publicKey: signOnly } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ email: 'sign-only@example.org' }], subkeys: [] });
    const upload = await postJson(`${api.baseUrl}/vks/v1/upload`, { keytext: signOnly });
    assert.equal(upload.status, 200);
    const refused = await postJson(`${api.baseUrl}/vks/v1/request-verify`, { token: upload.body.token, addresses: ['sign-only@example.org'] });
    assert.equal(refused.status, 422);
    assert.equal(refused.body.code, 'DIR_KEY_CANNOT_ENCRYPT');
    assert.equal((await testDb.db.selectFrom('verification_tokens').select('address').where('address', '=', 'sign-only@example.org').execute()).length, 0);

    const badJson = await fetch(`${api.baseUrl}/vks/v1/upload`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    assert.equal(badJson.status, 400);
    assert.equal(((await badJson.json()) as any).code, 'REQUEST_INVALID');
  });
});

describe('OpenAPI document', () => {
  test('/docs/json serves the OpenAPI JSON with the write endpoints', async () => {
    for (const path of ['/docs/json']) {
      const response = await fetch(`${api.baseUrl}${path}`);
      assert.equal(response.status, 200);
      const doc = (await response.json()) as any;
      assert.equal(doc.openapi, '3.0.3');
      for (const route of ['/vks/v1/upload', '/vks/v1/request-verify', '/pks/add', '/v1/delete-request', '/v1/domains/{domain}/addresses/{address}']) {
        assert.ok(doc.paths[route], `${route} documented in ${path}`);
      }
    }
  });
});

describe('rate limits and mail without a submission server', () => {
  test('write endpoints answer 429 JSON past the per-client budget', async () => {
    const limited = await startApi(testDb, { KEYPOST_RATE_LIMIT_MAX: '3', KEYPOST_RATE_LIMIT_WINDOW: '1m' });
    try {
      const statuses: number[] = [];
      let last: { status: number; body: any } | undefined;
      for (let i = 0; i < 5; i++) {
        last = await postJson(`${limited.baseUrl}/vks/v1/upload`, { keytext: 'x' });
        statuses.push(last.status);
      }
      assert.deepEqual(statuses, [400, 400, 400, 429, 429]);
      assert.equal(last?.body.code, 'RATE_LIMITED');
      // Lookups are not limited by this budget.
      assert.equal((await fetch(`${limited.baseUrl}/docs`)).status, 200);
    } finally {
      await limited.close();
    }
  });

  test('with no KEYPOST_MAIL_SUBMISSION_URL the link goes to the log and still works', async () => {
    const local = await startApi(testDb, {});
    try {
      const key = await makeKey(['heidi@example.org']);
      const upload = await postJson(`${local.baseUrl}/vks/v1/upload`, { keytext: key.publicKey });
      const verify = await postJson(`${local.baseUrl}/vks/v1/request-verify`, { token: upload.body.token, addresses: ['heidi@example.org'] });
      assert.equal(verify.body.status['heidi@example.org'], 'pending');
      const entry = local.logLines().find((l) => l.to === 'heidi@example.org' && typeof l.link === 'string');
      assert.ok(entry, 'the verification link is logged');
      const { token } = linkIn(String(entry.link));
      assert.equal((await postJson(`${local.baseUrl}/v/${token}`, {})).status, 200);
      assert.equal((await addressRow('heidi@example.org'))?.status, 'published');
    } finally {
      await local.close();
    }
  });
});

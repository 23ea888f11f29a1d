// A VKS upload's JSON body is read on a key-check worker, not on the event loop that answers DNS
// (src/directory/upload-body.ts; the DNS latency it protects is measured by bench:upload-dns).
// What a client sees must not change: the same verdict as for the keytext itself, and a body that
// is not an upload is a 400 REQUEST_INVALID that says what is wrong.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { createKeyCheckPool, type KeyCheckPool } from '../../src/directory/key-check-pool.js';
import { keytextOfUpload } from '../../src/directory/upload-body.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { addDomain, makeKey, startApi, type RunningApi } from './write-side.js';

const encode = (text: string) => new TextEncoder().encode(text);

describe('reading an upload body', () => {
  test('the keytext of a JSON object, whatever else it holds', () => {
    assert.deepEqual(keytextOfUpload(encode('{"keytext":"-----BEGIN PGP PUBLIC KEY BLOCK-----","extra":1}')), {
      keytext: '-----BEGIN PGP PUBLIC KEY BLOCK-----',
    });
  });

  const refused: [string, Uint8Array, RegExp][] = [
    ['truncated JSON', encode('{'), /not valid JSON/],
    ['an empty body', encode(''), /not valid JSON/],
    ['bytes that are not UTF-8', Uint8Array.of(0x7b, 0x22, 0xff, 0x22, 0x7d), /not valid JSON/],
    ['an array', encode('[{"keytext":"x"}]'), /must be a JSON object/],
    ['null', encode('null'), /must be a JSON object/],
    ['no keytext', encode('{"key":"x"}'), /required property 'keytext'/],
    ['a keytext that is not a string', encode('{"keytext":42}'), /keytext must be string/],
    ['a blank keytext', encode('{"keytext":" \\n\\t"}'), /keytext must hold a key/],
  ];
  for (const [name, body, problem] of refused) {
    test(`refuses ${name}`, () => {
      const read = keytextOfUpload(body);
      assert.ok('problem' in read, JSON.stringify(read));
      assert.match(read.problem, problem);
    });
  }
});

describe('upload bodies on the key-check workers', () => {
  let pool: KeyCheckPool;
  before(() => {
    pool = createKeyCheckPool({ workers: 1, maxQueue: 4, log: pino({ level: 'silent' }) });
  });
  after(() => pool?.close());

  test('a body gets the verdict its keytext gets; a broken body is REQUEST_INVALID', async () => {
    const key = await makeKey(['Body <body@example.org>']);
    const now = new Date();
    const served = { domains: ['example.org'] };
    const [fromText, fromBody] = await Promise.all([
      pool.check(key.publicKey, { now, served }),
      pool.check({ json: encode(JSON.stringify({ keytext: key.publicKey })) }, { now, served }),
    ]);
    assert.equal(fromBody.status, 'valid');
    assert.ok('key' in fromBody && 'key' in fromText);
    assert.equal(fromBody.key.fingerprint, key.fingerprint);
    assert.deepEqual(fromBody.key.addresses, fromText.key.addresses);
    assert.deepEqual(fromBody.key.stripped, fromText.key.stripped);

    await assert.rejects(pool.check({ json: encode('{"keytext":') }, { now, served }), { code: 'REQUEST_INVALID', message: /not valid JSON/ });
    // The worker that refused a body still judges the next one.
    const after = await pool.check({ json: encode(JSON.stringify({ keytext: 'not a key' })) }, { now, served });
    assert.ok('code' in after && after.code === 'DIR_KEY_UNPARSABLE', JSON.stringify(after));
  });
});

describe('POST /vks/v1/upload with a body that is not an upload', () => {
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

  const cases: [string, string | Uint8Array<ArrayBuffer>, RegExp][] = [
    ['not UTF-8', Uint8Array.of(0x7b, 0x22, 0xff, 0x22, 0x7d), /not valid JSON/],
    ['an array', '[]', /must be a JSON object/],
    ['a number keytext', '{"keytext":1}', /keytext must be string/],
  ];
  for (const [name, body, problem] of cases) {
    test(`${name}: 400 REQUEST_INVALID naming the problem`, async () => {
      const response = await fetch(`${api.baseUrl}/vks/v1/upload`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.equal(response.status, 400);
      const answer = (await response.json()) as { code: string; error: string };
      assert.equal(answer.code, 'REQUEST_INVALID');
      assert.match(answer.error, problem);
    });
  }

  test('a key in a body with a charset parameter is accepted', async () => {
    const key = await makeKey(['Charset <charset@example.org>']);
    const response = await fetch(`${api.baseUrl}/vks/v1/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ keytext: key.publicKey }),
    });
    assert.equal(response.status, 200);
    const answer = (await response.json()) as { key_fpr: string; status: Record<string, string> };
    assert.equal(answer.key_fpr, key.fingerprint);
    assert.deepEqual(answer.status, { 'charset@example.org': 'unpublished' });
  });
});

// Regression cases for input the directory API took too loosely (issue 15, items 13-16): every one
// reached a real listener on the real database and was answered with a 500, mapped onto another
// address, silently dropped, or published verbatim into a `_keypost` TXT record.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as openpgp from 'openpgp';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { addDomain, makeKey, startApi, type RunningApi } from './write-side.js';

let testDb: TestDatabase;
let api: RunningApi;
let token: string;

before(async () => {
  testDb = await openTestDatabase();
  token = await addDomain(testDb.db, 'a.test', { powBits: 20, endpoint: 'smtp://mx.a.test:25' });
  api = await startApi(testDb);
  const u1 = await makeKey(['u1@a.test']);
  const put = await call('PUT', '/v1/domains/a.test/addresses/u1@a.test', { keytext: u1.publicKey });
  assert.equal(put.status, 200, JSON.stringify(put.body));
});

after(async () => {
  await api?.close();
  await testDb?.close();
});

async function call(method: string, path: string, body?: unknown, bearer: string | undefined = token): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${api.baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // HKP answers plain text
  }
  return { status: response.status, body: parsed };
}

async function addressRow(address: string) {
  return testDb.db.selectFrom('addresses').selectAll().where('address', '=', address).executeTakeFirst();
}

async function zoneRow() {
  return testDb.db.selectFrom('domains').selectAll().where('name', '=', 'a.test').executeTakeFirstOrThrow();
}

describe('item 13: query and path parameters are validated', () => {
  test('a NUL byte in ?after= on the owner list is 400 REQUEST_INVALID, not 500', async () => {
    const res = await call('GET', '/v1/domains/a.test?after=%00');
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.code, 'REQUEST_INVALID');
  });

  test('a NUL byte in any declared path or query parameter of any route is 400 with a code', async () => {
    const docs = (await call('GET', '/docs/json')).body as {
      paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>>;
    };
    let tried = 0;
    for (const [path, methods] of Object.entries(docs.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const parameters = (operation.parameters ?? []).filter((p) => p.in === 'path' || p.in === 'query');
        for (const target of parameters) {
          // Every other path parameter gets a plausible value, so the NUL is what is judged.
          let url = path.replace(/\{([^}]+)\}/g, (_, name: string) =>
            name === target.name && target.in === 'path' ? '%00' : name === 'domain' ? 'a.test' : name.includes('addr') ? 'u1@a.test' : 'x',
          );
          if (target.in === 'query') url += `${url.includes('?') ? '&' : '?'}${target.name}=a%00b`;
          const res = await call(method.toUpperCase(), url, method === 'get' || method === 'delete' ? undefined : {});
          assert.equal(res.status, 400, `${method.toUpperCase()} ${url}: ${res.status} ${JSON.stringify(res.body)}`);
          if (typeof res.body === 'object') assert.equal(res.body.code, 'REQUEST_INVALID', `${method.toUpperCase()} ${url}`);
          tried++;
        }
      }
    }
    assert.ok(tried >= 10, `only ${tried} parameters found in /docs/json`);
  });
});

describe('item 14: an address is refused before it is normalised, never mapped onto another', () => {
  test('/v1/records/u1%40a.test%2Fjunk is 400, not the record of u1@a.test', async () => {
    const res = await call('GET', '/v1/records/u1%40a.test%2Fjunk');
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.code, 'DIR_ADDRESS_INVALID');
  });

  test('zero-width and full-width spellings of a published address are 400', async () => {
    for (const spelling of ['u1@a.te%E2%80%8Bst', 'u1@%EF%BD%81.test', 'u1@a.test%3Fx', 'u1@a.test%23x', 'u1@a.test%5Cx', 'u%EF%BC%91@a.test']) {
      const res = await call('GET', `/v1/records/${spelling}`);
      assert.equal(res.status, 400, `${spelling}: ${res.status} ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, 'DIR_ADDRESS_INVALID', spelling);
    }
  });

  test('a PATCH on u1@a.test%2Fjunk is refused and leaves u1@a.test unchanged', async () => {
    const before = await addressRow('u1@a.test');
    const res = await call('PATCH', '/v1/domains/a.test/addresses/u1@a.test%2Fjunk', { pow: 5 });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.code, 'DIR_ADDRESS_INVALID');
    assert.equal((await addressRow('u1@a.test'))?.pow_bits, before?.pow_bits);
  });

  test('a key whose user ID is <alice@a.test/x> does not publish alice@a.test', async () => {
    const { publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'Alice <alice@a.test/x>' }], format: 'armored' });
    assert.deepEqual((await openpgp.readKey({ armoredKey: publicKey })).getUserIDs(), ['Alice <alice@a.test/x>']);
    const res = await call('PUT', '/v1/domains/a.test/addresses/alice@a.test', { keytext: publicKey });
    assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${JSON.stringify(res.body)}`);
    assert.equal(typeof res.body.code, 'string');
    assert.equal(await addressRow('alice@a.test'), undefined);
  });
});

describe('item 15: unknown properties in owner bodies are refused by name', () => {
  test('PATCH of the zone with an unknown property is 400 naming it, and changes nothing', async () => {
    const before = await zoneRow();
    const res = await call('PATCH', '/v1/domains/a.test', { pow: 7, endpont: 'smtp://typo.a.test:25' });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.code, 'REQUEST_INVALID');
    assert.match(res.body.error, /endpont/);
    assert.equal(res.body.property, 'endpont');
    assert.equal((await zoneRow()).pow_bits, before.pow_bits);
  });

  test('PATCH of an address with only an unknown property is 400 naming it', async () => {
    const res = await call('PATCH', '/v1/domains/a.test/addresses/u1@a.test', { nexthop: 'smtp://x.a.test:25' });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.property, 'nexthop');
  });

  test('PUT of an address with an unknown property is 400 naming it, and publishes nothing', async () => {
    const key = await makeKey(['carol@a.test']);
    const res = await call('PUT', '/v1/domains/a.test/addresses/carol@a.test', { keytext: key.publicKey, price: 3 });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.property, 'price');
    assert.equal(await addressRow('carol@a.test'), undefined);
  });
});

describe('item 16: values that would break the _keypost TXT record are refused at input', () => {
  const bad = ['https://keys.a.test/x;pow=0', 'https://keys.a.test/"x', "https://keys.a.test/'x", 'https://keys.a.test/a b', 'https://keys.a.test/a\tb'];
  for (const api of bad) {
    test(`api ${JSON.stringify(api)} is refused`, async () => {
      const before = await zoneRow();
      const res = await call('PATCH', '/v1/domains/a.test', { api });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.code, 'DIR_URI_INVALID');
      assert.equal((await zoneRow()).api_url, before.api_url);
    });
  }

  for (const [field, value] of [
    ['endpoint', 'smtp://mx.a.test:25;pow=0'],
    ['endpoint', 'smtp://mx.a.test:25 '],
    ['endpoint', 'smtp://mx.a.test:25"'],
    ['next_hop', 'smtp://hop.a.test:25;x'],
    ['next_hop', 'smtp://hop.a.test:25\u0000'],
  ]) {
    test(`${field} ${JSON.stringify(value)} is refused on the zone and on an address`, async () => {
      for (const path of ['/v1/domains/a.test', '/v1/domains/a.test/addresses/u1@a.test']) {
        const res = await call('PATCH', path, { [field]: value });
        assert.equal(res.status, 400, `${path}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.code, 'DIR_URI_INVALID', path);
      }
    });
  }
});

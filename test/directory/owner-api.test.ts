// The domain owner API over a real listener: bearer token per zone, publish / replace / override /
// withdraw, zone policy, and isolation: a token for example.org never touches example.net.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rotateOwnerToken } from '../../src/directory/domains.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { addDomain, logHeadSettled, makeKey, startApi, type RunningApi } from './write-side.js';

let testDb: TestDatabase;
let api: RunningApi;
let orgToken: string;
let netToken: string;

before(async () => {
  testDb = await openTestDatabase();
  orgToken = await addDomain(testDb.db, 'example.org', { powBits: 20, endpoint: 'smtp://mx.example.org:25' });
  netToken = await addDomain(testDb.db, 'example.net');
  api = await startApi(testDb);
});

after(async () => {
  await api?.close();
  await testDb?.close();
});

async function call(method: string, path: string, token: string | undefined, body?: unknown): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${api.baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

async function row(address: string) {
  return testDb.db.selectFrom('addresses').selectAll().where('address', '=', address).executeTakeFirst();
}

async function serial(zone: string): Promise<number> {
  return Number((await testDb.db.selectFrom('domains').select('serial').where('name', '=', zone).executeTakeFirstOrThrow()).serial);
}

describe('owner authentication', () => {
  test('no token is 401, a wrong token 403, both JSON with a code', async () => {
    const none = await call('GET', '/v1/domains/example.org', undefined);
    assert.equal(none.status, 401);
    assert.equal(none.body.code, 'AUTH_REQUIRED');
    const wrong = await call('GET', '/v1/domains/example.org', 'x'.repeat(43));
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.code, 'AUTH_FORBIDDEN');
    const unknownZone = await call('GET', '/v1/domains/unknown.example', orgToken);
    assert.equal(unknownZone.status, 403);
  });

  test('a token for example.org can never touch example.net', async () => {
    const netKey = await makeKey(['nina@example.net']);
    const published = await call('PUT', '/v1/domains/example.net/addresses/nina@example.net', netToken, { keytext: netKey.publicKey });
    assert.equal(published.status, 200, JSON.stringify(published.body));
    // The tree head covering this publication moves the serial once more, a moment later.
    await logHeadSettled(testDb.db, 'example.net');
    const serialNet = await serial('example.net');

    const mallory = await makeKey(['nina@example.net']);
    const attempts = [
      await call('GET', '/v1/domains/example.net', orgToken),
      await call('PATCH', '/v1/domains/example.net', orgToken, { pow: 0 }),
      await call('PUT', '/v1/domains/example.net/addresses/nina@example.net', orgToken, { keytext: mallory.publicKey }),
      await call('PATCH', '/v1/domains/example.net/addresses/nina@example.net', orgToken, { endpoint: 'smtp://evil.example:25' }),
      await call('DELETE', '/v1/domains/example.net/addresses/nina@example.net', orgToken),
    ];
    for (const attempt of attempts) {
      assert.equal(attempt.status, 403);
      assert.equal(attempt.body.code, 'AUTH_FORBIDDEN');
    }
    // The org token on its own zone path, naming a net address: refused too.
    const sideways = [
      await call('PUT', '/v1/domains/example.org/addresses/nina@example.net', orgToken, { keytext: mallory.publicKey }),
      await call('PATCH', '/v1/domains/example.org/addresses/nina@example.net', orgToken, { pow: 0 }),
      await call('DELETE', '/v1/domains/example.org/addresses/nina@example.net', orgToken),
    ];
    for (const attempt of sideways) {
      assert.equal(attempt.status, 403);
      assert.equal(attempt.body.code, 'DIR_ADDRESS_OUTSIDE_DOMAIN');
    }
    const after = await row('nina@example.net');
    assert.equal(after?.status, 'published');
    assert.equal(after?.fingerprint, netKey.fingerprint);
    assert.equal(after?.endpoint, null);
    assert.equal(await serial('example.net'), serialNet, 'nothing changed in example.net');
  });

  test('a rotated token replaces the old one', async () => {
    const rotated = await testDb.db.transaction().execute((tx) => rotateOwnerToken(tx, 'example.net'));
    assert.equal((await call('GET', '/v1/domains/example.net', netToken)).status, 403);
    assert.equal((await call('GET', '/v1/domains/example.net', rotated)).status, 200);
    netToken = rotated;
  });
});

describe('publishing as the owner', () => {
  test('publish with overrides, replace with a new key, change overrides, withdraw', async () => {
    const first = await makeKey(['Alice <alice@example.org>', 'alice@example.net']);
    const before = await serial('example.org');
    const put = await call('PUT', '/v1/domains/example.org/addresses/Alice@Example.org', orgToken, {
      keytext: first.publicKey,
      endpoint: 'smtp://alice-mx.example.org:2525',
      pow: 24,
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(put.body, { address: 'alice@example.org', fingerprint: first.fingerprint, status: 'published', replaced: null });
    let current = await row('alice@example.org');
    assert.equal(current?.source, 'owner');
    assert.equal(current?.endpoint, 'smtp://alice-mx.example.org:2525');
    assert.equal(current?.pow_bits, 24);
    assert.equal(await row('alice@example.net'), undefined, 'only the address in the path is published');
    assert.ok((await serial('example.org')) > before);
    const stored = await testDb.db.selectFrom('keys').select('key_data').where('fingerprint', '=', first.fingerprint).executeTakeFirstOrThrow();
    assert.ok(!Buffer.from(stored.key_data).toString('latin1').includes('alice@example.net'));

    const second = await makeKey(['alice@example.org']);
    const replaced = await call('PUT', '/v1/domains/example.org/addresses/alice@example.org', orgToken, { keytext: second.publicKey });
    assert.equal(replaced.body.replaced, first.fingerprint);
    current = await row('alice@example.org');
    assert.equal(current?.fingerprint, second.fingerprint);
    assert.equal(current?.endpoint, 'smtp://alice-mx.example.org:2525', 'overrides survive a key replacement');

    const patched = await call('PATCH', '/v1/domains/example.org/addresses/alice@example.org', orgToken, { endpoint: null, next_hop: 'smtp://10.0.0.5:25', pow: null });
    assert.equal(patched.status, 200);
    current = await row('alice@example.org');
    assert.equal(current?.endpoint, null);
    assert.equal(current?.next_hop, 'smtp://10.0.0.5:25');
    assert.equal(current?.pow_bits, null);

    const listing = await call('GET', '/v1/domains/example.org', orgToken);
    assert.equal(listing.status, 200);
    assert.equal(listing.body.domain, 'example.org');
    assert.equal(listing.body.pow, 20);
    assert.equal(listing.body.endpoint, 'smtp://mx.example.org:25');
    assert.ok(listing.body.addresses.some((a: any) => a.address === 'alice@example.org' && a.fingerprint === second.fingerprint));

    const removed = await call('DELETE', '/v1/domains/example.org/addresses/alice@example.org', orgToken);
    assert.equal(removed.status, 204);
    assert.equal((await row('alice@example.org'))?.status, 'withdrawn');
    const again = await call('DELETE', '/v1/domains/example.org/addresses/alice@example.org', orgToken);
    assert.equal(again.status, 404);
    assert.equal(again.body.code, 'DIR_ADDRESS_NOT_PUBLISHED');
  });

  test('bad requests are 4xx with stable codes', async () => {
    const key = await makeKey(['bob@example.org']);
    const cases: [string, string, unknown, number, string][] = [
      ['PUT', '/v1/domains/example.org/addresses/carol@example.org', { keytext: key.publicKey }, 422, 'DIR_KEY_ADDRESS_NOT_IN_KEY'],
      ['PUT', '/v1/domains/example.org/addresses/bob@example.org', { keytext: key.publicKey, endpoint: 'http://x' }, 400, 'DIR_URI_INVALID'],
      ['PUT', '/v1/domains/example.org/addresses/bob@example.org', { keytext: key.publicKey, pow: 99 }, 400, 'REQUEST_INVALID'],
      ['PUT', '/v1/domains/example.org/addresses/bob@example.org', { keytext: 'not a key' }, 400, 'DIR_KEY_UNPARSABLE'],
      ['PUT', '/v1/domains/example.org/addresses/not-an-address', { keytext: key.publicKey }, 400, 'DIR_ADDRESS_INVALID'],
      ['PATCH', '/v1/domains/example.org/addresses/nobody@example.org', { pow: 1 }, 404, 'DIR_ADDRESS_NOT_PUBLISHED'],
      ['PATCH', '/v1/domains/example.org', { api: 'ftp://x' }, 400, 'DIR_URI_INVALID'],
      // Regression: an implicit-TLS hop was accepted, then every recipient was refused at RCPT.
      ['PATCH', '/v1/domains/example.org', { next_hop: 'smtps://mx.example.org:465' }, 400, 'DIR_URI_INVALID'],
      ['PATCH', '/v1/domains/example.org', { endpoint: 'smtp://mx.example.org:25?proxy=x' }, 400, 'DIR_URI_INVALID'],
      ['PATCH', '/v1/domains/example.org', {}, 400, 'REQUEST_INVALID'],
      ['PATCH', '/v1/domains/example.org', { require: 'sealed' }, 400, 'REQUEST_INVALID'],
      ['PATCH', '/v1/domains/example.org', { require: 'signed,encrypted' }, 400, 'REQUEST_INVALID'],
      ['PUT', '/v1/domains/example.org/addresses/bob@example.org', { keytext: key.publicKey, require: 'plain' }, 400, 'REQUEST_INVALID'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const response = await call(method, path, orgToken, body);
      assert.equal(response.status, status, `${method} ${path} ${JSON.stringify(body).slice(0, 80)}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.code, code);
    }
  });

  test('concurrent publications in one zone all succeed, one serial step each', async () => {
    // Regression: writers that took the zone row in share mode and then bumped its serial
    // deadlocked under concurrency (PostgreSQL broke the deadlock by failing one of them, a 500);
    // they now queue on the zone row, so every one of them answers 200.
    // The log's head signer also moves the serial, once per new head, covering one or more of
    // these publications: so 12 steps for them, and at most 12 more for the heads.
    const keys = await Promise.all(Array.from({ length: 12 }, (_, i) => makeKey([`many${i}@example.org`])));
    await logHeadSettled(testDb.db, 'example.org');
    const before = await serial('example.org');
    const results = await Promise.all(
      keys.map((key, i) => call('PUT', `/v1/domains/example.org/addresses/many${i}@example.org`, orgToken, { keytext: key.publicKey })),
    );
    assert.deepEqual(results.map((r) => r.status), keys.map(() => 200));
    await logHeadSettled(testDb.db, 'example.org');
    const steps = (await serial('example.org')) - before;
    assert.ok(steps >= 13 && steps <= 24, `${steps} serial steps for 12 publications and their heads`);
  });

  test('zone policy: published fields bump the serial, a next hop change does not', async () => {
    const before = await serial('example.org');
    const changed = await call('PATCH', '/v1/domains/example.org', orgToken, { pow: 22, endpoint: 'smtp://abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion:25', api: 'https://keys.example.org/' });
    assert.equal(changed.status, 200);
    assert.equal(changed.body.pow, 22);
    assert.equal(changed.body.api, 'https://keys.example.org');
    const bumped = await serial('example.org');
    assert.ok(bumped > before);
    const hop = await call('PATCH', '/v1/domains/example.org', orgToken, { next_hop: 'smtp://10.1.1.1:25' });
    assert.equal(hop.body.next_hop, 'smtp://10.1.1.1:25');
    assert.equal(await serial('example.org'), bumped);
  });

  test('required protection: the zone publishes it (serial step), an address overrides it and null returns it to the zone', async () => {
    const before = await serial('example.org');
    const zone = await call('PATCH', '/v1/domains/example.org', orgToken, { require: 'encrypted' });
    assert.equal(zone.status, 200, JSON.stringify(zone.body));
    assert.equal(zone.body.require, 'encrypted');
    assert.ok((await serial('example.org')) > before, 'req= is published, so the serial moves');

    const key = await makeKey(['erin@example.org']);
    const put = await call('PUT', '/v1/domains/example.org/addresses/erin@example.org', orgToken, { keytext: key.publicKey, require: 'encrypted,signed' });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal((await row('erin@example.org'))?.requirement, 'encrypted,signed');
    const relaxed = await call('PATCH', '/v1/domains/example.org/addresses/erin@example.org', orgToken, { require: 'none' });
    assert.equal(relaxed.status, 200);
    assert.equal((await row('erin@example.org'))?.requirement, 'none', 'none on an address is an override, not "unset"');
    const listing = await call('GET', '/v1/domains/example.org', orgToken);
    assert.equal(listing.body.addresses.find((a: { address: string }) => a.address === 'erin@example.org').require, 'none');
    const inherit = await call('PATCH', '/v1/domains/example.org/addresses/erin@example.org', orgToken, { require: null });
    assert.equal(inherit.status, 200);
    assert.equal((await row('erin@example.org'))?.requirement, null);

    const cleared = await call('PATCH', '/v1/domains/example.org', orgToken, { require: null });
    assert.equal(cleared.body.require, 'none');
  });
});

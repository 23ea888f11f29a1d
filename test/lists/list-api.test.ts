// The owner API for lists and `keypost list`: the zone's owner token covers its lists and their
// members, and nothing of another zone; errors carry their stable codes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { runKeypost } from '../support/keypost-process.js';
import { freePort } from '../support/ports.js';
import { addZone, makeKey, startSite, type RunningSite, type TestKey, type Zone } from '../client/support.js';

describe('list owner API', { timeout: 120_000 }, () => {
  let testDb: TestDatabase;
  let site: RunningSite;
  let zone: Zone;
  let other: Zone;
  let member: TestKey;

  before(async () => {
    testDb = await openTestDatabase();
    // Members are looked up in the site's own DNS server, never the system's.
    const dnsPort = await freePort();
    site = await startSite(testDb, { KEYPOST_DNS_LISTEN: `127.0.0.1:${dnsPort}`, KEYPOST_DNS_RESOLVER: `127.0.0.1:${dnsPort}` });
    zone = await addZone(testDb, 'api-lists.example', { powBits: 8 });
    other = await addZone(testDb, 'other-lists.example', { powBits: 8 });
    member = await makeKey('pat@anywhere.example');
  });

  after(async () => {
    await site?.close();
    await testDb?.close();
  });

  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const response = await fetch(`${site.apiBase}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };

  test('make a list, give a member its key, change the policy, remove the member and the list', async () => {
    const base = '/v1/domains/api-lists.example/lists';
    const made = await call('PUT', `${base}/news@api-lists.example`, zone.token, { owner: 'boss@api-lists.example' });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.deepEqual({ ...made.body, fingerprint: undefined }, { address: 'news@api-lists.example', owner: 'boss@api-lists.example', fingerprint: undefined, posting: 'members', content: 'encrypted' });
    assert.match(made.body.fingerprint, /^[0-9A-F]{40}$/);
    // The list's address is published with its key, as every address is.
    const published = await testDb.db.selectFrom('addresses').select(['fingerprint', 'next_hop', 'status']).where('address', '=', 'news@api-lists.example').executeTakeFirstOrThrow();
    assert.deepEqual(published, { fingerprint: made.body.fingerprint, next_hop: 'list:', status: 'published' });

    const added = await call('PUT', `${base}/news@api-lists.example/members/Pat@anywhere.example`, zone.token, { keytext: member.publicKey });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.equal(added.body.address, 'pat@anywhere.example');
    assert.equal(added.body.key_source, 'owner');
    assert.equal(added.body.fingerprint, member.fingerprint);
    assert.equal(added.body.status, 'active');

    // The list's address is the list's: the address routes cannot replace its key, re-route it or
    // withdraw it; its stamp price is the owner's to set.
    const addressPath = '/v1/domains/api-lists.example/addresses/news@api-lists.example';
    const otherKey = await makeKey('news@api-lists.example');
    for (const [method, body] of [['PUT', { keytext: otherKey.publicKey }], ['PATCH', { next_hop: 'smtp://127.0.0.1:25' }], ['DELETE', undefined]] as const) {
      const refused = await call(method, addressPath, zone.token, body);
      assert.equal(refused.status, 409, `${method} ${JSON.stringify(refused.body)}`);
      assert.equal(refused.body.code, 'DIR_ADDRESS_IS_LIST');
    }
    assert.equal((await call('PATCH', addressPath, zone.token, { pow: 12 })).status, 200);

    const changed = await call('PATCH', `${base}/news@api-lists.example`, zone.token, { posting: 'open', content: 'any' });
    assert.equal(changed.status, 200);
    assert.equal(changed.body.posting, 'open');
    assert.equal(changed.body.content, 'any');
    assert.deepEqual((await call('GET', base, zone.token)).body.lists.map((l: { address: string }) => l.address), ['news@api-lists.example']);
    assert.deepEqual((await call('GET', `${base}/news@api-lists.example/members`, zone.token)).body.members.map((m: { address: string }) => m.address), ['pat@anywhere.example']);

    assert.equal((await call('DELETE', `${base}/news@api-lists.example/members/pat@anywhere.example`, zone.token)).status, 204);
    const gone = await call('DELETE', `${base}/news@api-lists.example/members/pat@anywhere.example`, zone.token);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.code, 'LIST_MEMBER_NOT_FOUND');
    assert.equal((await call('DELETE', `${base}/news@api-lists.example`, zone.token)).status, 204);
    const withdrawn = await testDb.db.selectFrom('addresses').select('status').where('address', '=', 'news@api-lists.example').executeTakeFirstOrThrow();
    assert.equal(withdrawn.status, 'withdrawn');
    assert.equal((await call('GET', `${base}/news@api-lists.example`, zone.token)).body.code, 'LIST_NOT_FOUND');
  });

  test("another zone's token covers none of the zone's lists; bad keys and unknown members have their codes", async () => {
    const base = '/v1/domains/api-lists.example/lists';
    assert.equal((await call('PUT', `${base}/crew@api-lists.example`, zone.token, {})).status, 201);
    const foreign = await call('GET', `${base}/crew@api-lists.example`, other.token);
    assert.equal(foreign.status, 403);
    assert.equal(foreign.body.code, 'AUTH_FORBIDDEN');
    const outside = await call('PUT', `${base}/crew@other-lists.example`, zone.token, {});
    assert.equal(outside.body.code, 'DIR_ADDRESS_OUTSIDE_DOMAIN');
    const badKey = await call('PUT', `${base}/crew@api-lists.example/members/pat@anywhere.example`, zone.token, { keytext: 'not a key' });
    assert.equal(badKey.status, 400);
    assert.equal(badKey.body.code, 'LIST_MEMBER_KEY_INVALID');
    // No key given and none published in DNS for the address: the member is refused.
    const unpublished = await call('PUT', `${base}/crew@api-lists.example/members/nobody@api-lists.example`, zone.token, {});
    assert.equal(unpublished.status, 422);
    assert.equal(unpublished.body.code, 'LIST_MEMBER_KEY_UNVERIFIED', JSON.stringify(unpublished.body));
  });

  test('the list routes are in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${site.apiBase}/docs/json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    assert.deepEqual(Object.keys(doc.paths['/v1/domains/{domain}/lists/{list}/members/{member}'] ?? {}).sort(), ['delete', 'put']);
    assert.deepEqual(Object.keys(doc.paths['/v1/domains/{domain}/lists/{list}'] ?? {}).sort(), ['delete', 'get', 'patch', 'put']);
  });

  test('keypost list and list member from the command line, against the running serve', async () => {
    const env = testDb.env;
    const made = await runKeypost(['list', 'add', 'cli@api-lists.example', '--owner', 'boss@api-lists.example', '--open'], env);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /^list +cli@api-lists\.example$/m);
    assert.match(made.stdout, /^posting +open$/m);
    assert.match(made.stdout, /^content +encrypted$/m);
    const added = await runKeypost(['list', 'member', 'add', 'cli@api-lists.example', 'pat@anywhere.example', '--key', '-'], env, member.publicKey);
    assert.equal(added.code, 0, added.stderr);
    const listed = await runKeypost(['list', 'member', 'list', 'cli@api-lists.example', '--json'], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout).map((m: { address: string; key_source: string }) => [m.address, m.key_source]), [['pat@anywhere.example', 'owner']]);
    const twice = await runKeypost(['list', 'add', 'cli@api-lists.example'], env);
    assert.notEqual(twice.code, 0);
    assert.match(twice.stderr, /LIST_EXISTS|already a list/);
  });
});

// The read side against a real migrated database: VKS, HKP, WKD and /v1/records answer with the
// published key and nothing more, follow changes through the change feed, and GnuPG 2.2 imports
// what they serve over a real socket.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as openpgp from 'openpgp';
import { checkKey, type CheckedKey } from '../../src/keys/key-policy.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { createGpgHome, type GpgHome } from './gpg-home.js';
import { makeKey, type TestKey } from './key-fixtures.js';
import { insertDomain, publishRow, startServingApp, withdrawRow, type ServingApp } from './serving-fixtures.js';

const DAY = 86_400_000;

async function checked(key: TestKey): Promise<CheckedKey> {
  const result = await checkKey(key.binary, { now: new Date() });
  assert.ok(result.status === 'valid', JSON.stringify(result));
  return result.key;
}

async function userIdsOfArmored(text: string): Promise<string[]> {
  return (await openpgp.readKey({ armoredKey: text })).getUserIDs();
}

// Independent re-derivation of the DNS names (RFC 7929 section 3) to compare /v1/records against.
const h56 = (local: string) => createHash('sha256').update(local.toLowerCase()).digest('hex').slice(0, 56);

describe('directory serving', () => {
  let db: TestDatabase;
  let serving: ServingApp;
  let alice: TestKey;
  let aliceChecked: CheckedKey;
  let bob: CheckedKey;
  let old: CheckedKey;

  before(async () => {
    db = await openTestDatabase();
    serving = await startServingApp(db);
    await insertDomain(db, 'example.org', { powBits: 22, endpoint: 'smtp://mx.example.org:25' });
    await insertDomain(db, 'example.net');
    alice = await makeKey({ emails: ['alice@example.org', 'alice@example.net', 'alice@private.example'], subkeys: [{}, { sign: true }] });
    aliceChecked = await checked(alice);
    bob = await checked(await makeKey({ emails: ['Bob.Builder@example.org'] }));
    old = await checked(await makeKey({ emails: ['old@example.net'], date: new Date(Date.now() - DAY), keyExpirationTime: 2 * 86400 }));
    await publishRow(db, aliceChecked, 'alice@example.org');
    await publishRow(db, bob, 'bob.builder@example.org', { endpoint: 'smtp://bob.example.org:2525', powBits: 26 });
    await publishRow(db, old, 'old@example.net');
  });

  after(async () => {
    await serving.close();
    await db.close();
  });

  const get = (url: string, headers: Record<string, string> = {}) => serving.app.inject({ method: 'GET', url, headers });

  describe('VKS', () => {
    it('by-email serves the armoured minimal key with exactly that user ID, any case of the address', async () => {
      const res = await get('/vks/v1/by-email/Alice%40EXAMPLE.org');
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^application\/pgp-keys/);
      assert.deepEqual(await userIdsOfArmored(res.body), ['User 0 <alice@example.org>']);
      const key = await openpgp.readKey({ armoredKey: res.body });
      assert.equal(key.getFingerprint().toUpperCase(), alice.fingerprint);
      assert.equal(key.subkeys.length, 2);
    });

    it('by-email answers 404 in plain text for unknown, unpublished and unserved addresses, 400 for garbage', async () => {
      for (const address of ['nobody@example.org', 'alice@example.net', 'alice@private.example']) {
        const res = await get(`/vks/v1/by-email/${encodeURIComponent(address)}`);
        assert.equal(res.statusCode, 404, address);
        assert.match(String(res.headers['content-type']), /^text\/plain/);
        assert.ok(!res.body.startsWith('<'));
      }
      assert.equal((await get('/vks/v1/by-email/not-an-address')).statusCode, 400);
    });

    it('by-fingerprint and by-keyid (primary or subkey) serve the key with only its published user IDs', async () => {
      for (const url of [
        `/vks/v1/by-fingerprint/${alice.fingerprint}`,
        `/vks/v1/by-fingerprint/${alice.fingerprint.toLowerCase()}`,
        `/vks/v1/by-fingerprint/${alice.publicKey.subkeys[1].getFingerprint().toUpperCase()}`,
        `/vks/v1/by-keyid/${alice.publicKey.getKeyID().toHex().toUpperCase()}`,
        `/vks/v1/by-keyid/${alice.publicKey.subkeys[0].getKeyID().toHex().toUpperCase()}`,
      ]) {
        const res = await get(url);
        assert.equal(res.statusCode, 200, url);
        const key = await openpgp.readKey({ armoredKey: res.body });
        assert.equal(key.getFingerprint().toUpperCase(), alice.fingerprint, url);
        // alice@example.net and alice@private.example are in the stored key but not published.
        assert.deepEqual(key.getUserIDs(), ['User 0 <alice@example.org>'], url);
      }
      assert.equal((await get(`/vks/v1/by-fingerprint/${'A'.repeat(40)}`)).statusCode, 404);
      assert.equal((await get(`/vks/v1/by-keyid/${'B'.repeat(16)}`)).statusCode, 404);
      const bad = await get('/vks/v1/by-fingerprint/xyz');
      assert.equal(bad.statusCode, 400);
      assert.match(String(bad.headers['content-type']), /^text\/plain/);
    });
  });

  describe('HKP', () => {
    it('op=get by 0x fingerprint, 0x key ID and exact address', async () => {
      const keyId = alice.publicKey.getKeyID().toHex().toUpperCase();
      for (const search of [`0x${alice.fingerprint}`, `0x${keyId}`, 'alice@example.org', '<alice@example.org>']) {
        const res = await get(`/pks/lookup?op=get&options=mr&exact=on&search=${encodeURIComponent(search)}`);
        assert.equal(res.statusCode, 200, search);
        assert.match(String(res.headers['content-type']), /^application\/pgp-keys/);
        assert.deepEqual(await userIdsOfArmored(res.body), ['User 0 <alice@example.org>'], search);
      }
    });

    it('op=index&options=mr lists key and user IDs in the machine-readable format', async () => {
      const res = await get('/pks/lookup?op=index&options=mr&fingerprint=on&search=bob.builder%40example.org');
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^text\/plain/);
      const created = Math.floor(bob.createdAt.getTime() / 1000);
      assert.equal(res.body, `info:1:1\npub:${bob.fingerprint}:22:255:${created}::\nuid:User 0 <Bob.Builder@example.org>:::\n`);
      const expiring = await get(`/pks/lookup?op=index&options=mr&search=0x${old.fingerprint}`);
      const expires = Math.floor(old.expiresAt!.getTime() / 1000);
      assert.match(expiring.body, new RegExp(`^pub:${old.fingerprint}:22:255:\\d+:${expires}:$`, 'm'));
      assert.match(expiring.body, new RegExp(`^uid:User 0 <old@example.net>::${expires}:$`, 'm'));
    });

    it('answers 404, 501 and 400 in plain text', async () => {
      const notFound = await get('/pks/lookup?op=get&search=0x' + 'C'.repeat(40));
      assert.equal(notFound.statusCode, 404);
      assert.match(String(notFound.headers['content-type']), /^text\/plain/);
      assert.equal((await get('/pks/lookup?op=index&options=mr&search=nobody%40example.org')).statusCode, 404);
      assert.equal((await get('/pks/lookup?op=stats')).statusCode, 501);
      assert.equal((await get('/pks/lookup?op=get&search=0x12345678')).statusCode, 400);
      assert.equal((await get('/pks/lookup?op=index&search=Alice')).statusCode, 400);
      assert.equal((await get('/pks/lookup?search=0x' + alice.fingerprint)).statusCode, 400);
    });
  });

  describe('WKD', () => {
    const z = (local: string) => {
      // z-base-32 of SHA-1, computed here independently of the module under test.
      const alphabet = 'ybndrfg8ejkmcpqxot1uwisza345h769';
      let bits = '';
      for (const byte of createHash('sha1').update(local.toLowerCase()).digest()) bits += byte.toString(2).padStart(8, '0');
      return bits.match(/.{1,5}/g)!.map((b) => alphabet[parseInt(b.padEnd(5, '0'), 2)]).join('');
    };

    it('direct and advanced methods serve the binary key with that user ID only; HEAD works', async () => {
      const direct = await get(`/.well-known/openpgpkey/hu/${z('alice')}?l=alice`, { host: 'example.org' });
      const advanced = await get(`/.well-known/openpgpkey/example.org/hu/${z('Alice')}`, { host: 'openpgpkey.example.org' });
      for (const res of [direct, advanced]) {
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers['content-type'], 'application/octet-stream');
        assert.equal(res.headers['access-control-allow-origin'], '*');
        const key = await openpgp.readKey({ binaryKey: res.rawPayload });
        assert.deepEqual(key.getUserIDs(), ['User 0 <alice@example.org>']);
      }
      const head = await serving.app.inject({ method: 'HEAD', url: `/.well-known/openpgpkey/hu/${z('bob.builder')}`, headers: { host: 'example.org:8443' } });
      assert.equal(head.statusCode, 200);
      assert.equal(head.body, '');
      assert.equal(head.headers['content-type'], 'application/octet-stream');
    });

    it('answers 404 for other hashes and domains, and serves the policy file of served domains', async () => {
      assert.equal((await get(`/.well-known/openpgpkey/hu/${z('nobody')}`, { host: 'example.org' })).statusCode, 404);
      assert.equal((await get(`/.well-known/openpgpkey/hu/${z('alice')}`, { host: 'example.net' })).statusCode, 404);
      assert.equal((await get(`/.well-known/openpgpkey/other.example/hu/${z('alice')}`)).statusCode, 404);
      assert.equal((await get('/.well-known/openpgpkey/hu/not-a-hash', { host: 'example.org' })).statusCode, 404);
      for (const res of [
        await get('/.well-known/openpgpkey/policy', { host: 'example.org' }),
        await get('/.well-known/openpgpkey/example.net/policy', { host: 'openpgpkey.example.net' }),
      ]) {
        assert.equal(res.statusCode, 200);
        assert.equal(res.body, '');
      }
      assert.equal((await get('/.well-known/openpgpkey/policy', { host: 'unserved.example' })).statusCode, 404);
    });
  });

  describe('/v1/records', () => {
    it('gives fingerprint, minimal key, endpoint, price and DNS names, with per-address overrides', async () => {
      const res = await get('/v1/records/Bob.Builder%40example.org');
      assert.equal(res.statusCode, 200);
      const record = res.json();
      assert.equal(record.address, 'bob.builder@example.org');
      assert.equal(record.fingerprint, bob.fingerprint);
      assert.deepEqual(await userIdsOfArmored(record.key), ['User 0 <Bob.Builder@example.org>']);
      assert.equal(record.endpoint, 'smtp://bob.example.org:2525');
      assert.equal(record.pow, 26);
      assert.equal(record.status, 'published');
      assert.equal(record.expires, null);
      assert.deepEqual(record.dns, {
        openpgpkey: `${h56('bob.builder')}._openpgpkey.example.org`,
        keypost: `${h56('bob.builder')}._keypost.example.org`,
        pka: `${record.dns.pka.split('.')[0]}._pka.example.org`,
      });
      assert.match(record.dns.pka, /^[ybndrfg8ejkmcpqxot1uwisza345h769]{32}\._pka\.example\.org$/);

      const zoneDefaults = (await get('/v1/records/alice@example.org')).json();
      assert.equal(zoneDefaults.endpoint, 'smtp://mx.example.org:25');
      assert.equal(zoneDefaults.pow, 22);
      const serverDefaults = (await get('/v1/records/old@example.net')).json();
      assert.equal(serverDefaults.endpoint, null);
      assert.equal(serverDefaults.pow, 20);
    });

    it('marks a key that expired after publication, in records and in the HKP index', async () => {
      const later = await startServingApp(db, { now: () => new Date(Date.now() + 2 * DAY) });
      try {
        const record = (await later.app.inject({ method: 'GET', url: '/v1/records/old@example.net' })).json();
        assert.equal(record.status, 'expired');
        assert.equal(record.expires, old.expiresAt!.toISOString());
        const index = (await later.app.inject({ method: 'GET', url: '/pks/lookup?op=index&options=mr&search=old%40example.net' })).body;
        const expires = Math.floor(old.expiresAt!.getTime() / 1000);
        assert.match(index, new RegExp(`^pub:${old.fingerprint}:22:255:\\d+:${expires}:e$`, 'm'));
        assert.match(index, new RegExp(`^uid:User 0 <old@example.net>::${expires}:e$`, 'm'));
      } finally {
        await later.close();
      }
    });

    it('gives the same record by the OPENPGPKEY label the transparency log names the address by', async () => {
      const byAddress = (await get('/v1/records/Bob.Builder%40example.org')).json();
      const res = await get(`/v1/records/by-label/Example.ORG/${h56('bob.builder').toUpperCase()}`);
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), byAddress);
      const missing = await get(`/v1/records/by-label/example.org/${h56('nobody')}`);
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.json().code, 'DIR_ADDRESS_NOT_FOUND');
      const otherZone = await get(`/v1/records/by-label/example.net/${h56('bob.builder')}`);
      assert.equal(otherZone.statusCode, 404);
      const invalid = await get('/v1/records/by-label/example.org/bob.builder');
      assert.equal(invalid.statusCode, 400);
      assert.equal(invalid.json().code, 'DIR_LABEL_INVALID');
    });

    it('answers JSON errors with stable codes', async () => {
      const missing = await get('/v1/records/nobody@example.org');
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.json().code, 'DIR_ADDRESS_NOT_FOUND');
      const invalid = await get('/v1/records/nonsense');
      assert.equal(invalid.statusCode, 400);
      assert.equal(invalid.json().code, 'DIR_ADDRESS_INVALID');
    });
  });

  describe('lookup cache', () => {
    it('serves repeated lookups from memory and follows publish and withdraw through the change feed', async () => {
      const carol = await checked(await makeKey({ emails: ['carol@example.net'] }));
      assert.equal((await get('/vks/v1/by-email/carol@example.net')).statusCode, 404);
      // The first lookup in a zone starts loading its snapshot; wait until answers come from it.
      for (let tries = 0; ; tries++) {
        const seen = await lookupCounts();
        await get('/v1/records/old@example.net');
        if ((await lookupCounts()).cache > seen.cache) break;
        assert.ok(tries < 100, 'the zone snapshot never loaded');
        await new Promise((r) => setTimeout(r, 50));
      }
      const before = await lookupCounts();
      for (let i = 0; i < 20; i++) assert.equal((await get('/v1/records/old@example.net')).statusCode, 200);
      const after = await lookupCounts();
      assert.equal(after.cache - before.cache, 20);
      assert.equal(after.database, before.database);

      let changed = serving.nextChange('example.net');
      await publishRow(db, carol, 'carol@example.net');
      await changed;
      const published = await get('/vks/v1/by-email/carol@example.net');
      assert.equal(published.statusCode, 200);
      assert.deepEqual(await userIdsOfArmored(published.body), ['User 0 <carol@example.net>']);

      changed = serving.nextChange('example.net');
      await withdrawRow(db, 'carol@example.net');
      await changed;
      assert.equal((await get('/vks/v1/by-email/carol@example.net')).statusCode, 404);
      assert.equal((await get('/v1/records/carol@example.net')).statusCode, 404);
    });

    async function lookupCounts(): Promise<{ cache: number; database: number }> {
      const text = (await get('/metrics')).body;
      const count = (source: string) => Number(new RegExp(`keypost_directory_address_lookups_total\\{source="${source}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
      return { cache: count('cache'), database: count('database') };
    }
  });

  describe('GnuPG 2.2 against the running service', { skip: requireTool('gpg', 'gpgconf') }, () => {
    let baseUrl: string;
    let port: number;
    let gpg: GpgHome;

    before(async () => {
      await serving.app.listen({ host: '127.0.0.1', port: 0 });
      const address = serving.app.server.address();
      assert.ok(address && typeof address === 'object');
      port = address.port;
      baseUrl = `http://127.0.0.1:${port}`;
    });

    after(async () => {
      await gpg?.close();
    });

    it('--recv-keys by fingerprint and --search-keys by address import the key with its user ID', async () => {
      gpg = createGpgHome({ keyserver: `hkp://127.0.0.1:${port}` });
      await gpg.ok(['--recv-keys', alice.fingerprint]);
      let listing = (await gpg.ok(['--with-colons', '--list-keys', alice.fingerprint])).stdout;
      assert.deepEqual(uidsIn(listing), ['User 0 <alice@example.org>']);

      const search = await gpg.ok(['--command-fd', '0', '--search-keys', 'bob.builder@example.org'], { input: '1\n' });
      assert.match(search.stdout + search.stderr, new RegExp(bob.fingerprint.slice(-16)));
      listing = (await gpg.ok(['--with-colons', '--list-keys', bob.fingerprint])).stdout;
      assert.deepEqual(uidsIn(listing), ['User 0 <Bob.Builder@example.org>']);
    });

    it('gpg --import takes the VKS and WKD answers, each with that user ID and no other', async () => {
      const home = createGpgHome();
      try {
        const vks = await fetch(`${baseUrl}/vks/v1/by-email/alice%40example.org`);
        await home.ok(['--import'], { input: await vks.text() });
        const wkdHash = (await get('/v1/records/alice@example.org')).json().dns.pka.split('.')[0];
        const wkd = await fetch(`${baseUrl}/.well-known/openpgpkey/example.org/hu/${wkdHash}?l=alice`);
        assert.equal(wkd.status, 200);
        const binary = new Uint8Array(await wkd.arrayBuffer());
        await home.ok(['--import'], { input: binary });
        const listing = (await home.ok(['--with-colons', '--list-keys', alice.fingerprint])).stdout;
        assert.deepEqual(uidsIn(listing), ['User 0 <alice@example.org>']);
      } finally {
        await home.close();
      }
    });
  });
});

function uidsIn(colons: string): string[] {
  return colons
    .split('\n')
    .filter((l) => l.startsWith('uid:'))
    .map((l) => l.split(':')[9]);
}

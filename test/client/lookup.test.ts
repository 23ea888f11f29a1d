// keypost lookup against a real keypost (DNS and API on port 0): every check passes for a key
// published by the owner, and each one fails on its own when what DNS serves disagrees with the key,
// the key has expired or been revoked, or the directory cannot confirm it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lookupAddress } from '../../src/client/lookup.js';
import { buildQuery, parseResponse } from '../../src/client/dns-message.js';
import { createStubResolver, parseServer, systemServers } from '../../src/client/stub-resolver.js';
import { dnsNamesFor } from '../../src/protocol/address-hashes.js';
import { updateDomain } from '../../src/directory/domains.js';
import { TYPE } from '../../src/protocol/dns-wire.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { runKeypost } from '../support/keypost-process.js';
import { addZone, lookupWhen, makeKey, publish, revokedCopy, serveOtherKey, startSite, statuses, type RunningSite, type Zone } from './support.js';

let testDb: TestDatabase;
let site: RunningSite;
let zone: Zone;
const ALL_PASS = { fingerprint: 'pass', pka: 'pass', 'user-id': 'pass', 'key-valid': 'pass', directory: 'pass' };

before(async () => {
  testDb = await openTestDatabase();
  site = await startSite(testDb);
  zone = await addZone(testDb, 'lookup.example', { powBits: 14, endpoint: 'smtp://mx.lookup.example:25', apiUrl: site.apiBase });
}, { timeout: 90_000 });

after(async () => {
  await site?.close();
  await testDb?.close();
});

describe('a published address', { timeout: 120_000 }, () => {
  test('is verified, with the zone policy as endpoint and price', async () => {
    const key = await makeKey('alice@lookup.example');
    await publish(site, zone, 'alice@lookup.example', key);
    const result = await lookupWhen('Alice@Lookup.Example', site, (r) => r.published);
    assert.equal(result.address, 'alice@lookup.example');
    assert.equal(result.verified, true, JSON.stringify(result.checks));
    assert.deepEqual(statuses(result), ALL_PASS);
    assert.equal(result.fingerprint, key.fingerprint);
    assert.equal(result.endpoint, 'smtp://mx.lookup.example:25');
    assert.equal(result.price, 14);
    assert.equal(result.api, site.apiBase);
    assert.equal(result.expires, null);
    assert.match(result.key!, /^-----BEGIN PGP PUBLIC KEY BLOCK-----\n/);
  });

  test("the address's own endpoint and price override the zone's", async () => {
    const key = await makeKey('bob@lookup.example');
    await publish(site, zone, 'bob@lookup.example', key, { endpoint: 'smtp://bob-mx.lookup.example:2525', pow: 9 });
    const result = await lookupWhen('bob@lookup.example', site, (r) => r.published);
    assert.equal(result.verified, true, JSON.stringify(result.checks));
    assert.equal(result.endpoint, 'smtp://bob-mx.lookup.example:2525');
    assert.equal(result.price, 9);
  });

  test('an RSA-4096 key is truncated over UDP and fetched again over TCP', async () => {
    const key = await makeKey('rsa@lookup.example', { rsa: true });
    await publish(site, zone, 'rsa@lookup.example', key);
    const result = await lookupWhen('rsa@lookup.example', site, (r) => r.published);
    assert.equal(result.verified, true, JSON.stringify(result.checks));
    assert.equal(result.fingerprint, key.fingerprint);

    // The same question over UDP alone comes back truncated, so the lookup above took the TCP path.
    const name = dnsNamesFor('rsa', 'lookup.example').openpgpkey;
    const reply = await new Promise<Buffer>((resolve) => {
      const socket = createSocket('udp4');
      socket.once('message', (m) => (socket.close(), resolve(m)));
      socket.send(buildQuery(0x1234, name, TYPE.OPENPGPKEY), site.dns.port, site.dns.host);
    });
    const parsed = parseResponse(reply, 0x1234, name, TYPE.OPENPGPKEY);
    assert.equal(parsed?.truncated, true);
    assert.equal(parsed?.answers.length, 0);
  });
});

describe('checks that fail', { timeout: 120_000 }, () => {
  test('an expired key: key-valid fails at a time after its expiry', async () => {
    const key = await makeKey('expiring@lookup.example', { keyExpirationTime: 3600 });
    await publish(site, zone, 'expiring@lookup.example', key);
    const now = await lookupWhen('expiring@lookup.example', site, (r) => r.published);
    assert.equal(now.verified, true);
    assert.ok(now.expires && now.expires.getTime() > Date.now());

    const later = await lookupAddress('expiring@lookup.example', { dns: site.dns, now: new Date(Date.now() + 2 * 3600_000) });
    assert.equal(later.verified, false);
    assert.equal(statuses(later)['key-valid'], 'fail');
    assert.match(later.checks.find((c) => c.name === 'key-valid')!.detail, /expired.*DIR_KEY_EXPIRED/);
  });

  test('a revoked key served by DNS: key-valid fails', async () => {
    const key = await makeKey('revoked@lookup.example');
    await publish(site, zone, 'revoked@lookup.example', key);
    await lookupWhen('revoked@lookup.example', site, (r) => r.published);
    await serveOtherKey(testDb, 'revoked@lookup.example', await revokedCopy(key));
    const result = await lookupWhen('revoked@lookup.example', site, (r) => !r.verified);
    assert.equal(result.verified, false);
    assert.deepEqual(statuses(result), { ...ALL_PASS, 'key-valid': 'fail' });
    assert.equal(result.checks.find((c) => c.name === 'key-valid')!.detail, 'the key is revoked');
  });

  test("another key served under the address: fingerprint, PKA, user ID and directory all disagree", async () => {
    const key = await makeKey('swapped@lookup.example');
    const intruder = await makeKey('mallory@elsewhere.example');
    await publish(site, zone, 'swapped@lookup.example', key);
    await lookupWhen('swapped@lookup.example', site, (r) => r.published);
    await serveOtherKey(testDb, 'swapped@lookup.example', intruder.publicKey);
    const result = await lookupWhen('swapped@lookup.example', site, (r) => r.fingerprint === intruder.fingerprint);
    assert.equal(result.verified, false);
    assert.deepEqual(statuses(result), { fingerprint: 'fail', pka: 'fail', 'user-id': 'fail', 'key-valid': 'pass', directory: 'fail' });
    const detail = Object.fromEntries(result.checks.map((c) => [c.name, c.detail]));
    assert.equal(detail.fingerprint, `the OPENPGPKEY key is ${intruder.fingerprint}, the TXT record says fpr=${key.fingerprint}`);
    assert.match(detail['user-id'], /no self-signed user ID for swapped@lookup\.example \(the key has mallory@elsewhere\.example\)/);
    assert.match(detail.directory, new RegExp(`names key ${key.fingerprint}, DNS names ${intruder.fingerprint}`));
  });

  test('a directory API that cannot be reached fails the directory check; none published skips it', async () => {
    const unreachable = await addZone(testDb, 'noapi.example', { powBits: 5, endpoint: 'smtp://mx.noapi.example:25', apiUrl: 'http://127.0.0.1:1' });
    await publish(site, unreachable, 'carol@noapi.example', await makeKey('carol@noapi.example'));
    const failed = await lookupWhen('carol@noapi.example', site, (r) => r.published);
    assert.equal(failed.verified, false);
    assert.equal(statuses(failed).directory, 'fail');
    assert.match(failed.checks.find((c) => c.name === 'directory')!.detail, /could not be reached/);

    await testDb.db.transaction().execute((tx) => updateDomain(tx, 'noapi.example', { apiUrl: null }));
    const skipped = await lookupWhen('carol@noapi.example', site, (r) => r.api === null);
    assert.equal(statuses(skipped).directory, 'skip');
    assert.equal(skipped.verified, true, 'the directory check is skipped when the zone names no API');
  });
});

describe('nothing published', { timeout: 120_000 }, () => {
  test('an unknown address of a keypost domain, and a domain without keypost records', async () => {
    const unknown = await lookupAddress('nobody@lookup.example', { dns: site.dns });
    assert.equal(unknown.published, false);
    assert.equal(unknown.keypostDomain, true);
    assert.equal(unknown.problem, 'lookup.example is a keypost domain, but nothing is published for nobody@lookup.example');
    assert.equal(unknown.verified, false);

    // A name inside the served zone that publishes no policy of its own: NXDOMAIN everywhere.
    const bare = await lookupAddress('someone@sub.lookup.example', { dns: site.dns });
    assert.equal(bare.published, false);
    assert.equal(bare.keypostDomain, false);
    assert.match(bare.problem!, /^nothing is published for someone@sub\.lookup\.example: no TXT at _keypost\.sub\.lookup\.example/);
  });
});

describe('keypost lookup (CLI)', { timeout: 120_000 }, () => {
  test('exit 0 verified, 1 a check failed, 3 nothing published, 4 DNS failed, 2 usage', async () => {
    const ok = await runKeypost(['lookup', 'alice@lookup.example', '--dns', site.dnsAddress]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^alice@lookup\.example: verified$/m);
    assert.match(ok.stdout, /^endpoint +smtp:\/\/mx\.lookup\.example:25$/m);
    assert.match(ok.stdout, /^price +14 bits$/m);
    assert.match(ok.stdout, /^ {2}pass {2}key-valid +not revoked, does not expire$/m);
    assert.match(ok.stdout, /-----END PGP PUBLIC KEY BLOCK-----\n$/);

    const revoked = await runKeypost(['lookup', 'revoked@lookup.example', '--dns', site.dnsAddress, '--json']);
    assert.equal(revoked.code, 1);
    assert.equal(JSON.parse(revoked.stdout).verified, false);
    // The revoked copy was written into DNS behind the directory's back, so the zone's log does not
    // show it either: the transparency check fails with it, and its code is the one reported.
    assert.match(revoked.stderr, /revoked@lookup\.example is not verified: key-valid, transparency \(CLIENT_TRANSPARENCY_FAILED\)/);

    const nobody = await runKeypost(['lookup', 'nobody@lookup.example', '--dns', site.dnsAddress]);
    assert.equal(nobody.code, 3);
    assert.match(nobody.stderr, /nothing is published for nobody@lookup\.example \(CLIENT_NOT_PUBLISHED\)/);

    const refused = await runKeypost(['lookup', 'x@not-served.example', '--dns', site.dnsAddress]);
    assert.equal(refused.code, 4);
    assert.match(refused.stderr, /answered REFUSED for .*\(CLIENT_DNS_FAILED\)/);

    for (const args of [['lookup'], ['lookup', 'not-an-address'], ['lookup', 'a@lookup.example', '--dns', 'nowhere'], ['lookup', 'a@b.example', '--bogus']]) {
      const usage = await runKeypost(args);
      assert.equal(usage.code, 2, `${args.join(' ')}: ${usage.stderr}`);
    }
  });
});

describe('stub resolver', { timeout: 120_000 }, () => {
  test('reads nameservers from resolv.conf, with the [address]:port form', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kpr-'));
    try {
      const file = path.join(dir, 'resolv.conf');
      writeFileSync(file, '# comment\nsearch example.org\nnameserver 192.0.2.53\nnameserver fe80::1%eth0\nnameserver [127.0.0.1]:5300\nnameserver bogus\n');
      assert.deepEqual(systemServers(file), [
        { host: '192.0.2.53', port: 53 },
        { host: 'fe80::1', port: 53 },
        { host: '127.0.0.1', port: 5300 },
      ]);
      assert.deepEqual(systemServers(path.join(dir, 'missing')), [{ host: '127.0.0.1', port: 53 }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.deepEqual(parseServer('[::1]:5300'), { host: '::1', port: 5300 });
    assert.deepEqual(parseServer('127.0.0.1'), { host: '127.0.0.1', port: 53 });
    assert.equal(parseServer('localhost:53'), undefined);
  });

  test('a server that never answers is a CLIENT_DNS_FAILED after the timeouts', async () => {
    const silent = createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    try {
      const resolver = createStubResolver({ servers: [{ host: '127.0.0.1', port: silent.address().port }], timeoutMs: 200, attempts: 2 });
      const started = Date.now();
      await assert.rejects(resolver.query('_keypost.lookup.example', TYPE.TXT), { code: 'CLIENT_DNS_FAILED', message: /no answer from 127\.0\.0\.1:\d+/ });
      assert.ok(Date.now() - started < 2000);
    } finally {
      silent.close();
    }
  });
});

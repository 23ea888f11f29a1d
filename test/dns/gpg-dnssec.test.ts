// gpg finds a key through a validating resolver, the path RFC 7929 §7 asks for: inside a network
// namespace made for the test, resolv.conf points at Unbound on 127.0.0.1:53, which validates the
// signed zone from its DNSKEY as trust anchor and asks keypost (on 127.0.0.1:5300 in the same
// namespace) as the zone's stub. gpg's dirmngr uses the system resolver, so what it gets is what
// Unbound validated.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireRoot, requireTool } from '../support/tools.js';
import { createNamespace, type Namespace } from '../support/netns.js';
import { unboundConfig } from '../support/unbound.js';
import { addZone, makeKey, publish, type TestKey } from './support/fixtures.js';
import { signZone } from './support/dnssec.js';
import { waitFor } from './support/server.js';

const skip = requireTool('gpg', 'gpgconf', 'ip', 'unbound', 'dig') || requireRoot('ip netns');
// Not under .test: Unbound answers that special-use name itself (RFC 6761 §6.2).
const ZONE = 'gpgsec.example';
const KEYPOST_DNS = { host: '127.0.0.1', port: 5300 };

let db: TestDatabase;
let ns: Namespace | undefined;
let work: string;
let alice: TestKey;
let bob: TestKey;
let unboundLog = '';

/** dig inside the namespace; through Unbound (the namespace's resolver) unless a port is given. */
const digInside = (...args: string[]) => ns!.exec('dig', ['+time=2', '+tries=1', ...args]);

before(async () => {
  if (skip) return;
  db = await openTestDatabase();
  work = mkdtempSync('/tmp/kgs');
  await addZone(db.db, ZONE, { dns: { nameservers: [{ name: `ns1.${ZONE}`, ipv4: ['127.0.0.1'] }] } });
  await signZone(db, ZONE, 13);
  [alice, bob] = await Promise.all([makeKey(`alice@${ZONE}`), makeKey(`bob@${ZONE}`)]);
  await publish(db.db, `alice@${ZONE}`, alice);

  ns = await createNamespace('nameserver 127.0.0.1\noptions timeout:2 attempts:1\n');
  await ns.serveKeypost('dns', {
    ...(await ns.databaseEnv(db.env, work)),
    KEYPOST_DNS_LISTEN: `${KEYPOST_DNS.host}:${KEYPOST_DNS.port}`,
    KEYPOST_HTTP_LISTEN: '127.0.0.1:8080',
  });

  // The trust anchor is the zone's own DNSKEY, as keypost serves it.
  const dnskey = (await digInside(`@${KEYPOST_DNS.host}`, '-p', String(KEYPOST_DNS.port), '+short', ZONE, 'DNSKEY')).trim().split('\n')[0];
  assert.ok(dnskey, 'keypost serves the DNSKEY');
  const dir = path.join(work, 'unbound');
  mkdirSync(dir);
  const anchorsFile = path.join(dir, 'anchors');
  writeFileSync(anchorsFile, `${ZONE}. 3600 IN DNSKEY ${dnskey}\n`);
  const config = path.join(dir, 'unbound.conf');
  writeFileSync(config, unboundConfig({ dir, address: '127.0.0.1', port: 53, anchorsFile, stubZones: [{ name: ZONE, server: KEYPOST_DNS }] }));
  const unbound = ns.spawn('unbound', ['-d', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  unbound.stdout!.on('data', (c: Buffer) => (unboundLog += c.toString()));
  unbound.stderr!.on('data', (c: Buffer) => (unboundLog += c.toString()));
  let last = '';
  await waitFor('Unbound in the namespace', async () => (/status: NOERROR/.test((last = await digInside(ZONE, 'SOA'))) ? true : undefined), 30_000, 200).catch((err) => {
    throw new Error(`${(err as Error).message}\n${last}\n${unboundLog}`);
  });
});

after(async () => {
  await ns?.close();
  await db?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the namespace resolver validates the zone: answers carry AD', { skip }, async () => {
  const out = await digInside('+dnssec', `${'_keypost'}.${ZONE}`, 'TXT');
  assert.match(out, /flags: qr rd ra ad;/, `${out}\n${unboundLog}`);
});

test('gpg --auto-key-locate clear,dane finds the key through the validating resolver', { skip }, async () => {
  const home = path.join(work, 'gpg');
  mkdirSync(home, { mode: 0o700 });
  // dirmngr resolves through the system resolver, which reads the namespace's resolv.conf.
  writeFileSync(path.join(home, 'dirmngr.conf'), 'standard-resolver\n');
  const gpg = (args: string[]) => ns!.exec('sh', ['-c', `gpg --homedir ${home} --batch --no-tty -v "$@" 2>&1`, 'gpg', ...args]);
  try {
    const found = await gpg(['--auto-key-locate', 'clear,dane', '--locate-external-keys', `alice@${ZONE}`]);
    assert.match(found, new RegExp(alice.fingerprint), `${found}\n${unboundLog}`);
    assert.match(found, /DANE/);
    const missing = await gpg(['--auto-key-locate', 'clear,dane', '--locate-external-keys', `bob@${ZONE}`]);
    assert.doesNotMatch(missing, new RegExp(bob.fingerprint));
  } finally {
    await ns!.exec('gpgconf', ['--homedir', home, '--kill', 'all']);
  }
});

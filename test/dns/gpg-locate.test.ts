// gpg 2.2 finds a published key by address through its real resolver: a network namespace made for
// the test (test/support/netns.ts), whose resolv.conf points at 127.0.0.1:53, where `keypost serve
// --only dns,api` runs inside the namespace. The directory listener is the public URL the PKA
// records point at, so gpg can fetch a key it does not hold.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireRoot, requireTool } from '../support/tools.js';
import { createNamespace, type Namespace } from '../support/netns.js';
import { addZone, makeKey, publish, type TestKey } from './support/fixtures.js';
import { waitFor } from './support/server.js';

const skip = requireTool('gpg', 'gpgconf', 'ip') || requireRoot('ip netns');
const ZONE = 'gpg.test';
// The namespace is the test's own, so fixed ports cannot collide with anything.
const DIRECTORY = 'http://127.0.0.1:8080';

let db: TestDatabase;
let ns: Namespace | undefined;
let work: string;
let alice: TestKey;
let bob: TestKey;

async function gpg(home: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  // stderr carries gpg's verbose "via DANE"/"via PKA" lines; capture both.
  const out = await ns!.exec('sh', ['-c', `gpg --homedir ${home} --batch --no-tty -v "$@" 2>&1`, 'gpg', ...args]);
  return { stdout: out, stderr: out };
}

before(async () => {
  if (skip) return;
  db = await openTestDatabase();
  work = mkdtempSync('/tmp/kg');
  await addZone(db.db, ZONE);
  [alice, bob] = await Promise.all([makeKey(`alice@${ZONE}`), makeKey(`bob@${ZONE}`)]);
  await publish(db.db, `alice@${ZONE}`, alice);

  ns = await createNamespace('nameserver 127.0.0.1\noptions timeout:2 attempts:1\n');
  await ns.serveKeypost('dns,api', {
    ...(await ns.databaseEnv(db.env, work)),
    KEYPOST_DNS_LISTEN: '127.0.0.1:53',
    KEYPOST_HTTP_LISTEN: new URL(DIRECTORY).host,
    KEYPOST_PUBLIC_URL: DIRECTORY,
  });
});

after(async () => {
  await ns?.close();
  await db?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function gpgHome(name: string): Promise<string> {
  const home = path.join(work, name);
  mkdirSync(home, { mode: 0o700 });
  // dirmngr resolves through the system resolver, which reads the namespace's resolv.conf.
  writeFileSync(path.join(home, 'dirmngr.conf'), 'standard-resolver\n');
  return home;
}

async function killAgents(home: string): Promise<void> {
  await ns!.exec('gpgconf', ['--homedir', home, '--kill', 'all']);
}

test('gpg --auto-key-locate dane fetches the OPENPGPKEY record', { skip }, async () => {
  const home = await gpgHome('d');
  try {
    const found = await gpg(home, ['--auto-key-locate', 'clear,dane', '--locate-external-keys', `alice@${ZONE}`]);
    assert.match(found.stdout, new RegExp(alice.fingerprint), found.stdout);
    assert.match(found.stdout, /DANE/, found.stdout);
    const listed = await gpg(home, ['--with-colons', '--list-keys', `alice@${ZONE}`]);
    assert.match(listed.stdout, new RegExp(`fpr:+${alice.fingerprint}:`));
    // An address without a record is not found.
    const missing = await gpg(home, ['--auto-key-locate', 'clear,dane', '--locate-external-keys', `bob@${ZONE}`]);
    assert.doesNotMatch(missing.stdout, new RegExp(bob.fingerprint));
    assert.match(missing.stdout, /No (public key|data)|not found|error/i);
  } finally {
    await killAgents(home);
  }
});

test('gpg --auto-key-locate pka confirms the fingerprint from the CERT record', { skip }, async () => {
  const home = await gpgHome('p');
  try {
    // With the key already held, gpg takes the fingerprint the record names and uses its own copy.
    writeFileSync(path.join(work, 'keys.asc'), `${alice.armored}\n${bob.armored}\n`);
    await gpg(home, ['--import', path.join(work, 'keys.asc')]);
    const found = await gpg(home, ['--auto-key-locate', 'clear,pka', '--locate-external-keys', `alice@${ZONE}`]);
    assert.match(found.stdout, new RegExp(alice.fingerprint), found.stdout);
    assert.match(found.stdout, /PKA/, found.stdout);
    const unpublished = await gpg(home, ['--auto-key-locate', 'clear,pka', '--locate-external-keys', `bob@${ZONE}`]);
    assert.doesNotMatch(unpublished.stdout, new RegExp(`^\\s*${bob.fingerprint}`, 'm'), unpublished.stdout);
    // Publishing bob makes PKA find him through the running server.
    await publish(db.db, `bob@${ZONE}`, bob);
    await waitFor(
      'bob via PKA',
      async () => {
        const r = await gpg(home, ['--auto-key-locate', 'clear,pka', '--locate-external-keys', `bob@${ZONE}`]);
        return new RegExp(`^\\s*${bob.fingerprint}`, 'm').test(r.stdout) ? true : undefined;
      },
      10_000,
      300,
    );
  } finally {
    await killAgents(home);
  }
});

test('gpg with an empty keyring fetches the key a PKA record points to from the directory', { skip }, async () => {
  const home = await gpgHome('e');
  try {
    // Nothing imported: the key can only come from the URL in the CERT IPGP record.
    const found = await gpg(home, ['--auto-key-locate', 'clear,pka', '--locate-keys', `alice@${ZONE}`]);
    assert.match(found.stdout, /PKA/, found.stdout);
    const listed = await gpg(home, ['--with-colons', '--list-keys', `alice@${ZONE}`]);
    assert.match(listed.stdout, new RegExp(`fpr:+${alice.fingerprint}:`), `${found.stdout}\n${listed.stdout}`);
  } finally {
    await killAgents(home);
  }
});

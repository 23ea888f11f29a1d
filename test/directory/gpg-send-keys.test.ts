// Acceptance with GnuPG 2.2 against the running API, each step in its own throwaway GNUPGHOME:
// gpg --send-keys uploads a fresh key (HKP add); the verification mail, captured by a real SMTP
// listener, is decrypted by gpg with that key; its link is confirmed with a POST; then a second
// and a third GNUPGHOME import the key with --recv-keys (by fingerprint) and --search-keys (by
// address), and see its user ID.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { startMailSink, type MailSink } from '../support/mail-sink.js';
import { requireTool } from '../support/tools.js';
import { addDomain, linkIn, postJson, startApi, type RunningApi } from './write-side.js';

const run = promisify(execFile);
const skip = requireTool('gpg', 'gpgconf');
const ADDRESS = 'gpg-tester@example.org';
const USER_ID = `Gpg Tester <${ADDRESS}>`;

let testDb: TestDatabase;
let sink: MailSink;
let api: RunningApi;
const homes: string[] = [];

/** A fresh GNUPGHOME; short, because gpg-agent's socket lives in it. */
function newHome(): string {
  const home = mkdtempSync(path.join(tmpdir(), 'kg-'));
  homes.push(home);
  return home;
}

function gpgEnv(home: string): NodeJS.ProcessEnv {
  // No proxy settings from the environment: dirmngr must talk to the loopback listener directly.
  const { http_proxy: _a, https_proxy: _b, HTTP_PROXY: _c, HTTPS_PROXY: _d, ...rest } = process.env;
  return { ...rest, GNUPGHOME: home, LC_ALL: 'C' };
}

async function gpg(home: string, args: string[], input?: string): Promise<{ stdout: string; stderr: string }> {
  if (input === undefined) return run('gpg', args, { env: gpgEnv(home), timeout: 60_000 });
  return new Promise((resolve, reject) => {
    const child = spawn('gpg', args, { env: gpgEnv(home) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`gpg ${args.join(' ')} exited ${code}:\n${stderr}`));
    });
    child.stdin.end(input);
  });
}

async function userIds(home: string): Promise<string[]> {
  const { stdout } = await gpg(home, ['--with-colons', '--list-keys']);
  return stdout.split('\n').filter((l) => l.startsWith('uid:')).map((l) => l.split(':')[9]);
}

before(async () => {
  if (skip) return;
  testDb = await openTestDatabase();
  sink = await startMailSink();
  await addDomain(testDb.db, 'example.org');
  api = await startApi(testDb, { KEYPOST_MAIL_SUBMISSION_URL: sink.url });
});

after(async () => {
  for (const home of homes) {
    await run('gpgconf', ['--kill', 'all'], { env: gpgEnv(home) }).catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  }
  await api?.close();
  await sink?.close();
  await testDb?.close();
});

describe('gpg 2.2 against keypost', { skip }, () => {
  test('send-keys → mailed link decrypted by gpg → confirmed → recv-keys and search-keys import the key', async () => {
    const keyserver = `hkp://${api.keypost.addresses.api}`;
    const sender = newHome();
    await gpg(sender, ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', USER_ID, 'future-default', 'default', 'never']);
    const { stdout: listing } = await gpg(sender, ['--with-colons', '--list-keys', ADDRESS]);
    const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(listing)?.[1];
    assert.ok(fingerprint, listing);

    // 1. Upload: gpg --send-keys posts to /pks/add.
    const sent = await gpg(sender, ['--keyserver', keyserver, '--send-keys', fingerprint]);
    assert.match(sent.stderr, /sending key/);
    assert.equal(
      (await testDb.db.selectFrom('addresses').select('status').where('address', '=', ADDRESS).executeTakeFirst()),
      undefined,
      'nothing is published before verification',
    );

    // 2. The mail, encrypted to the key: only the key holder's gpg can read the link.
    const mail = await sink.waitFor((m) => m.to.includes(ADDRESS));
    const armored = /-----BEGIN PGP MESSAGE-----[\s\S]+?-----END PGP MESSAGE-----/.exec(mail.raw)?.[0];
    assert.ok(armored, 'the mail carries an OpenPGP message');
    const decrypted = await gpg(sender, ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--decrypt'], armored.replace(/\r\n/g, '\n'));
    const { link, token } = linkIn(decrypted.stdout);
    assert.ok(link.startsWith(`http://${api.keypost.addresses.api}/v/`));
    const confirmed = await postJson(`${api.baseUrl}/v/${token}`, {});
    assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
    assert.equal(confirmed.body.fingerprint, fingerprint);

    // 3. A second GNUPGHOME fetches by fingerprint. The lookup cache follows the change feed, so
    // allow it a moment to see the new publication.
    const receiver = newHome();
    let received = '';
    for (let attempt = 0; attempt < 20 && !/imported: 1/.test(received); attempt++) {
      if (attempt) await new Promise((r) => setTimeout(r, 250));
      received = (await gpg(receiver, ['--batch', '--keyserver', keyserver, '--recv-keys', fingerprint]).catch((err: Error) => ({ stderr: err.message }))).stderr;
    }
    assert.match(received, /imported: 1/, received);
    assert.deepEqual(await userIds(receiver), [USER_ID]);

    // ... and a third searches by address and picks the single result.
    const searcher = newHome();
    const searched = await gpg(searcher, ['--no-tty', '--command-fd', '0', '--keyserver', keyserver, '--search-keys', ADDRESS], '1\n');
    assert.match(searched.stdout, new RegExp(`Gpg Tester <${ADDRESS}>`));
    assert.match(searched.stderr, /imported: 1/);
    assert.deepEqual(await userIds(searcher), [USER_ID]);
  });
});

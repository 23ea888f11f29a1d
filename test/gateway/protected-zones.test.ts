// Zones that take only protected mail (req=): `keypost domain add/set --require` as an operator
// runs it, the requirement in the _keypost TXT as dig shows it, the gateway refusing at DATA what
// swaks sends plain or with a signature nobody publishes, without spending the refused message's
// stamp, a per-address override through the owner API, and `keypost send` reading req= first.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sendMessage } from '../../src/client/send.js';
import { loadSigningKey } from '../../src/client/pgp-sign.js';
import { openpgpkeyLabel } from '../../src/protocol/address-hashes.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { runKeypost } from '../support/keypost-process.js';
import { freePort } from '../support/ports.js';
import { requireTool } from '../support/tools.js';
import { createGpgHome, type GpgHome } from '../directory/gpg-home.js';
import { dig, waitFor } from '../dns/support/server.js';
import { lookupWhen, makeKey, publish, startSite, type RunningSite, type TestKey, type Zone } from '../client/support.js';
import { dataReplies, hashcashStamp, startDownstream, swaks, type Downstream } from './support.js';

const skip = requireTool('gpg', 'dig', 'swaks', 'hashcash');

const crlf = (text: string) => text.replace(/\r?\n/g, '\r\n');

describe('zones that take only protected mail', { skip, timeout: 240_000 }, () => {
  let testDb: TestDatabase;
  let site: RunningSite;
  let downstream: Downstream;
  let gpg: GpgHome;
  let dir: string;
  let dave: TestKey;
  let nobody: TestKey;
  let alice: TestKey;
  let bob: TestKey;
  let carol: TestKey;
  let sealed: Zone;
  const kp = (...args: string[]) => runKeypost(args, testDb.env);

  /** A zone as the operator adds it: the CLI, its owner token from --json. */
  async function addZone(name: string, ...options: string[]): Promise<Zone> {
    const api = options.includes('--api') ? [] : ['--api', site.apiBase];
    const added = await kp('domain', 'add', name, '--pow', '8', '--endpoint', `smtp://${site.gateway}`, '--next-hop', downstream.hop, ...api, '--dnssec', 'off', ...options, '--json');
    assert.equal(added.code, 0, added.stderr);
    return { name, token: JSON.parse(added.stdout).owner_token };
  }

  before(async () => {
    testDb = await openTestDatabase();
    downstream = await startDownstream();
    // The gateway looks signers up in this site's own DNS, so both use one fixed port.
    const dnsPort = await freePort();
    site = await startSite(testDb, { KEYPOST_DNS_LISTEN: `127.0.0.1:${dnsPort}`, KEYPOST_DNS_RESOLVER: `127.0.0.1:${dnsPort}` });
    sealed = await addZone('sealed.example', '--require', 'encrypted');
    const signedZone = await addZone('signed.example');
    const set = await kp('domain', 'set', 'signed.example', '--require', 'signed,encrypted', '--json');
    assert.equal(set.code, 0, set.stderr);
    assert.equal(JSON.parse(set.stdout).domain.require, 'encrypted,signed', 'stored in its one spelling');
    assert.equal((await kp('domain', 'set', 'signed.example', '--require', 'signed')).code, 0);
    const refused = await kp('domain', 'set', 'signed.example', '--require', 'sealed');
    assert.equal(refused.code, 2, 'a requirement that does not exist is a usage error');
    assert.match(refused.stderr, /--require takes encrypted, signed, encrypted,signed or none, not "sealed"/);
    const senders = await addZone('senders.example');
    // A sender zone whose directory API is down: the gateway judges what DNS publishes only.
    const offline = await addZone('offline.example', '--api', `http://127.0.0.1:${await freePort()}`);

    [dave, nobody, alice, bob, carol] = await Promise.all([
      makeKey('dave@senders.example'),
      makeKey('nobody@senders.example'),
      makeKey('alice@sealed.example'),
      makeKey('bob@signed.example'),
      makeKey('carol@offline.example'),
    ]);
    await publish(site, offline, 'carol@offline.example', carol);
    await publish(site, senders, 'dave@senders.example', dave);
    await publish(site, sealed, 'alice@sealed.example', alice);
    await publish(site, sealed, 'postmaster@sealed.example', await makeKey('postmaster@sealed.example'));
    await publish(site, signedZone, 'bob@signed.example', bob);
    // The owner lets the postmaster take plain mail in a zone that takes only encrypted mail.
    const patched = await fetch(`${site.apiBase}/v1/domains/sealed.example/addresses/postmaster@sealed.example`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${sealed.token}` },
      body: JSON.stringify({ require: 'none' }),
    });
    assert.equal(patched.status, 200, await patched.text());
    await lookupWhen('dave@senders.example', site, (r) => r.verified);
    await lookupWhen('alice@sealed.example', site, (r) => r.verified && r.requirement === 'encrypted');
    await lookupWhen('postmaster@sealed.example', site, (r) => r.verified && r.requirement === 'none');
    await lookupWhen('bob@signed.example', site, (r) => r.verified && r.requirement === 'signed');
    const carolLookup = await lookupWhen('carol@offline.example', site, (r) => r.published);
    assert.equal(carolLookup.checks.find((c) => c.name === 'directory')?.status, 'fail', 'a sender would see the directory down');

    gpg = createGpgHome();
    for (const key of [dave, nobody, carol]) await gpg.ok(['--import'], { input: key.privateKey });
    for (const key of [alice, bob]) await gpg.ok(['--import'], { input: key.publicKey });
    dir = mkdtempSync(path.join(tmpdir(), 'kp-req-'));
  });

  after(async () => {
    await gpg?.close();
    await site?.close();
    await downstream?.close();
    await testDb?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Sends `message` (header and body, LF or CRLF) with swaks; the DATA reply lines. */
  async function sendRaw(to: string | string[], message: string): Promise<string> {
    const result = await swaks({ server: site.gateway, from: 'dave@senders.example', to, data: `${crlf(message).replace(/\r\n$/, '')}\r\n.\r\n` });
    return dataReplies(result.stdout).join('\n');
  }

  async function encryptedBody(to: string, text: string): Promise<string> {
    const entity = crlf(`Content-Type: text/plain; charset=us-ascii\n\n${text}\n`);
    const { stdout } = await gpg.ok(['--armor', '--encrypt', '--trust-model', 'always', '-r', to], { input: entity });
    return (
      'MIME-Version: 1.0\nContent-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="enc"\n\n' +
      `--enc\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--enc\nContent-Type: application/octet-stream; name="encrypted.asc"\n\n${stdout.trim()}\n--enc--\n`
    );
  }

  async function signedBody(signer: TestKey, text: string): Promise<string> {
    const entity = crlf(`Content-Type: text/plain; charset=us-ascii\n\n${text}\n`);
    const { stdout } = await gpg.ok(['--armor', '--detach-sign', '--digest-algo', 'SHA256', '-u', signer.fingerprint], { input: entity });
    return (
      crlf('MIME-Version: 1.0\nContent-Type: multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature"; boundary="sig"\n\n--sig\n') +
      entity +
      crlf(`\n--sig\nContent-Type: application/pgp-signature; name="signature.asc"\n\n${stdout.trim()}\n--sig--\n`)
    );
  }

  test('dig shows req= in the zone _keypost TXT, and an address override where it differs', async () => {
    const server = site.dns;
    const txt = (name: string) => waitFor(name, async () => (await dig(server, '+short', name, 'TXT')).trim() || undefined, 10_000, 50);
    assert.equal(await txt('_keypost.sealed.example'), `"v=kp1; api=${site.apiBase}; ep=smtp://${site.gateway}; pow=8; req=encrypted"`);
    assert.equal(await txt('_keypost.signed.example'), `"v=kp1; api=${site.apiBase}; ep=smtp://${site.gateway}; pow=8; req=signed"`);
    assert.equal(await txt('_keypost.senders.example'), `"v=kp1; api=${site.apiBase}; ep=smtp://${site.gateway}; pow=8"`, 'none is not written');
    assert.equal(await txt(`${openpgpkeyLabel('postmaster')}._keypost.sealed.example`), `"v=kp1; fpr=${(await lookupWhen('postmaster@sealed.example', site, () => true)).fingerprint}; req=none"`);
    assert.equal(await txt(`${openpgpkeyLabel('alice')}._keypost.sealed.example`), `"v=kp1; fpr=${alice.fingerprint}"`, 'the zone requirement is not repeated');
    // The records API says the same, already combined.
    for (const [address, require] of [['alice@sealed.example', 'encrypted'], ['postmaster@sealed.example', 'none'], ['bob@signed.example', 'signed']]) {
      const record = await (await fetch(`${site.apiBase}/v1/records/${address}`)).json();
      assert.equal(record.require, require, address);
    }
    // And the search page, in words.
    const page = await (await fetch(`${site.apiBase}/?q=bob@signed.example`)).text();
    assert.match(page, /<dt>Accepts<\/dt><dd>only signed mail \(<code>req=signed<\/code>\)<\/dd>/);
  });

  test('req=encrypted: a plain message is refused with 550 5.7.1 naming the requirement, and its unspent stamp then carries the encrypted one', async () => {
    const stamp = await hashcashStamp('alice@sealed.example', 8);
    const plain = await sendRaw('alice@sealed.example', `From: dave@senders.example\nTo: alice@sealed.example\nSubject: plain\nX-Hashcash: ${stamp}\n\nnot encrypted\n`);
    assert.match(plain, /^550 5\.7\.1 <alice@sealed\.example> accepts only encrypted mail \(req=encrypted\): the message is not encrypted/);

    const before = downstream.mails.length;
    const encrypted = await sendRaw('alice@sealed.example', `From: dave@senders.example\nTo: alice@sealed.example\nSubject: sealed\nX-Hashcash: ${stamp}\n${await encryptedBody('alice@sealed.example', 'for your eyes')}`);
    assert.match(encrypted, /^250 2\.0\.0 Ok: queued as /, 'the same stamp is still unspent');
    await downstream.waitForCount(before + 1);
    assert.match(downstream.mails.at(-1)!.raw.toString('latin1'), /multipart\/encrypted/);
    // Spent now: the stamp rule still holds.
    const again = await sendRaw('alice@sealed.example', `Subject: again\nX-Hashcash: ${stamp}\n${await encryptedBody('alice@sealed.example', 'again')}`);
    assert.match(again, /^550 5\.7\.1 X-Hashcash: 8 bits required for alice@sealed\.example \(stamp was already spent\)/);
  });

  test('req=encrypted: an inline PGP MESSAGE is encrypted; armour around a message that is not encrypted is not', async () => {
    const { stdout: inline } = await gpg.ok(['--armor', '--encrypt', '--trust-model', 'always', '-r', 'alice@sealed.example'], { input: 'inline secret\n' });
    const ok = await sendRaw('alice@sealed.example', `Subject: inline\nX-Hashcash: ${await hashcashStamp('alice@sealed.example', 8)}\n\n${inline}`);
    assert.match(ok, /^250 /);
    const { stdout: signedOnly } = await gpg.ok(['--armor', '--sign', '-u', dave.fingerprint], { input: 'looks sealed\n' });
    const fake = await sendRaw('alice@sealed.example', `Subject: fake\nX-Hashcash: ${await hashcashStamp('alice@sealed.example', 8)}\n\n${signedOnly}`);
    assert.match(fake, /^550 5\.7\.1 .*req=encrypted/);
  });

  test('the address override beats the zone; with several recipients the message is refused whole, naming only those it fails', async () => {
    const toPostmaster = await sendRaw('postmaster@sealed.example', `Subject: hello\nX-Hashcash: ${await hashcashStamp('postmaster@sealed.example', 8)}\n\nplain is fine here\n`);
    assert.match(toPostmaster, /^250 /);

    const stamps = [await hashcashStamp('alice@sealed.example', 8), await hashcashStamp('postmaster@sealed.example', 8)];
    const both = await sendRaw(['alice@sealed.example', 'postmaster@sealed.example'], `Subject: both\nX-Hashcash: ${stamps[0]}\nX-Hashcash: ${stamps[1]}\n\nplain\n`);
    assert.match(both, /^550 5\.7\.1 <alice@sealed\.example> accepts only encrypted mail/);
    assert.doesNotMatch(both, /postmaster/);
    // Neither stamp was spent: postmaster's still pays for a plain message of its own.
    assert.match(await sendRaw('postmaster@sealed.example', `Subject: later\nX-Hashcash: ${stamps[1]}\n\nplain\n`), /^250 /);
  });

  test('req=signed: refuses an unsigned message and one signed by a sender with nothing published, accepts one signed by a published sender, asking DNS and no directory API', async () => {
    const headers = (stamp: string) => `From: Dave <dave@senders.example>\nTo: bob@signed.example\nSubject: signed?\nX-Hashcash: ${stamp}\n`;
    const stamp = await hashcashStamp('bob@signed.example', 8);
    const unsigned = await sendRaw('bob@signed.example', `${headers(stamp)}\nno signature\n`);
    assert.match(unsigned, /^550 5\.7\.1 <bob@signed\.example> accepts only signed mail \(req=signed\): no signature verifies against a key published in DNS \(the message carries no signature\)/);

    // nobody@senders.example signs, and claims the From of its own key, which nothing publishes.
    const unknown = await sendRaw('bob@signed.example', `From: nobody@senders.example\nTo: bob@signed.example\nSubject: hi\nX-Hashcash: ${stamp}\n${await signedBody(nobody, 'trust me')}`);
    assert.match(unknown, /^550 5\.7\.1 <bob@signed\.example> accepts only signed mail \(req=signed\): .*unknown-signer/);

    const good = await sendRaw('bob@signed.example', `${headers(stamp)}${await signedBody(dave, 'signed by dave')}`);
    assert.match(good, /^250 2\.0\.0 Ok: queued as /, 'the stamp of both refusals is still unspent');

    // The gateway asks DNS only: a signer whose directory API is down still signs good mail.
    const fromOffline = await sendRaw('bob@signed.example', `From: carol@offline.example\nTo: bob@signed.example\nSubject: hi\nX-Hashcash: ${await hashcashStamp('bob@signed.example', 8)}\n${await signedBody(carol, 'signed by carol')}`);
    assert.match(fromOffline, /^250 /);
  });

  test('keypost send: a req=encrypted recipient needs --encrypt, a req=signed one --sign; refused before any stamp is minted', async () => {
    const file = path.join(dir, 'note.txt');
    writeFileSync(file, 'Subject: from the cli\n\nhello\n');
    const plain = await runKeypost(['send', '--dns', site.dnsAddress, '--from', 'dave@senders.example', '--to', 'alice@sealed.example', '--to', 'postmaster@sealed.example', '--json', file], testDb.env);
    assert.equal(plain.code, 6, plain.stdout + plain.stderr);
    const report = JSON.parse(plain.stdout);
    const alicePlain = report.recipients.find((r: { address: string }) => r.address === 'alice@sealed.example');
    assert.equal(alicePlain.code, 'CLIENT_PROTECTION_REQUIRED');
    assert.equal(alicePlain.stage, 'require');
    assert.equal(alicePlain.stamp, null, 'nothing was minted for it');
    assert.match(alicePlain.detail, /alice@sealed\.example accepts only encrypted mail \(req=encrypted\): send again with --encrypt/);
    assert.equal(report.recipients.find((r: { address: string }) => r.address === 'postmaster@sealed.example').delivered, true, 'the others are still sent to');

    const encrypted = await runKeypost(['send', '--dns', site.dnsAddress, '--from', 'dave@senders.example', '--to', 'alice@sealed.example', '--encrypt', file], testDb.env);
    assert.equal(encrypted.code, 0, encrypted.stdout + encrypted.stderr);
    assert.match(encrypted.stdout, /^delivered\s+alice@sealed\.example .*encrypted/m);

    const unsigned = await runKeypost(['send', '--dns', site.dnsAddress, '--from', 'dave@senders.example', '--to', 'bob@signed.example', file], testDb.env);
    assert.equal(unsigned.code, 6, unsigned.stdout + unsigned.stderr);
    assert.match(unsigned.stdout, /^failed\s+bob@signed\.example\s+require: bob@signed\.example accepts only signed mail \(req=signed\): send again with --sign KEYFILE \(CLIENT_PROTECTION_REQUIRED\)/m);
  });

  test('keypost send --sign reaches a req=signed recipient, and with --encrypt signs its copy outside the encryption too', async () => {
    const key = await loadSigningKey(dave.privateKey, async () => undefined);
    const before = downstream.mails.length;
    for (const encrypt of [false, true]) {
      const report = await sendMessage({
        from: 'dave@senders.example',
        to: ['bob@signed.example'],
        message: Buffer.from(`Subject: signed ${encrypt ? 'and encrypted' : 'only'}\n\nfrom dave\n`),
        sign: { key },
        encrypt,
        dns: site.dns,
        defaultBits: 8,
        hostname: 'client.test',
        timeoutMs: 5000,
      });
      assert.equal(report.delivered, true, JSON.stringify(report));
    }
    await downstream.waitForCount(before + 2);
    const copy = downstream.mails.slice(before).map((m) => m.raw.toString('latin1')).find((raw) => /multipart\/encrypted/.test(raw))!;
    assert.match(copy, /Content-Type: multipart\/signed;/, 'the encrypted copy travels inside a multipart/signed');
  });

  test('a zone that stops requiring protection publishes so at once, address records included, and the gateway follows', async () => {
    const set = await kp('domain', 'set', 'sealed.example', '--require', 'none');
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^require\s+none$/m);
    const server = site.dns;
    await waitFor('the zone TXT without req=', async () => ((await dig(server, '+short', '_keypost.sealed.example', 'TXT')).includes('req=') ? undefined : true), 10_000, 50);
    // The postmaster's own "none" now equals the zone's, so its record no longer repeats it.
    assert.doesNotMatch(await dig(server, '+short', `${openpgpkeyLabel('postmaster')}._keypost.sealed.example`, 'TXT'), /req=/);
    assert.match(await sendRaw('alice@sealed.example', `Subject: plain again\nX-Hashcash: ${await hashcashStamp('alice@sealed.example', 8)}\n\nplain\n`), /^250 /);
  });
});

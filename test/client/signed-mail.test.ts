// Signed mail end to end: `send --sign` output that gpg verifies (multipart/signed) and decrypts
// with a good signature (signed and encrypted), with the header fields protected inside; and
// `keypost verify` on what gpg signs, forwarded or tampered, against keys published in keypost's DNS.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as openpgp from 'openpgp';
import { sendMessage } from '../../src/client/send.js';
import { loadSigningKey } from '../../src/client/pgp-sign.js';
import { verifyMessage } from '../../src/client/verify.js';
import { fieldValue, parseEntity } from '../../src/mime/entity.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { runKeypost } from '../support/keypost-process.js';
import { requireTool } from '../support/tools.js';
import { createGpgHome, type GpgHome } from '../directory/gpg-home.js';
import { startDownstream, type Downstream } from '../gateway/support.js';
import { addZone, lookupWhen, makeKey, publish, startSite, type RunningSite, type TestKey } from './support.js';

const skip = requireTool('gpg');

const crlf = (text: string) => text.replace(/\r?\n/g, '\r\n');

/** A multipart/signed message as a mail client writes it around a gpg detached signature. */
function pgpMimeMessage(headers: string, entity: string, signature: string): string {
  return crlf(
    `${headers}MIME-Version: 1.0\nContent-Type: multipart/signed; micalg=pgp-sha256;\n protocol="application/pgp-signature"; boundary="sig-boundary"\n\n` +
      `This is an OpenPGP/MIME signed message.\n--sig-boundary\n`,
  ) +
    entity +
    crlf(`\n--sig-boundary\nContent-Type: application/pgp-signature; name="signature.asc"\n\n${signature.trim()}\n--sig-boundary--\n`);
}

describe('signed mail', { skip, timeout: 180_000 }, () => {
  let testDb: TestDatabase;
  let site: RunningSite;
  let downstream: Downstream;
  let gpg: GpgHome;
  let dir: string;
  let dave: TestKey;
  let alice: TestKey;
  let nobody: TestKey;
  const dns = () => ({ dns: site.dns, timeoutMs: 3000 });

  before(async () => {
    testDb = await openTestDatabase();
    downstream = await startDownstream();
    site = await startSite(testDb);
    const zone = await addZone(testDb, 'sign.example', { powBits: 8, endpoint: `smtp://${site.gateway}`, nextHop: downstream.hop, apiUrl: site.apiBase });
    [dave, alice, nobody] = await Promise.all([makeKey('dave@sign.example'), makeKey('alice@sign.example'), makeKey('nobody@sign.example')]);
    await publish(site, zone, 'dave@sign.example', dave);
    await publish(site, zone, 'alice@sign.example', alice);
    await lookupWhen('dave@sign.example', site, (r) => r.verified);
    await lookupWhen('alice@sign.example', site, (r) => r.verified);
    gpg = createGpgHome();
    for (const key of [dave, alice, nobody]) await gpg.ok(['--import'], { input: key.privateKey });
    dir = mkdtempSync(path.join(tmpdir(), 'kp-signed-'));
  });

  after(async () => {
    await gpg?.close();
    await site?.close();
    await downstream?.close();
    await testDb?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Waits for the downstream server to receive a message that matches. */
  async function mailFor(match: (raw: string) => boolean) {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const mail = downstream.mails.find((m) => m.to.includes('alice@sign.example') && match(m.raw.toString('latin1')));
      if (mail) return mail;
      assert.ok(Date.now() < deadline, 'the gateway relayed the message');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function gpgSignedMessage(signer: TestKey, headers: string, text: string, extra: string[] = []): Promise<string> {
    const entity = crlf(`Content-Type: text/plain; charset=us-ascii\n\n${text}\n`);
    const { stdout } = await gpg.ok(['--armor', '--detach-sign', '--digest-algo', 'SHA256', '-u', signer.fingerprint, ...extra], { input: entity });
    return pgpMimeMessage(headers, entity, stdout);
  }

  test('send --sign produces multipart/signed that gpg verifies, with the header fields signed inside', async () => {
    const key = await loadSigningKey(dave.privateKey, async () => undefined);
    const report = await sendMessage({
      from: 'dave@sign.example',
      to: ['alice@sign.example'],
      message: Buffer.from('Subject: quarterly plans\n\nMeet at noon.   \nFrom the roof.\n'),
      sign: { key },
      dns: site.dns,
      defaultBits: 8,
      hostname: 'client.test',
      timeoutMs: 5000,
    });
    assert.equal(report.delivered, true, JSON.stringify(report));
    assert.equal(report.recipients[0].signed, true);
    const mail = await mailFor((raw) => /multipart\/signed/.test(raw));
    const root = parseEntity(mail.raw);
    assert.equal(root.contentType.mediaType, 'multipart/signed');
    const [signed, signature] = root.children;
    // RFC 9788: the signed part carries the protected fields and says so.
    assert.equal(signed.contentType.params.hp, 'clear');
    assert.equal(fieldValue(signed, 'subject'), 'quarterly plans');
    assert.equal(fieldValue(signed, 'from'), '<dave@sign.example>');
    // Trailing blanks and a line starting "From " are quoted-printable encoded (RFC 3156 §5).
    assert.equal(fieldValue(signed, 'content-transfer-encoding'), 'quoted-printable');

    writeFileSync(path.join(dir, 'part'), signed.raw);
    writeFileSync(path.join(dir, 'part.asc'), signature.body);
    const checked = await gpg.run(['--status-fd', '2', '--verify', path.join(dir, 'part.asc'), path.join(dir, 'part')]);
    assert.equal(checked.code, 0, checked.stderr);
    assert.match(checked.stderr, new RegExp(`\\[GNUPG:\\] VALIDSIG ${dave.fingerprint}`));

    // What arrived verifies with keypost verify too, through the key dave publishes.
    const verdict = await verifyMessage(mail.raw, dns());
    assert.deepEqual(verdict.signatures.map((s) => [s.status, s.signer, s.form]), [['good', 'dave@sign.example', 'pgp-mime']]);
  });

  test('send --sign --encrypt --hide-subject: gpg decrypts with a good signature and the real Subject inside', async () => {
    const key = await loadSigningKey(dave.privateKey, async () => undefined);
    const report = await sendMessage({
      from: 'dave@sign.example',
      to: ['alice@sign.example'],
      message: Buffer.from('Subject: the hidden agenda\n\nSee you there.\n'),
      encrypt: true,
      sign: { key, hideSubject: true },
      dns: site.dns,
      defaultBits: 8,
      hostname: 'client.test',
      timeoutMs: 5000,
    });
    assert.equal(report.delivered, true, JSON.stringify(report));
    const mail = await mailFor((raw) => /multipart\/encrypted/.test(raw));
    const root = parseEntity(mail.raw);
    assert.equal(fieldValue(root, 'subject'), '[...]');
    const armored = /-----BEGIN PGP MESSAGE-----[\s\S]+?-----END PGP MESSAGE-----/.exec(mail.raw.toString('latin1'))![0];
    const decrypted = await gpg.run(['--status-fd', '2', '--decrypt'], { input: armored });
    assert.equal(decrypted.code, 0, decrypted.stderr);
    assert.match(decrypted.stderr, new RegExp(`\\[GNUPG:\\] VALIDSIG ${dave.fingerprint}`));
    const inner = parseEntity(Buffer.from(decrypted.stdout, 'latin1'));
    assert.equal(inner.contentType.params.hp, 'cipher');
    assert.equal(fieldValue(inner, 'subject'), 'the hidden agenda');
    // RFC 9788 §2.2: the payload records what the outer header showed.
    assert.ok(inner.fields.some((f) => f.name === 'HP-Outer' && f.value === 'Subject: [...]'), JSON.stringify(inner.fields));
  });

  test('send --sign refuses a key that has no user ID for the sender', async () => {
    const key = await loadSigningKey(nobody.privateKey, async () => undefined);
    await assert.rejects(
      sendMessage({ from: 'dave@sign.example', to: ['alice@sign.example'], message: Buffer.from('hi\n'), sign: { key }, dns: site.dns, defaultBits: 8, hostname: 'client.test' }),
      (err: { code?: string }) => err.code === 'CLIENT_SIGNING_KEY_MISMATCH',
    );
  });

  test('keypost send --sign unlocks a protected key with KEYPOST_SIGN_PASSPHRASE and names a wrong one', async () => {
    const { privateKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ email: 'dave@sign.example' }], passphrase: 'correct horse', format: 'armored' });
    const keyFile = path.join(dir, 'locked.asc');
    writeFileSync(keyFile, privateKey);
    const messageFile = path.join(dir, 'note.txt');
    writeFileSync(messageFile, 'Subject: from the cli\n\nsigned on the command line\n');
    const args = ['send', '--dns', site.dnsAddress, '--from', 'dave@sign.example', '--to', 'alice@sign.example', '--sign', keyFile, messageFile];
    const wrong = await runKeypost(args, { KEYPOST_SIGN_PASSPHRASE: 'battery staple' });
    assert.equal(wrong.code, 2, wrong.stdout + wrong.stderr);
    assert.match(wrong.stderr, /the passphrase does not unlock the signing key/);
    const sent = await runKeypost(args, { KEYPOST_SIGN_PASSPHRASE: 'correct horse' });
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    assert.match(sent.stdout, /^delivered\s+alice@sign\.example .*\(8 bits, not encrypted, signed, DNSSEC insecure\)/m);
    await mailFor((raw) => raw.includes('Subject: from the cli') && /multipart\/signed/.test(raw));
  });

  test('keypost send asks each endpoint for success and failure reports, and passes --notify NEVER on', async () => {
    for (const [notify, expected] of [[undefined, ['SUCCESS', 'FAILURE']], ['NEVER', ['NEVER']]] as const) {
      const subject = `reports ${expected.join(' ')}`;
      const report = await sendMessage({
        from: 'dave@sign.example',
        to: ['alice@sign.example'],
        message: Buffer.from(`Subject: ${subject}\n\nhi\n`),
        notify,
        dns: site.dns,
        defaultBits: 8,
        hostname: 'client.test',
        timeoutMs: 5000,
      });
      assert.equal(report.delivered, true, JSON.stringify(report));
      assert.match(report.recipients[0].queueId ?? '', /^[0-9A-F]{16}$/);
      // The keypost gateway kept the request and handed it on to the next hop (RFC 3461 §6.2.1).
      const mail = await mailFor((raw) => raw.includes(`Subject: ${subject}`));
      assert.deepEqual(mail.rcptDsn[0]?.notify, [...expected]);
    }
  });

  test('keypost verify: a gpg PGP/MIME signature, saved with LF line ends, is good (exit 0)', async () => {
    const message = await gpgSignedMessage(dave, 'From: Dave <dave@sign.example>\nTo: alice@sign.example\nSubject: plans\n', 'Meet at noon.');
    const file = path.join(dir, 'signed.eml');
    writeFileSync(file, message.replace(/\r\n/g, '\n'));
    const cli = await runKeypost(['verify', '--dns', site.dnsAddress, file]);
    assert.equal(cli.code, 0, cli.stdout + cli.stderr);
    assert.match(cli.stdout, new RegExp(`^good: signed by dave@sign\\.example, key ${dave.fingerprint}, found via DNS \\(verified\\) at \\d{4}-`, 'm'));
  });

  test('keypost verify: an inline cleartext signature by gpg is good', async () => {
    const { stdout } = await gpg.ok(['--clearsign', '-u', dave.fingerprint], { input: 'Meet at noon.\n' });
    const message = crlf(`From: dave@sign.example\nSubject: inline\n\n${stdout}`);
    const verdict = await verifyMessage(Buffer.from(message), dns());
    assert.deepEqual(verdict.signatures.map((s) => [s.status, s.form]), [['good', 'inline-cleartext']]);
    assert.equal(verdict.ok, true);
  });

  test('keypost verify: the original signer of a message forwarded as message/rfc822 or inline', async () => {
    const original = await gpgSignedMessage(dave, 'From: Dave <dave@sign.example>\nSubject: plans\n', 'Meet at noon.');
    const attached =
      crlf('From: alice@sign.example\nTo: erin@elsewhere.example\nSubject: Fwd: plans\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="fwd"\n\n--fwd\nContent-Type: text/plain\n\nSee below.\n--fwd\nContent-Type: message/rfc822\n\n') +
      original +
      crlf('\n--fwd--\n');
    const forwarded = await verifyMessage(Buffer.from(attached), dns());
    assert.deepEqual(forwarded.signatures.map((s) => [s.status, s.signer, s.forwarded, s.part]), [['good', 'dave@sign.example', true, '2.1']]);

    const { stdout } = await gpg.ok(['--clearsign', '-u', dave.fingerprint], { input: 'Meet at noon.\n' });
    const inline = crlf(
      `From: alice@sign.example\nSubject: Fwd: plans\n\nFYI\n\n---------- Forwarded message ---------\nFrom: Dave <dave@sign.example>\nDate: Wed, 2 Dec 2026 08:00:00 +0000\nSubject: plans\n\n${stdout}`,
    );
    const quoted = await verifyMessage(Buffer.from(inline), dns());
    assert.deepEqual(quoted.signatures.map((s) => [s.status, s.signer, s.forwarded]), [['good', 'dave@sign.example', true]]);
  });

  test('keypost verify: a tampered body is a bad signature (exit 1)', async () => {
    const message = await gpgSignedMessage(dave, 'From: dave@sign.example\nSubject: plans\n', 'Meet at noon.');
    const file = path.join(dir, 'tampered.eml');
    writeFileSync(file, message.replace('Meet at noon.', 'Meet at nine.'));
    const cli = await runKeypost(['verify', '--json', '--dns', site.dnsAddress, file]);
    assert.equal(cli.code, 1, cli.stderr);
    const report = JSON.parse(cli.stdout) as { signatures: { status: string }[] };
    assert.deepEqual(report.signatures.map((s) => s.status), ['bad-signature']);
  });

  test('keypost verify: a signer with nothing published is unknown; a key other than the published one is a mismatch', async () => {
    const unknown = await verifyMessage(Buffer.from(await gpgSignedMessage(nobody, 'From: nobody@sign.example\n', 'hello')), dns());
    assert.deepEqual(unknown.signatures.map((s) => [s.status, s.signer]), [['unknown-signer', 'nobody@sign.example']]);
    assert.match(unknown.signatures[0].detail, /nothing is published for nobody@sign\.example/);

    const impostor = await verifyMessage(Buffer.from(await gpgSignedMessage(nobody, 'From: dave@sign.example\n', 'hello')), dns());
    assert.deepEqual(impostor.signatures.map((s) => s.status), ['key-mismatch']);
    assert.match(impostor.signatures[0].detail, new RegExp(`the key published for dave@sign\\.example is ${dave.fingerprint}`));
  });

  test("keypost verify: a good signature whose signer's user ID is not the From address is reported as such", async () => {
    // gpg --sender puts the Signer's User ID subpacket in the signature (RFC 4880 §5.2.3.22).
    const message = await gpgSignedMessage(dave, 'From: alice@sign.example\nSubject: not from dave\n', 'hello', ['--sender', 'dave@sign.example']);
    const verdict = await verifyMessage(Buffer.from(message), dns());
    assert.deepEqual(verdict.signatures.map((s) => [s.status, s.signer, s.from]), [['from-mismatch', 'dave@sign.example', 'alice@sign.example']]);
    assert.equal(verdict.ok, false);
  });

  test('keypost verify: a message without a signature exits 3', async () => {
    const file = path.join(dir, 'plain.eml');
    writeFileSync(file, 'From: dave@sign.example\nSubject: plain\n\nnothing signed here\n');
    const cli = await runKeypost(['verify', '--dns', site.dnsAddress, file]);
    assert.equal(cli.code, 3, cli.stderr);
    assert.match(cli.stdout, /no OpenPGP signature found/);
  });
});

// The whole path, end to end, with nothing stubbed: `keypost serve` (DNS, API and gateway on random
// ports) → a domain added with the CLI → one address published by the domain owner, another by its
// holder through the mailed, encrypted link → both found through DNS by `keypost lookup` and by
// `gpg --auto-key-locate dane` → `keypost send --encrypt` through the gateway to a downstream SMTP
// server → each recipient's gpg decrypts its copy → replaying a delivered copy is refused.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { createScratchPostgres, testBackend } from '../support/database.js';
import { runKeypost, startServe, type ServingKeypost } from '../support/keypost-process.js';
import { startMailSink, type MailSink } from '../support/mail-sink.js';
import { requireTool } from '../support/tools.js';
import { createGpgHome, type GpgHome } from '../directory/gpg-home.js';
import { startDownstream, type Downstream } from '../gateway/support.js';
import { colonFingerprints, createDaneGpg, mountNamespaceProblem, type DaneGpg } from './gpg-dane.js';

const skip = requireTool('gpg', 'gpgconf', 'unshare');
// Outside CI a machine without mount namespaces skips the gpg step with the reason; CI fails on it.
const daneProblem = skip ? undefined : mountNamespaceProblem();
const DOMAIN = 'example.org';
const PRICE = 10;

interface Holder {
  address: string;
  gpg: GpgHome;
  fingerprint: string;
  publicKey: string;
}

let dataDir: string;
let env: Record<string, string>;
let dropScratch: (() => Promise<void>) | undefined;
let downstream: Downstream;
let mailSink: MailSink;
let serving: ServingKeypost;
let dnsServer: { host: string; port: number };
let apiBase: string;
let ownerToken: string;
const holders: Holder[] = [];

/** A recipient with a real gpg home: ed25519 primary key and a cv25519 encryption subkey. */
async function makeHolder(address: string, name: string): Promise<Holder> {
  const gpg = createGpgHome();
  await gpg.ok(['--quick-gen-key', `${name} <${address}>`, 'future-default', 'default', 'never']);
  const { stdout } = await gpg.ok(['--with-colons', '--list-keys', address]);
  const [fingerprint] = colonFingerprints(stdout);
  const publicKey = (await gpg.ok(['--armor', '--export', address])).stdout;
  const holder = { address, gpg, fingerprint, publicKey };
  holders.push(holder);
  return holder;
}

function hostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
}

async function postJson(url: string, body: unknown, headers: Record<string, string> = {}, method = 'POST') {
  const response = await fetch(url, { method, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as any };
}

/** One SMTP transaction with the raw message as given; resolves with the server's final reply. */
function smtpSubmit(address: string, from: string, to: string, raw: Buffer): Promise<{ ok: boolean; code?: number; response: string }> {
  const { host, port } = hostPort(address);
  const connection = new SMTPConnection({ host, port, name: 'replay.test', logger: false });
  return new Promise((resolve) => {
    connection.on('error', (err: any) => resolve({ ok: false, code: err.responseCode, response: err.response ?? err.message }));
    connection.connect(() =>
      connection.send({ from, to: [to] }, raw, (err, info) => {
        connection.quit();
        if (err) resolve({ ok: false, code: (err as any).responseCode, response: (err as any).response ?? err.message });
        else resolve({ ok: true, response: info.response });
      }),
    );
  });
}

before(async () => {
  if (skip) return;
  // Short: the embedded database's Unix socket lives in the data directory.
  dataDir = mkdtempSync(path.join(tmpdir(), 'kpe-'));
  env = { KEYPOST_DATA_DIR: dataDir };
  if (testBackend === 'postgres') {
    const scratch = await createScratchPostgres(process.env.DATABASE_URL!);
    env.DATABASE_URL = scratch.url;
    dropScratch = scratch.drop;
  }
  downstream = await startDownstream();
  mailSink = await startMailSink();
  serving = await startServe([], {
    ...env,
    KEYPOST_MAIL_SUBMISSION_URL: mailSink.url,
    KEYPOST_RELAY_POLL_INTERVAL: '200ms',
  });
  dnsServer = hostPort(serving.addresses.dns);
  apiBase = `http://${serving.addresses.api}`;
}, { timeout: 90_000 });

after(async () => {
  await serving?.stop();
  await downstream?.close();
  await mailSink?.close();
  for (const holder of holders) await holder.gpg.close();
  await dropScratch?.();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe(`whole path on ${testBackend}`, { skip, timeout: 180_000 }, () => {
  let bob: Holder;
  let carol: Holder;

  test('keypost domain add: the gateway is the endpoint, the downstream listener the next hop', async () => {
    const added = await runKeypost(
      [
        'domain', 'add', DOMAIN,
        '--endpoint', `smtp://${serving.addresses.gateway}`,
        '--next-hop', downstream.hop,
        '--api', apiBase,
        '--pow', String(PRICE),
        '--json',
      ],
      env,
    );
    assert.equal(added.code, 0, added.stderr);
    const body = JSON.parse(added.stdout);
    assert.equal(body.domain.endpoint, `smtp://${serving.addresses.gateway}`);
    ownerToken = body.owner_token;
    assert.match(ownerToken, /^[A-Za-z0-9_-]{43}$/);
  });

  test('the domain owner publishes bob@ with the owner API', async () => {
    bob = await makeHolder(`bob@${DOMAIN}`, 'Bob');
    const put = await postJson(`${apiBase}/v1/domains/${DOMAIN}/addresses/${bob.address}`, { keytext: bob.publicKey }, { authorization: `Bearer ${ownerToken}` }, 'PUT');
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.status, 'published');
    assert.equal(put.body.fingerprint, bob.fingerprint);
  });

  test('carol@ publishes herself: upload, the mailed link decrypted by her gpg, confirmed by POST', async () => {
    carol = await makeHolder(`carol@${DOMAIN}`, 'Carol');
    const upload = await postJson(`${apiBase}/vks/v1/upload`, { keytext: carol.publicKey });
    assert.equal(upload.status, 200, JSON.stringify(upload.body));
    assert.equal(upload.body.status[carol.address], 'unpublished');
    const verify = await postJson(`${apiBase}/vks/v1/request-verify`, { token: upload.body.token, addresses: [carol.address] });
    assert.equal(verify.status, 200, JSON.stringify(verify.body));

    const mail = await mailSink.waitFor((m) => m.to.includes(carol.address), 20_000);
    assert.match(mail.raw, /multipart\/encrypted/);
    const clear = await carol.gpg.ok(['--decrypt'], { input: mail.raw });
    const link = /(https?:\/\/\S+\/v\/([A-Za-z0-9_-]{43}))/.exec(clear.stdout);
    assert.ok(link, `a verification link in:\n${clear.stdout}`);
    assert.ok(link[1].startsWith(apiBase), `${link[1]} points at the running API`);
    const confirmed = await postJson(`${apiBase}/v/${link[2]}`, {});
    assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
    assert.deepEqual(confirmed.body, { status: 'published', address: carol.address, fingerprint: carol.fingerprint });
  });

  test('keypost lookup finds both through DNS and verifies every check', async () => {
    for (const holder of [bob, carol]) {
      // The DNS snapshot follows the change feed; give it a moment after publication.
      let result = await runKeypost(['lookup', holder.address, '--dns', serving.addresses.dns, '--json'], env);
      for (let i = 0; i < 20 && result.code !== 0; i++) {
        await new Promise((r) => setTimeout(r, 250));
        result = await runKeypost(['lookup', holder.address, '--dns', serving.addresses.dns, '--json'], env);
      }
      assert.equal(result.code, 0, result.stdout + result.stderr);
      const found = JSON.parse(result.stdout);
      assert.equal(found.verified, true);
      assert.equal(found.fingerprint, holder.fingerprint);
      assert.equal(found.endpoint, `smtp://${serving.addresses.gateway}`);
      assert.equal(found.price, PRICE);
      assert.equal(found.api, apiBase);
      assert.deepEqual(
        found.checks.map((c: { name: string; status: string }) => [c.name, c.status]),
        [['fingerprint', 'pass'], ['pka', 'pass'], ['user-id', 'pass'], ['key-valid', 'pass'], ['directory', 'pass'], ['transparency', 'pass']],
      );
      assert.equal(found.transparency.status, 'ok', found.transparency.detail);
      assert.match(found.key, /^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    }
    const text = await runKeypost(['lookup', bob.address, '--dns', serving.addresses.dns], env);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^bob@example.org: verified\\nfingerprint +${bob.fingerprint}$`, 'm'));
    assert.match(text.stdout, new RegExp(`^price +${PRICE} bits$`, 'm'));

    const nobody = await runKeypost(['lookup', `nobody@${DOMAIN}`, '--dns', serving.addresses.dns], env);
    assert.equal(nobody.code, 3);
    assert.match(nobody.stderr, /example\.org is a keypost domain, but nothing is published for nobody@example\.org/);
  });

  test('gpg --auto-key-locate dane finds both keys in keypost DNS', { skip: process.env.CI === 'true' ? false : (daneProblem ?? false) }, async () => {
    if (daneProblem) assert.fail(daneProblem);
    const dane: DaneGpg = createDaneGpg(dnsServer);
    try {
      for (const holder of [bob, carol]) {
        const located = await dane.locate(holder.address);
        assert.equal(located.code, 0, located.stderr);
        assert.deepEqual(colonFingerprints(located.stdout), [holder.fingerprint]);
        assert.match(located.stderr, new RegExp(`key [0-9A-F]{16}: public key "[^"]+ <${holder.address}>" imported`));
      }
    } finally {
      await dane.close();
    }
  });

  test('keypost send --encrypt delivers a stamped copy per recipient through the gateway; each gpg decrypts its own', async () => {
    const messageFile = path.join(dataDir, 'hello.eml');
    writeFileSync(messageFile, 'Subject: the whole path\n\nHello from the sender side.\nNon-ASCII survives: grüße\n');
    const before = downstream.mails.length;
    const sent = await runKeypost(
      ['send', '--from', 'dave@sender.example', '--to', bob.address, '--to', carol.address, '--dns', serving.addresses.dns, '--encrypt', '--json', messageFile],
      env,
    );
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    const report = JSON.parse(sent.stdout);
    assert.equal(report.delivered, true);
    for (const outcome of report.recipients) {
      assert.equal(outcome.delivered, true);
      assert.equal(outcome.encrypted, true);
      assert.equal(outcome.price, PRICE);
      assert.match(outcome.stamp, new RegExp(`^1:${PRICE}:\\d{6}:${outcome.address}::`));
      assert.match(outcome.detail, /^250 /);
    }

    await downstream.waitForCount(before + 2, 30_000);
    for (const holder of [bob, carol]) {
      const copy = downstream.mails.slice(before).find((m) => m.to.includes(holder.address));
      assert.ok(copy, `the downstream received ${holder.address}'s copy`);
      assert.equal(copy.from, 'dave@sender.example');
      const raw = copy.raw.toString('utf8');
      // Only this recipient's stamp travels with its copy, and the gateway recorded its verdict.
      assert.deepEqual([...raw.matchAll(/^X-Hashcash: 1:\d+:\d+:([^:]+):/gm)].map((m) => m[1]), [holder.address]);
      assert.match(raw, /^X-Keypost-Stamp: .*hashcash=pass bits=10/m);
      assert.match(raw, /^Content-Type: multipart\/encrypted; protocol="application\/pgp-encrypted";/m);
      assert.doesNotMatch(raw, /Hello from the sender side/);
      const clear = await holder.gpg.ok(['--decrypt'], { input: copy.raw });
      assert.match(clear.stdout, /Hello from the sender side\.\r?\nNon-ASCII survives: grüße/);
      assert.match(clear.stdout, /^Content-Type: text\/plain; charset=utf-8/m);
      assert.match(clear.stderr, new RegExp(`<${holder.address}>`));
      assert.equal([...clear.stderr.matchAll(/encrypted with/g)].length, 2, 'one ciphertext, encrypted to both verified keys');
    }
  });

  test('replaying a delivered copy to the gateway is refused: its stamp is spent', async () => {
    const copy = downstream.mails.find((m) => m.to.includes(bob.address))!;
    const count = downstream.mails.length;
    const replay = await smtpSubmit(serving.addresses.gateway, 'mallory@sender.example', bob.address, copy.raw);
    assert.equal(replay.ok, false);
    assert.equal(replay.code, 550);
    assert.match(replay.response, /X-Hashcash: 10 bits required for bob@example\.org \(stamp was already spent\)/);
    // Once the gateway's queue is empty, anything it had stored would have been delivered.
    for (let i = 0; i < 100 && !/queue is empty/.test((await runKeypost(['queue', 'list'], env)).stdout); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match((await runKeypost(['queue', 'list'], env)).stdout, /queue is empty/);
    assert.equal(downstream.mails.length, count, 'nothing more reached the downstream');
  });
});

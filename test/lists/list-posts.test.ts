// Encrypted mailing lists end to end: a list on a served zone with three members whose keys are
// published through keypost (one on a second zone, one behind a .onion next hop reached through
// the SOCKS5 test proxy). Posts go in through the gateway with `keypost send`'s library (stamp,
// encryption to the list's published key, signature); members' copies come out through the queue
// and are decrypted with gpg. Refused posts bounce to their sender; a member whose key stops
// verifying is paused and the owner is told.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadSigningKey } from '../../src/client/pgp-sign.js';
import { sendMessage } from '../../src/client/send.js';
import { addMember, createList } from '../../src/lists/list-admin.js';
import { dnsMemberKeys } from '../../src/lists/member-keys.js';
import { openSecretBox } from '../../src/secrets/sealed-box.js';
import { pgpMimeBody } from '../../src/mime/pgp-encrypted.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { freePort } from '../support/ports.js';
import { startSocksProxy, type SocksProxy } from '../support/socks5-proxy.js';
import { requireTool } from '../support/tools.js';
import { createGpgHome, type GpgHome } from '../directory/gpg-home.js';
import { queueDrained, startDownstream, type Downstream, type ReceivedMail } from '../gateway/support.js';
import { addZone, lookupWhen, makeKey, publish, serveOtherKey, startSite, type RunningSite, type TestKey } from '../client/support.js';

const skip = requireTool('gpg');
const LIST = 'team@lists.example';
const ONION_HOP = 'smtp://listmemberhiddenservice.onion:25';

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const armoredIn = (mail: ReceivedMail) => /-----BEGIN PGP MESSAGE-----[\s\S]+?-----END PGP MESSAGE-----/.exec(mail.raw.toString('latin1'))?.[0];

describe('encrypted mailing lists', { skip, timeout: 300_000 }, () => {
  let testDb: TestDatabase;
  let site: RunningSite;
  let home: Downstream;
  let second: Downstream;
  let hidden: Downstream;
  let socks: SocksProxy;
  const keys: Record<string, TestKey> = {};
  const gpg: Record<string, GpgHome> = {};
  let listFingerprint: string;

  before(async () => {
    testDb = await openTestDatabase();
    [home, second, hidden] = await Promise.all([startDownstream(), startDownstream(), startDownstream()]);
    socks = await startSocksProxy(hidden.port);
    const dnsPort = await freePort();
    site = await startSite(testDb, {
      KEYPOST_DNS_LISTEN: `127.0.0.1:${dnsPort}`,
      KEYPOST_DNS_RESOLVER: `127.0.0.1:${dnsPort}`,
      KEYPOST_SOCKS_PROXY: `127.0.0.1:${socks.port}`,
      KEYPOST_LIST_KEY_RECHECK_INTERVAL: '1s',
    });
    const policy = (nextHop: string) => ({ powBits: 8, endpoint: `smtp://${site.gateway}`, nextHop, apiUrl: site.apiBase });
    const zones = {
      'lists.example': await addZone(testDb, 'lists.example', policy(home.hop)),
      'second.example': await addZone(testDb, 'second.example', policy(second.hop)),
      'hidden.example': await addZone(testDb, 'hidden.example', policy(ONION_HOP)),
    };
    for (const address of ['alice@lists.example', 'owner@lists.example', 'dave@lists.example', 'bob@second.example', 'carol@hidden.example']) {
      keys[address] = await makeKey(address);
      await publish(site, zones[address.split('@')[1] as keyof typeof zones], address, keys[address]);
    }
    for (const address of Object.keys(keys)) await lookupWhen(address, site, (r) => r.verified);

    const list = await createList(testDb.db, { box: openSecretBox(site.keypost.services.config.secrets), now: new Date() }, { address: LIST, owner: 'owner@lists.example' });
    listFingerprint = list.fingerprint;
    const findKey = dnsMemberKeys({ dns: site.dns, timeoutMs: 3000 });
    for (const member of ['alice@lists.example', 'bob@second.example', 'carol@hidden.example']) {
      await addMember(testDb.db, { findKey, now: new Date() }, LIST, member);
    }
    // Members take the list's key from DNS, where keypost publishes it like any address's.
    const listKey = await lookupWhen(LIST, site, (r) => r.verified);
    for (const member of ['alice@lists.example', 'bob@second.example', 'carol@hidden.example']) {
      gpg[member] = createGpgHome();
      await gpg[member].ok(['--import'], { input: keys[member].privateKey });
      await gpg[member].ok(['--import'], { input: listKey.key! });
    }
  });

  after(async () => {
    for (const home of Object.values(gpg)) await home.close();
    await site?.close();
    for (const d of [home, second, hidden]) await d?.close();
    await socks?.close();
    await testDb?.close();
  });

  async function post(from: string, text: string, options: { encrypt: boolean }) {
    const key = await loadSigningKey(keys[from].privateKey, async () => undefined);
    const report = await sendMessage({
      from,
      to: [LIST],
      message: Buffer.from(`Subject: ${text}\n\n${text}\n`),
      encrypt: options.encrypt,
      sign: { key },
      dns: site.dns,
      defaultBits: 8,
      hostname: 'client.test',
      timeoutMs: 5000,
    });
    assert.equal(report.delivered, true, JSON.stringify(report));
  }

  test("the list's key is published like any address's and verifies with keypost lookup", async () => {
    const found = await lookupWhen(LIST, site, (r) => r.verified);
    assert.equal(found.verified, true, JSON.stringify(found.checks));
    assert.equal(found.fingerprint, listFingerprint);
    assert.equal(found.price, 8);
  });

  test('a signed, encrypted post from a member reaches the other two, each decrypts it with gpg, and the signer is reported', async () => {
    await post('alice@lists.example', 'first post to the team', { encrypt: true });
    const copies = {
      'bob@second.example': await until('bob\'s copy', () => second.mails.find((m) => m.to.includes('bob@second.example'))),
      'carol@hidden.example': await until('carol\'s copy through the .onion hop', () => hidden.mails.find((m) => m.to.includes('carol@hidden.example'))),
    };
    assert.ok(socks.targets.includes('listmemberhiddenservice.onion:25'), JSON.stringify(socks.targets));
    for (const [member, mail] of Object.entries(copies)) {
      const raw = mail.raw.toString('latin1');
      assert.match(raw, /Content-Type: multipart\/encrypted;/);
      assert.match(raw, new RegExp(`^From: .*<${LIST}>\\r$`, 'm'));
      assert.match(raw, /^List-Id: <team\.lists\.example>\r$/m);
      const armored = armoredIn(mail);
      assert.ok(armored, raw);
      const decrypted = await gpg[member].run(['--status-fd', '2', '--decrypt'], { input: armored });
      assert.equal(decrypted.code, 0, decrypted.stderr);
      // Signed by the list's key, as published in DNS.
      assert.match(decrypted.stderr, new RegExp(`\\[GNUPG:\\] VALIDSIG ${listFingerprint}`));
      assert.match(decrypted.stdout, /first post to the team/);
      assert.match(decrypted.stdout, new RegExp(`^Sig: Good signature from alice@lists\\.example \\(key ${keys['alice@lists.example'].fingerprint}\\)`, 'm'));
      // The report part is US-ASCII: the reason the list gives must read whole, not with a '?'
      // where a character outside ASCII was.
      assert.match(decrypted.stdout, /^Sig: .*: signed and encrypted by the sender's key \(RFC 3156 section 6\.2\)\r?$/m);
      assert.match(decrypted.stdout, /^Enc: Encrypted to the list key/m);
      assert.match(decrypted.stdout, /^From: .*alice@lists\.example/m);
    }
    // The poster gets no copy of her own post; the queue is empty once every copy is out.
    await queueDrained(testDb);
    assert.equal(home.mails.filter((m) => m.to.includes('alice@lists.example')).length, 0);
    assert.equal(second.mails.length, 1);
    assert.equal(hidden.mails.length, 1);
  });

  const crlf = (text: string) => text.replace(/\r?\n/g, '\r\n');

  /** bob's post made by gpg in one of RFC 3156's two signed-and-encrypted forms, sent with a stamp. */
  async function gpgPost(form: 'combined' | 'nested', text: string, options: { signer?: string; fromField?: string } = {}): Promise<void> {
    const bob = gpg['bob@second.example'];
    const signer = keys[options.signer ?? 'bob@second.example'].fingerprint;
    const entity = crlf(`Content-Type: text/plain; charset=us-ascii\n\n${text}\n`);
    let armored: string;
    if (form === 'combined') {
      // §6.2: one OpenPGP message, signed and encrypted.
      armored = (await bob.ok(['--armor', '--trust-model', 'always', '--sign', '--encrypt', '-u', signer, '-r', listFingerprint], { input: entity })).stdout;
    } else {
      // §6.1: a multipart/signed, encrypted as a whole.
      const signature = (await bob.ok(['--armor', '--detach-sign', '--digest-algo', 'SHA256', '-u', signer], { input: entity })).stdout;
      const signed =
        crlf('Content-Type: multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature";\n boundary="sig"\n\n--sig\n') +
        entity +
        crlf(`\n--sig\nContent-Type: application/pgp-signature\n\n${signature.trim()}\n--sig--\n`);
      armored = (await bob.ok(['--armor', '--trust-model', 'always', '--encrypt', '-r', listFingerprint], { input: signed })).stdout;
    }
    const { contentType, body } = pgpMimeBody(armored);
    const message = `From: ${options.fromField ?? 'Bob <bob@second.example>'}\r\nSubject: ${form}\r\nMIME-Version: 1.0\r\nContent-Type: ${contentType}\r\n\r\n${body}`;
    const report = await sendMessage({ from: 'bob@second.example', to: [LIST], message: Buffer.from(message), dns: site.dns, defaultBits: 8, hostname: 'client.test', timeoutMs: 5000 });
    assert.equal(report.delivered, true, JSON.stringify(report));
  }

  for (const form of ['combined', 'nested'] as const) {
    test(`a post gpg signed and encrypted (${form === 'combined' ? 'RFC 3156 §6.2' : 'RFC 3156 §6.1'}) reaches alice with bob's good signature reported`, async () => {
      const text = `gpg post, ${form} form`;
      await gpgPost(form, text);
      const copy = await until("alice's copy", () => home.mails.find((m) => m.to.includes('alice@lists.example') && m.raw.includes('multipart/encrypted') && m.raw.toString('latin1').includes(`Subject: ${form}`)));
      const decrypted = await gpg['alice@lists.example'].run(['--status-fd', '2', '--decrypt'], { input: armoredIn(copy) });
      assert.equal(decrypted.code, 0, decrypted.stderr);
      assert.match(decrypted.stderr, new RegExp(`\\[GNUPG:\\] VALIDSIG ${listFingerprint}`));
      assert.match(decrypted.stdout, new RegExp(text));
      assert.match(decrypted.stdout, new RegExp(`^Sig: Good signature from bob@second\\.example \\(key ${keys['bob@second.example'].fingerprint}\\)`, 'm'));
    });
  }

  test("a post whose From is a member but whose signature is another key's is refused", async () => {
    // dave's secret key in bob's keyring, signing a post that claims to be from alice.
    await gpg['bob@second.example'].ok(['--import'], { input: keys['dave@lists.example'].privateKey });
    const before = second.mails.length;
    await gpgPost('combined', 'not really alice', { signer: 'dave@lists.example', fromField: 'Alice <alice@lists.example>' });
    const bounce = await until('the bounce to the envelope sender', () => second.mails.slice(before).find((m) => m.to.includes('bob@second.example') && m.from === ''));
    assert.match(bounce.raw.toString('latin1'), /LIST_SIGNATURE_INVALID: only posts signed with the member's key are distributed; signed by a key other than the sender's/);
  });

  test('a post from a non-member is refused with a bounce that says why', async () => {
    await post('dave@lists.example', 'may I join in', { encrypt: true });
    const bounce = await until('the bounce to dave', () => home.mails.find((m) => m.to.includes('dave@lists.example')));
    const raw = bounce.raw.toString('latin1');
    assert.equal(bounce.from, '');
    assert.match(raw, /Content-Type: multipart\/report; report-type=delivery-status/);
    assert.match(raw, /LIST_SENDER_NOT_MEMBER: dave@lists\.example is not a member of team@lists\.example/);
    assert.match(raw, /^Status: 5\.7\.1/m);
  });

  test('a post in the clear to an encrypted-only list is refused', async () => {
    const before = home.mails.length;
    await post('alice@lists.example', 'plain words', { encrypt: false });
    const bounce = await until('the bounce to alice', () => home.mails.slice(before).find((m) => m.to.includes('alice@lists.example')));
    assert.match(bounce.raw.toString('latin1'), /LIST_POST_NOT_ENCRYPTED: team@lists\.example takes only posts encrypted to its key/);
  });

  test('a member whose key fails verification is paused and the owner is told', async () => {
    const other = await makeKey('someone@elsewhere.example');
    await serveOtherKey(testDb, 'carol@hidden.example', other.publicKey);
    const paused = await until('carol paused', async () => {
      const row = await testDb.db.selectFrom('list_members').selectAll().where('member', '=', 'carol@hidden.example').executeTakeFirst();
      return row?.status === 'paused' ? row : undefined;
    });
    assert.match(paused.paused_reason ?? '', /fingerprint/);
    const notice = await until('the notice to the owner', () => home.mails.find((m) => m.to.includes('owner@lists.example')));
    assert.match(notice.raw.toString('latin1'), /Subject: team@lists\.example: member carol@hidden\.example paused/);
    // A paused member gets no copies; the others still do.
    const before = second.mails.length;
    const hiddenBefore = hidden.mails.length;
    await post('alice@lists.example', 'while carol is paused', { encrypt: true });
    await until('bob\'s second copy', () => second.mails.length > before || undefined);
    await queueDrained(testDb);
    assert.equal(hidden.mails.length, hiddenBefore);
  });
});

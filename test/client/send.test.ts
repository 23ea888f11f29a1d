// keypost send against a real keypost (DNS, API and gateway on port 0) whose zone delivers to a
// downstream SMTP server: stamps minted at each recipient's price, PGP/MIME to verified keys only,
// headers completed, and one outcome per recipient for every way a recipient can fail.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as openpgp from 'openpgp';
import { sendMessage, type SendOptions } from '../../src/client/send.js';
import { parseMessage } from '../../src/client/message.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { runKeypost } from '../support/keypost-process.js';
import { startDownstream, type Downstream } from '../gateway/support.js';
import { addZone, lookupWhen, makeKey, publish, revokedCopy, serveOtherKey, startSite, type RunningSite, type TestKey, type Zone } from './support.js';

const PRICE = 8;
let testDb: TestDatabase;
let site: RunningSite;
let zone: Zone;
let downstream: Downstream;
let refusing: Downstream;
let alice: TestKey;

function options(overrides: Partial<SendOptions>): SendOptions {
  return {
    from: 'dave@sender.example',
    to: [],
    message: Buffer.from('Subject: test\n\nhello\n'),
    dns: site.dns,
    defaultBits: 20,
    hostname: 'client.test',
    timeoutMs: 5000,
    ...overrides,
  };
}

async function decrypt(raw: Buffer, key: TestKey): Promise<string> {
  const armored = /-----BEGIN PGP MESSAGE-----[\s\S]+?-----END PGP MESSAGE-----/.exec(raw.toString('utf8'))![0];
  const message = await openpgp.readMessage({ armoredMessage: armored });
  const { data } = await openpgp.decrypt({
    message,
    decryptionKeys: await openpgp.readPrivateKey({ armoredKey: key.privateKey }),
    format: 'binary',
  });
  return Buffer.from(data as Uint8Array).toString('utf8');
}

const copiesFor = (address: string) => downstream.mails.filter((m) => m.to.includes(address));

before(async () => {
  testDb = await openTestDatabase();
  downstream = await startDownstream();
  refusing = await startDownstream();
  refusing.mode = 'refuse';
  site = await startSite(testDb);
  zone = await addZone(testDb, 'send.example', { powBits: PRICE, endpoint: `smtp://${site.gateway}`, nextHop: downstream.hop, apiUrl: site.apiBase });
  alice = await makeKey('alice@send.example');
  await publish(site, zone, 'alice@send.example', alice);
  await lookupWhen('alice@send.example', site, (r) => r.verified);
}, { timeout: 90_000 });

after(async () => {
  await site?.close();
  await downstream?.close();
  await refusing?.close();
  await testDb?.close();
});

describe('delivery', { timeout: 120_000 }, () => {
  test('a plain message gets its stamp and the headers RFC 5322 requires; Bcc is dropped', async () => {
    const message = Buffer.from('Subject: plain\nBcc: hidden@else.example\n\nJust text.\n');
    const report = await sendMessage(options({ to: ['Alice@Send.Example'], message }));
    assert.equal(report.delivered, true, JSON.stringify(report));
    const [outcome] = report.recipients;
    assert.equal(outcome.address, 'alice@send.example');
    assert.equal(outcome.price, PRICE);
    assert.equal(outcome.encrypted, false);
    assert.match(outcome.stamp!, new RegExp(`^1:${PRICE}:\\d{6}:alice@send\\.example::[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$`));
    assert.match(outcome.detail, /^250 .*queued as/);

    await downstream.waitForCount(1);
    const copy = parseMessage(copiesFor('alice@send.example')[0].raw);
    const header = (name: string) => copy.fields.filter((f) => f.name.toLowerCase() === name).map((f) => f.value.trim());
    assert.deepEqual(header('x-hashcash'), [outcome.stamp]);
    assert.deepEqual(header('from'), ['<dave@sender.example>']);
    assert.deepEqual(header('to'), ['<alice@send.example>']);
    assert.equal(header('date').length, 1);
    assert.match(header('message-id')[0], /^<[0-9a-f]{24}@sender\.example>$/);
    assert.deepEqual(header('bcc'), []);
    assert.equal(copy.body.toString(), 'Just text.\r\n');
  });

  test("an address's own price is what gets minted, and the gateway takes it", async () => {
    const key = await makeKey('pricey@send.example');
    await publish(site, zone, 'pricey@send.example', key, { pow: 11 });
    await lookupWhen('pricey@send.example', site, (r) => r.price === 11);
    const report = await sendMessage(options({ to: ['pricey@send.example'] }));
    assert.equal(report.delivered, true, JSON.stringify(report));
    assert.match(report.recipients[0].stamp!, /^1:11:/);
  });
});

describe('--encrypt', { timeout: 120_000 }, () => {
  test('encrypts to verified keys as PGP/MIME and refuses a recipient whose key failed verification', async () => {
    const bob = await makeKey('bob@send.example');
    await publish(site, zone, 'bob@send.example', bob);
    await lookupWhen('bob@send.example', site, (r) => r.verified);
    await serveOtherKey(testDb, 'bob@send.example', await revokedCopy(bob));
    await lookupWhen('bob@send.example', site, (r) => !r.verified);

    const total = downstream.mails.length;
    const bobBefore = copiesFor('bob@send.example').length;
    const message = Buffer.from('Subject: secret\nContent-Type: text/plain; charset=utf-8\n\nGrüße, Alice.\n');
    const report = await sendMessage(options({ to: ['alice@send.example', 'bob@send.example'], message, encrypt: true }));
    assert.equal(report.delivered, false);
    const [toAlice, toBob] = report.recipients;
    assert.equal(toAlice.delivered, true, JSON.stringify(toAlice));
    assert.equal(toAlice.encrypted, true);
    assert.equal(toBob.delivered, false);
    assert.equal(toBob.stage, 'verify');
    assert.equal(toBob.code, 'CLIENT_KEY_UNVERIFIED');
    assert.match(toBob.detail, /refusing to encrypt to a key that failed verification \(key-valid: the key is revoked\)/);
    assert.equal(toBob.stamp, null, 'no work is spent on a recipient that is not sent to');

    await downstream.waitForCount(total + 1);
    const raw = copiesFor('alice@send.example').at(-1)!.raw;
    const copy = parseMessage(raw);
    const contentType = copy.fields.find((f) => f.name === 'Content-Type')!.value;
    assert.match(contentType, /^ multipart\/encrypted; protocol="application\/pgp-encrypted";\r\n boundary="kp\.[0-9a-f]{24}"$/);
    const boundary = /boundary="([^"]+)"/.exec(contentType)![1];
    const parts = copy.body.toString('utf8').split(`--${boundary}`);
    assert.equal(parts.length, 4, 'preamble, version part, encrypted part, closing');
    assert.match(parts[1], /^\r\nContent-Type: application\/pgp-encrypted\r\n[\s\S]*\r\n\r\nVersion: 1\r\n/);
    assert.match(parts[2], /^\r\nContent-Type: application\/octet-stream[\s\S]*-----BEGIN PGP MESSAGE-----/);
    assert.equal(parts[3], '--\r\n');
    assert.ok(!raw.includes('Grüße'), 'the text does not travel in the clear');
    assert.equal(copy.fields.find((f) => f.name === 'Subject')!.value.trim(), 'secret');

    const inner = await decrypt(raw, alice);
    assert.equal(inner, 'Content-Type: text/plain; charset=utf-8\r\n\r\nGrüße, Alice.\r\n');
    assert.equal(copiesFor('bob@send.example').length, bobBefore, 'nothing reached bob');

    // Without --encrypt the key is not used, so the same recipient is delivered to.
    const plain = await sendMessage(options({ to: ['bob@send.example'] }));
    assert.equal(plain.delivered, true, JSON.stringify(plain));
    assert.equal(plain.recipients[0].verified, false);
  });

  test('a verified key without an encryption subkey fails at the encrypt stage', async () => {
    const signer = await makeKey('signer@send.example', { signOnly: true });
    await publish(site, zone, 'signer@send.example', signer);
    await lookupWhen('signer@send.example', site, (r) => r.verified);
    const report = await sendMessage(options({ to: ['signer@send.example'], encrypt: true }));
    assert.equal(report.recipients[0].stage, 'encrypt');
    assert.equal(report.recipients[0].code, 'CLIENT_KEY_CANNOT_ENCRYPT');
  });
});

describe('failing recipients', { timeout: 120_000 }, () => {
  test('unpublished, unreachable and refusing endpoints each fail on their own; the others are delivered', async () => {
    const down = await makeKey('down@send.example');
    await publish(site, zone, 'down@send.example', down, { endpoint: 'smtp://127.0.0.1:1' });
    const refused = await makeKey('refused@send.example');
    await publish(site, zone, 'refused@send.example', refused, { endpoint: refusing.hop });
    await lookupWhen('refused@send.example', site, (r) => r.endpoint === refusing.hop);

    const to = ['nobody@send.example', 'down@send.example', 'refused@send.example', 'alice@send.example'];
    const report = await sendMessage(options({ to }));
    const byAddress = Object.fromEntries(report.recipients.map((r) => [r.address, r]));
    assert.deepEqual(report.recipients.map((r) => r.address), to, 'outcomes in the order given');
    assert.equal(byAddress['nobody@send.example'].code, 'CLIENT_NOT_PUBLISHED');
    assert.equal(byAddress['nobody@send.example'].stage, 'lookup');
    assert.equal(byAddress['down@send.example'].code, 'CLIENT_SMTP_FAILED');
    assert.match(byAddress['down@send.example'].detail, /ECONNREFUSED/);
    assert.equal(byAddress['refused@send.example'].code, 'CLIENT_SMTP_REFUSED');
    assert.match(byAddress['refused@send.example'].detail, /^550 .*mailbox does not exist/);
    assert.equal(byAddress['alice@send.example'].delivered, true);
    assert.equal(report.delivered, false);
  });
});

describe('keypost send (CLI)', { timeout: 120_000 }, () => {
  test('prints one line per recipient and exits 1 when any failed, 0 when all were delivered', async () => {
    const mixed = await runKeypost(
      ['send', '--from', 'dave@sender.example', '--to', 'alice@send.example', '--to', 'nobody@send.example', '--dns', site.dnsAddress, '-'],
      {},
      'Subject: from the CLI\n\nhello\n',
    );
    assert.equal(mixed.code, 1, mixed.stderr);
    assert.match(mixed.stdout, new RegExp(`^delivered  alice@send\\.example   smtp://${site.gateway.replace(/\./g, '\\.')}  \\(${PRICE} bits, not encrypted, DNSSEC insecure\\)  250 `, 'm'));
    assert.match(mixed.stdout, /^failed     nobody@send\.example  lookup: send\.example is a keypost domain, but nothing is published for nobody@send\.example \(CLIENT_NOT_PUBLISHED\)$/m);

    const ok = await runKeypost(['send', '--from', 'dave@sender.example', '--to', 'alice@send.example', '--dns', site.dnsAddress, '--encrypt', '--json'], {}, 'hello\n');
    assert.equal(ok.code, 0, ok.stderr);
    const report = JSON.parse(ok.stdout);
    assert.equal(report.delivered, true);
    assert.equal(report.recipients[0].encrypted, true);

    for (const args of [
      ['send', '--to', 'alice@send.example'],
      ['send', '--from', 'dave@sender.example'],
      ['send', '--from', 'dave', '--to', 'alice@send.example', '--dns', site.dnsAddress],
      ['send', '--from', 'dave@sender.example', '--to', 'alice@send.example', '/no/such/file.eml'],
      ['send', '--from', 'dave@sender.example', '--to', 'alice@send.example', '--dns', 'bogus'],
    ]) {
      const usage = await runKeypost(args, {}, 'hello\n');
      assert.equal(usage.code, 2, `${args.join(' ')}: ${usage.stderr}`);
    }
  });
});

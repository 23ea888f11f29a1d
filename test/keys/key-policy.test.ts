// The key policy against real keys: every rejection has its code, stripping removes what the
// policy says, and GnuPG accepts what comes out.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as openpgp from 'openpgp';
import { armor, checkKey, minimalKeyFor, servedKeyWithUserIds, type KeyCheck } from '../../src/keys/key-policy.js';
import { dearmorKeyBlock } from '../../src/protocol/armor.js';
import { TAG } from '../../src/keys/packet-limits.js';
import { httpStatusFor } from '../../src/protocol/errors.js';
import { requireTool } from '../support/tools.js';
import { createGpgHome, listPacketTags, listUserIds, type GpgHome } from '../directory/gpg-home.js';
import {
  countTag,
  craftV3Key,
  floodWithCertifications,
  fromPrivate,
  insertAfter,
  makeKey,
  packet,
  packetsOf,
  type TestKey,
} from '../directory/key-fixtures.js';

const now = () => new Date();
const DAY = 86_400_000;

function assertRejected(check: KeyCheck, code: string, status: 'invalid' | 'expired' = 'invalid'): void {
  assert.equal(check.status, status, `expected ${status} ${code}, got ${JSON.stringify(check)}`);
  assert.ok('code' in check);
  assert.equal(check.code, code);
  assert.ok(check.reason.length > 0);
  const http = httpStatusFor(check.code);
  assert.ok(http === 400 || http === 422, `${code} maps to ${http}`);
}

function accepted(check: KeyCheck): Extract<KeyCheck, { key: unknown }>['key'] {
  assert.ok(check.status === 'valid' || check.status === 'revoked', `expected a key, got ${JSON.stringify(check)}`);
  return check.key;
}

describe('key policy: accepted keys', () => {
  it('reports fingerprint, key ids, algorithm, dates and lowercased addresses of a valid key', async () => {
    const key = await makeKey({ emails: ['Alice@Example.ORG', 'bob@example.net'], keyExpirationTime: 365 * 86400 });
    const checked = accepted(await checkKey(key.armored, { now: now() }));
    assert.equal(checked.fingerprint, key.fingerprint);
    assert.match(checked.fingerprint, /^[0-9A-F]{40}$/);
    assert.deepEqual(checked.keyIds, key.publicKey.getKeyIDs().map((id) => id.toHex().toUpperCase()));
    assert.equal(checked.keyIds.length, 2);
    assert.equal(checked.algorithm, 'eddsaLegacy');
    assert.equal(checked.bits, 255);
    assert.equal(checked.createdAt.getTime(), key.publicKey.getCreationTime().getTime());
    assert.ok(checked.expiresAt && Math.abs(checked.expiresAt.getTime() - (checked.createdAt.getTime() + 365 * DAY)) < 1000);
    assert.deepEqual(checked.addresses, [
      { address: 'alice@example.org', userId: 'User 0 <Alice@Example.ORG>' },
      { address: 'bob@example.net', userId: 'User 1 <bob@example.net>' },
    ]);
    // Binary input gives the same answer as armoured input.
    assert.equal(accepted(await checkKey(key.binary, { now: now() })).fingerprint, key.fingerprint);
    const reparsed = await openpgp.readKey({ binaryKey: checked.stripped });
    assert.equal(reparsed.getFingerprint().toUpperCase(), key.fingerprint);
    await reparsed.verifyPrimaryKey();
  });

  it('accepts RSA 2048 and v6 (RFC 9580) ed25519 keys', async () => {
    const rsa = await makeKey({ type: 'rsa', rsaBits: 2048 });
    const checked = accepted(await checkKey(rsa.armored, { now: now() }));
    assert.equal(checked.bits, 2048);
    assert.equal(checked.algorithm, 'rsaEncryptSign');
    const v6 = await makeKey({ type: 'curve25519', config: { v6Keys: true } });
    const v6checked = accepted(await checkKey(v6.binary, { now: now() }));
    assert.match(v6checked.fingerprint, /^[0-9A-F]{64}$/);
    assert.equal(v6checked.algorithm, 'ed25519');
    assert.deepEqual(v6checked.addresses.map((a) => a.address), ['alice@example.org']);
  });

  it('takes a key inside surrounding text, as pasted into a form or a mail', async () => {
    const key = await makeKey();
    const checked = accepted(await checkKey(`Hello,\nhere is my key:\n\n${key.armored}\nBye\n`, { now: now() }));
    assert.equal(checked.fingerprint, key.fingerprint);
  });
});

describe('key policy: rejections carry stable codes', () => {
  it('DIR_KEY_UNPARSABLE for text, damaged armour and truncated packets', async () => {
    assertRejected(await checkKey('not a key at all', { now: now() }), 'DIR_KEY_UNPARSABLE');
    const key = await makeKey();
    const damaged = key.armored.replace(/\n([A-Za-z0-9+/]{10})/, (_m, s: string) => `\n${s.split('').reverse().join('')}`);
    assertRejected(await checkKey(damaged, { now: now() }), 'DIR_KEY_UNPARSABLE');
    assertRejected(await checkKey(key.binary.subarray(0, key.binary.length - 20), { now: now() }), 'DIR_KEY_UNPARSABLE');
    const signed = await openpgp.sign({ message: await openpgp.createMessage({ text: 'hi' }), signingKeys: key.privateKey });
    assertRejected(await checkKey(signed, { now: now() }), 'DIR_KEY_UNPARSABLE');
    assert.equal(httpStatusFor('DIR_KEY_UNPARSABLE'), 400);
  });

  it('DIR_KEY_SECRET for secret keys, armoured or binary', async () => {
    const key = await makeKey();
    assertRejected(await checkKey(key.privateKey.armor(), { now: now() }), 'DIR_KEY_SECRET');
    assertRejected(await checkKey(key.privateKey.write(), { now: now() }), 'DIR_KEY_SECRET');
  });

  it('DIR_KEY_NO_SELF_SIGNATURE for a user ID without, or with a broken, self-signature', async () => {
    const key = await makeKey();
    const unsigned = await openpgp.readKey({ binaryKey: key.binary });
    unsigned.users[0].selfCertifications = [];
    assertRejected(await checkKey(unsigned.write(), { now: now() }), 'DIR_KEY_NO_SELF_SIGNATURE');

    // Flip one byte of the signature value (the last octet of the self-signature packet).
    const packets = packetsOf(key.binary);
    const sigIndex = packets.findIndex((p) => p.tag === TAG.signature);
    const forged = Buffer.concat(packets.map((p, i) => {
      if (i !== sigIndex) return p.raw;
      const copy = Buffer.from(p.raw);
      copy[copy.length - 1] ^= 0x01;
      return copy;
    }));
    assertRejected(await checkKey(forged, { now: now() }), 'DIR_KEY_NO_SELF_SIGNATURE');

    // A certification by someone else is not a self-signature.
    const other = await makeKey({ emails: ['mallory@example.org'], date: new Date(Date.now() - 3 * DAY) });
    const certifiedOnly = await openpgp.readKey({ binaryKey: await floodWithCertifications(key, [other], 1) });
    certifiedOnly.users[0].selfCertifications = [];
    assertRejected(await checkKey(certifiedOnly.write(), { now: now() }), 'DIR_KEY_NO_SELF_SIGNATURE');
  });

  it('DIR_KEY_EXPIRED for an expired primary key, with status expired', async () => {
    const key = await makeKey({ date: new Date(Date.now() - 10 * DAY), keyExpirationTime: 86400 });
    assertRejected(await checkKey(key.armored, { now: now() }), 'DIR_KEY_EXPIRED', 'expired');
    // The same key judged inside its lifetime is fine: the clock is the caller's.
    accepted(await checkKey(key.armored, { now: new Date(Date.now() - 9.5 * DAY) }));
  });

  it('accepts a revoked key as status revoked, with its addresses and the revocation kept', async () => {
    const key = await makeKey({ emails: ['carol@example.org'] });
    const { publicKey: revoked } = await openpgp.revokeKey({ key: key.privateKey, format: 'binary' });
    const check = await checkKey(revoked, { now: now() });
    assert.equal(check.status, 'revoked');
    const checked = accepted(check);
    assert.equal(checked.fingerprint, key.fingerprint);
    assert.deepEqual(checked.addresses.map((a) => a.address), ['carol@example.org']);
    const stored = await openpgp.readKey({ binaryKey: checked.stripped });
    assert.equal(stored.revocationSignatures.length, 1);
    assert.equal(await stored.isRevoked(), true);
  });

  it('DIR_KEY_WEAK_ALGORITHM for RSA 1024, v3 keys and DSA-only keys', { skip: requireTool('gpg') }, async () => {
    const rsa1024 = await makeKey({ type: 'rsa', rsaBits: 1024, config: { minRSABits: 1024 } });
    assertRejected(await checkKey(rsa1024.armored, { now: now() }), 'DIR_KEY_WEAK_ALGORITHM');
    const weakSubkey = await makeKey({ subkeys: [{ type: 'rsa', rsaBits: 1024 }], config: { minRSABits: 1024 } });
    assertRejected(await checkKey(weakSubkey.armored, { now: now() }), 'DIR_KEY_WEAK_ALGORITHM');
    assertRejected(await checkKey(craftV3Key(), { now: now() }), 'DIR_KEY_WEAK_ALGORITHM');
    assertRejected(await checkKey(armor(craftV3Key()), { now: now() }), 'DIR_KEY_WEAK_ALGORITHM');

    const gpg = createGpgHome();
    try {
      await gpg.ok(['--quick-gen-key', 'DSA Only <dsa@example.org>', 'dsa2048', 'sign', 'never'], { timeoutMs: 120_000 });
      const { stdout } = await gpg.ok(['--export', '--armor', 'dsa@example.org']);
      assert.match(stdout, /BEGIN PGP PUBLIC KEY BLOCK/);
      assertRejected(await checkKey(stdout, { now: now() }), 'DIR_KEY_WEAK_ALGORITHM');
    } finally {
      await gpg.close();
    }
  });

  it('DIR_KEY_TOO_MANY_USER_IDS above 20 user IDs, DIR_KEY_TOO_MANY_SUBKEYS above 20 subkeys', async () => {
    const emails = (n: number) => Array.from({ length: n }, (_, i) => `u${i}@example.org`);
    accepted(await checkKey((await makeKey({ emails: emails(20) })).armored, { now: now() }));
    assertRejected(await checkKey((await makeKey({ emails: emails(21) })).armored, { now: now() }), 'DIR_KEY_TOO_MANY_USER_IDS');
    const subkeys = (n: number) => Array.from({ length: n }, () => ({}));
    accepted(await checkKey((await makeKey({ subkeys: subkeys(20) })).armored, { now: now() }));
    assertRejected(await checkKey((await makeKey({ subkeys: subkeys(21) })).armored, { now: now() }), 'DIR_KEY_TOO_MANY_SUBKEYS');
  });

  it('DIR_KEY_TOO_LARGE above 1 MiB, DIR_KEY_PACKET_TOO_LARGE for oversized packets', async () => {
    const key = await makeKey();
    const padded = key.armored + '\n' + 'x'.repeat(1024 * 1024);
    assertRejected(await checkKey(padded, { now: now() }), 'DIR_KEY_TOO_LARGE');
    assertRejected(await checkKey(new Uint8Array(1024 * 1024 + 1).fill(0x99), { now: now() }), 'DIR_KEY_TOO_LARGE');

    const hugeUserId = packet(TAG.userId, Buffer.from(`Big <big@example.org> ${'x'.repeat(9000)}`));
    assertRejected(await checkKey(insertAfter(key.binary, 0, hugeUserId), { now: now() }), 'DIR_KEY_PACKET_TOO_LARGE');
    const hugeSignature = packet(TAG.signature, Buffer.alloc(65 * 1024, 4));
    assertRejected(await checkKey(insertAfter(key.binary, 2, hugeSignature), { now: now() }), 'DIR_KEY_PACKET_TOO_LARGE');
  });

  it('DIR_KEY_MULTIPLE for two keys in one upload, binary or armoured', async () => {
    const [a, b] = await Promise.all([makeKey(), makeKey({ emails: ['b@example.org'] })]);
    assertRejected(await checkKey(Buffer.concat([a.binary, b.binary]), { now: now() }), 'DIR_KEY_MULTIPLE');
    assertRejected(await checkKey(`${a.armored}\n${b.armored}`, { now: now() }), 'DIR_KEY_MULTIPLE');
  });
});

describe('key policy: stripping', () => {
  let certifiers: TestKey[];
  before(async () => {
    certifiers = await Promise.all([1, 2, 3, 4].map((i) => makeKey({ emails: [`certifier${i}@example.net`], date: new Date(Date.now() - 3 * DAY) })));
  });

  it('publishes a key flooded with 2,000 third-party certifications, stripped of all of them', async () => {
    const target = await makeKey({ emails: ['victim@example.org'], date: new Date(Date.now() - 3 * DAY) });
    const flooded = await floodWithCertifications(target, certifiers, 2000);
    assert.equal(countTag(flooded, TAG.signature), 2000 + 2);
    const started = Date.now();
    const checked = accepted(await checkKey(armor(flooded), { now: now() }));
    const elapsed = Date.now() - started;
    assert.equal(checked.fingerprint, target.fingerprint);
    assert.deepEqual(checked.addresses.map((a) => a.address), ['victim@example.org']);
    // Left: one self-signature and one subkey binding.
    assert.equal(countTag(checked.stripped, TAG.signature), 2);
    const stored = await openpgp.readKey({ binaryKey: checked.stripped });
    assert.equal(stored.users[0].otherCertifications.length, 0);
    await stored.verifyPrimaryKey();
    // The certifications were never verified one by one (that is what choked SKS clients).
    assert.ok(elapsed < 3000, `checking the flooded key took ${elapsed} ms`);
  });

  it('strips user attributes, user IDs without an address, and user IDs outside served domains', async () => {
    const { privateKey } = await openpgp.generateKey({
      type: 'ecc',
      userIDs: [{ name: 'Only A Name' }, { name: 'Served', email: 'dave@example.org' }, { name: 'Elsewhere', email: 'dave@gmail.example' }],
      format: 'object',
    });
    const key = fromPrivate(privateKey);
    // A 20 KiB photo ID (bigger than the packet limit, which must not matter since it is dropped).
    const photo = packet(TAG.userAttribute, Buffer.concat([Buffer.from([0xff, 0, 0, 0x50, 0x00, 0x01]), Buffer.alloc(20 * 1024, 1)]));
    const withPhoto = insertAfter(key.binary, 2, photo);
    assert.equal(countTag(withPhoto, TAG.userAttribute), 1);
    const served = (address: string) => address.endsWith('@example.org');
    const checked = accepted(await checkKey(withPhoto, { now: now(), isServedAddress: served }));
    assert.deepEqual(checked.addresses, [{ address: 'dave@example.org', userId: 'Served <dave@example.org>' }]);
    assert.equal(countTag(checked.stripped, TAG.userAttribute), 0);
    const stored = await openpgp.readKey({ binaryKey: checked.stripped });
    assert.deepEqual(stored.getUserIDs(), ['Served <dave@example.org>']);
    // Without the filter, every addressed user ID stays and the name-only one still goes.
    const all = accepted(await checkKey(withPhoto, { now: now() }));
    assert.deepEqual(all.addresses.map((a) => a.address), ['dave@example.org', 'dave@gmail.example']);
  });

  it('drops unhashed subpackets anyone could have added, keeping the signature valid', async () => {
    const key = await makeKey();
    const tampered = await openpgp.readKey({ binaryKey: key.binary });
    const keyserver = Buffer.from('hkp://evil.example');
    tampered.users[0].selfCertifications[0].unhashedSubpackets.push({ type: 24, critical: false, body: keyserver });
    tampered.subkeys[0].bindingSignatures[0].unhashedSubpackets.push({ type: 20, critical: false, body: Buffer.alloc(40, 9) });
    const checked = accepted(await checkKey(tampered.write(), { now: now() }));
    const stored = await openpgp.readKey({ binaryKey: checked.stripped });
    assert.deepEqual(stored.users[0].selfCertifications[0].unhashedSubpackets, []);
    assert.deepEqual(stored.subkeys[0].bindingSignatures[0].unhashedSubpackets, []);
    assert.ok(!Buffer.from(checked.stripped).includes(keyserver));
    await stored.verifyPrimaryKey();
    await stored.subkeys[0].verify();
  });
});

describe('key policy: GnuPG interop', { skip: requireTool('gpg') }, () => {
  let gpg: GpgHome;
  let fresh: GpgHome;
  before(async () => {
    gpg = createGpgHome();
    fresh = createGpgHome();
  });
  after(async () => {
    await gpg.close();
    await fresh.close();
  });

  it('keeps the unhashed issuer and back-signature of a GnuPG key, and GnuPG accepts the stripped key', async () => {
    await gpg.ok(['--quick-gen-key', 'Erin <erin@example.org>', 'ed25519', 'cert', 'never']);
    await gpg.ok(['--quick-add-key', await fingerprintOf(gpg, 'erin@example.org'), 'ed25519', 'sign', '1y']);
    await gpg.ok(['--quick-add-key', await fingerprintOf(gpg, 'erin@example.org'), 'cv25519', 'encr', '1y']);
    await gpg.ok(['--quick-add-uid', 'erin@example.org', 'Erin Work <erin@work.example>']);
    const exported = (await gpg.ok(['--export', '--armor', 'erin@example.org'])).stdout;

    const checked = accepted(await checkKey(exported, { now: now(), isServedAddress: (a) => a.endsWith('@example.org') }));
    assert.deepEqual(checked.addresses.map((a) => a.address), ['erin@example.org']);
    assert.equal(checked.keyIds.length, 3);
    await fresh.ok(['--import'], { input: checked.stripped });
    const listing = (await fresh.ok(['--with-colons', '--check-sigs', checked.fingerprint])).stdout;
    // Every signature checks ("!"), the signing subkey is usable for signing (its back-signature
    // survived), and only the served user ID is there.
    const sigLines = listing.split('\n').filter((l) => l.startsWith('sig:'));
    assert.ok(sigLines.length >= 3 && sigLines.every((l) => l.startsWith('sig:!')), listing);
    assert.deepEqual(listing.split('\n').filter((l) => l.startsWith('uid:')).map((l) => l.split(':')[9]), ['Erin <erin@example.org>']);
    assert.ok(listing.split('\n').some((l) => l.startsWith('sub:') && l.split(':')[11].includes('s')), listing);
  });

  it('cuts a minimal key with exactly one user ID that GnuPG imports', async () => {
    const key = await makeKey({ emails: ['frank@example.org', 'frank@example.net', 'f.rank@example.org'] });
    const checked = accepted(await checkKey(key.armored, { now: now() }));
    const minimal = await minimalKeyFor(checked.stripped, 'Frank@Example.NET');
    assert.deepEqual(await listUserIds(fresh, minimal), ['User 1 <frank@example.net>']);
    assert.deepEqual(await listPacketTags(fresh, minimal), [TAG.publicKey, TAG.userId, TAG.signature, TAG.publicSubkey, TAG.signature]);
    assert.ok(minimal.length < checked.stripped.length);
    await fresh.ok(['--import'], { input: armor(minimal) });
    const listing = (await fresh.ok(['--with-colons', '--list-keys', checked.fingerprint])).stdout;
    assert.deepEqual(listing.split('\n').filter((l) => l.startsWith('uid:')).map((l) => l.split(':')[9]), ['User 1 <frank@example.net>']);
    await assert.rejects(minimalKeyFor(checked.stripped, 'nobody@example.org'), { code: 'DIR_KEY_ADDRESS_NOT_IN_KEY' });
  });
});

describe('key policy: cutting served keys', () => {
  it('minimal keys leave out subkeys that expired or were revoked', async () => {
    const { privateKey } = await openpgp.generateKey({
      type: 'ecc',
      userIDs: [{ email: 'gina@example.org' }],
      subkeys: [{}, { keyExpirationTime: 3600 }, {}],
      date: new Date(Date.now() - 2 * 3600_000),
      format: 'object',
    });
    const revokedSubkey = await privateKey.subkeys[2].revoke(privateKey.keyPacket as openpgp.SecretKeyPacket);
    privateKey.subkeys[2] = revokedSubkey;
    const key = fromPrivate(privateKey);
    const checked = accepted(await checkKey(key.binary, { now: now() }));
    assert.equal(checked.keyIds.length, 4, 'the stored key keeps history: expired and revoked subkeys stay');
    const minimal = await openpgp.readKey({ binaryKey: await minimalKeyFor(checked.stripped, 'gina@example.org') });
    assert.deepEqual(minimal.subkeys.map((s) => s.getKeyID().toHex()), [key.publicKey.subkeys[0].getKeyID().toHex()]);
  });

  it('servedKeyWithUserIds keeps only the listed user IDs with their signatures', async () => {
    const key = await makeKey({ emails: ['h1@example.org', 'h2@example.org', 'h3@example.org'] });
    const checked = accepted(await checkKey(key.binary, { now: now() }));
    const served = servedKeyWithUserIds(checked.stripped, ['User 2 <h3@example.org>']);
    const parsed = await openpgp.readKey({ binaryKey: served });
    assert.deepEqual(parsed.getUserIDs(), ['User 2 <h3@example.org>']);
    await parsed.verifyPrimaryKey();
    const bare = await openpgp.readKey({ binaryKey: servedKeyWithUserIds(checked.stripped, []) });
    assert.deepEqual(bare.getUserIDs(), []);
    assert.equal(bare.subkeys.length, 1);
  });

  it('armor() output reads back byte for byte, with a valid CRC-24', async () => {
    const key = await makeKey();
    const text = armor(key.binary);
    const back = dearmorKeyBlock(text);
    assert.ok(back.ok);
    assert.deepEqual(Buffer.from(back.bytes), Buffer.from(key.binary));
    const parsed = await openpgp.readKey({ armoredKey: text });
    assert.equal(parsed.getFingerprint().toUpperCase(), key.fingerprint);
  });
});

async function fingerprintOf(home: GpgHome, who: string): Promise<string> {
  const { stdout } = await home.ok(['--with-colons', '--list-keys', who]);
  const line = stdout.split('\n').find((l) => l.startsWith('fpr:'));
  assert.ok(line, stdout);
  return line.split(':')[9];
}

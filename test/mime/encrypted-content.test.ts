// What counts as encrypted for a zone that takes only encrypted mail (req=encrypted): the whole
// content an OpenPGP message holding encrypted data, as PGP/MIME or inline; never a wrapper with
// the right names around something readable, nor an encrypted attachment next to plain text.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as openpgp from 'openpgp';
import { isEncryptedContent } from '../../src/mime/encrypted-content.js';
import { parseEntity } from '../../src/mime/entity.js';

const crlf = (text: string) => text.replace(/\r?\n/g, '\r\n');
const entity = (text: string) => parseEntity(Buffer.from(crlf(text), 'latin1'));

function pgpMime(armored: string, protocol = 'application/pgp-encrypted'): string {
  return (
    `Subject: x\nMIME-Version: 1.0\nContent-Type: multipart/encrypted; protocol="${protocol}"; boundary="b"\n\n` +
    `--b\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n--b\nContent-Type: application/octet-stream\n\n${armored.trim()}\n--b--\n`
  );
}

describe('encrypted content', () => {
  let encrypted: string;
  let signedOnly: string;

  before(async () => {
    const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'a@enc.test' }], format: 'object' });
    encrypted = String(await openpgp.encrypt({ message: await openpgp.createMessage({ text: 'secret' }), encryptionKeys: publicKey }));
    signedOnly = String(await openpgp.sign({ message: await openpgp.createMessage({ text: 'readable' }), signingKeys: privateKey }));
  });

  const cases: [string, () => string, boolean][] = [
    ['PGP/MIME with an encrypted OpenPGP message', () => pgpMime(encrypted), true],
    ['PGP/MIME naming another protocol', () => pgpMime(encrypted, 'application/x-other'), false],
    ['PGP/MIME around a message that is only signed', () => pgpMime(signedOnly), false],
    ['inline: a text body that is one PGP MESSAGE block', () => `Subject: x\n\n${encrypted}`, true],
    ['inline, base64 transfer-encoded', () => `Subject: x\nContent-Transfer-Encoding: base64\n\n${Buffer.from(encrypted).toString('base64').replace(/.{76}/g, '$&\n')}\n`, true],
    ['inline with readable text before the block', () => `Subject: x\n\nhello, the secret follows\n${encrypted}`, false],
    ['inline armour around a signed message', () => `Subject: x\n\n${signedOnly}`, false],
    ['plain text', () => 'Subject: x\n\nhello\n', false],
    [
      'an encrypted attachment next to plain text',
      () => `Subject: x\nContent-Type: multipart/mixed; boundary="m"\n\n--m\nContent-Type: text/plain\n\nhello\n--m\nContent-Type: text/plain\n\n${encrypted}\n--m--\n`,
      false,
    ],
    [
      'PGP/MIME inside an outer multipart/signed (RFC 1847 §2.1)',
      () => {
        const inner = pgpMime(encrypted).replace(/^Subject: x\n/, '');
        return `Subject: x\nContent-Type: multipart/signed; protocol="application/pgp-signature"; micalg=pgp-sha256; boundary="s"\n\n--s\n${inner}\n--s\nContent-Type: application/pgp-signature\n\n${signedOnly}\n--s--\n`;
      },
      true,
    ],
  ];
  for (const [name, message, expected] of cases) {
    test(name, async () => assert.equal(await isEncryptedContent(entity(message())), expected));
  }
});

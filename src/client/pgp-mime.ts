// PGP/MIME encryption (RFC 3156 §4). The message's content (its Content-* fields and body, one MIME
// entity) is encrypted to every recipient key at once; the envelope-level fields (From, To,
// Subject, Date, ...) stay outside so that mail can be routed; src/mime/pgp-encrypted.ts builds the parts.
import { createMessage, encrypt, readKey } from 'openpgp';
import { PARSE_CONFIG } from '../directory/key-signatures.js';
import { pgpMimeBody } from '../mime/pgp-encrypted.js';
import { toCrlf, type HeaderField, type MailMessage } from './message.js';

const isContentField = (f: HeaderField) => /^content-/i.test(f.name);
const isMimeVersion = (f: HeaderField) => /^mime-version$/i.test(f.name);

/** The inner MIME entity: the message's own Content-* fields, or RFC 2045 defaults that fit the body. */
export function innerEntity(message: MailMessage): Buffer {
  let fields = message.fields.filter(isContentField);
  if (!fields.some((f) => /^content-type$/i.test(f.name))) {
    // RFC 2045 §5.2 would default to us-ascii; a body with 8-bit octets is declared as UTF-8.
    const eightBit = message.body.some((b) => b > 0x7f);
    fields = [
      { name: 'Content-Type', value: ` text/plain; charset=${eightBit ? 'utf-8' : 'us-ascii'}` },
      ...(fields.some((f) => /^content-transfer-encoding$/i.test(f.name))
        ? []
        : [{ name: 'Content-Transfer-Encoding', value: eightBit ? ' 8bit' : ' 7bit' }]),
      ...fields,
    ];
  }
  const head = fields.map((f) => `${f.name}:${f.value}\r\n`).join('');
  return Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), message.body]);
}

/** Encrypts `message` to `keys` (binary transferable public keys) as PGP/MIME. */
export async function encryptPgpMime(message: MailMessage, keys: readonly Uint8Array[]): Promise<MailMessage> {
  const encryptionKeys = await Promise.all(keys.map((binaryKey) => readKey({ binaryKey, config: PARSE_CONFIG })));
  // Binary literal data: the entity's octets (CRLF line ends included) are what the recipient gets
  // back, which is what RFC 3156 §4 asks for (the canonical MIME entity).
  const armored = await encrypt({
    message: await createMessage({ binary: innerEntity(message) }),
    encryptionKeys,
    format: 'armored',
  });
  const { contentType, body } = pgpMimeBody(String(armored));
  const outer = message.fields.filter((f) => !isContentField(f) && !isMimeVersion(f));
  return {
    fields: [
      ...outer,
      { name: 'MIME-Version', value: ' 1.0' },
      { name: 'Content-Type', value: ` ${contentType}` },
    ],
    body: toCrlf(Buffer.from(body, 'utf8')),
  };
}

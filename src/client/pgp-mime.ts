// PGP/MIME encryption (RFC 3156 §4). The message's content (its Content-* fields and body, one MIME
// entity) is encrypted to every recipient key at once; the envelope-level fields (From, To,
// Subject, Date, ...) stay outside so that mail can be routed; src/mime/pgp-encrypted.ts builds the parts.
import { createMessage, encrypt, readKey, type PrivateKey } from 'openpgp';
import { PARSE_CONFIG } from '../keys/key-signatures.js';
import { pgpMimeBody } from '../mime/pgp-encrypted.js';
import { toCrlf, type HeaderField, type MailMessage } from './message.js';
import { protectHeaders } from './header-protection.js';
import { innerEntity, isContentField, isMimeVersion } from './content-entity.js';

export interface SignWhileEncrypting {
  key: PrivateKey;
  /** Replace the outer Subject with "[...]"; the real one travels inside (RFC 9788 §3.2.3). */
  hideSubject?: boolean;
  now: Date;
}

/**
 * Encrypts `message` to `keys` (binary transferable public keys) as PGP/MIME. With `signing`, the
 * OpenPGP message is signed and encrypted at once (RFC 3156 §6.2) and the header fields travel
 * protected inside (RFC 9788, hp="cipher").
 */
export async function encryptPgpMime(message: MailMessage, keys: readonly Uint8Array[], signing?: SignWhileEncrypting): Promise<MailMessage> {
  const encryptionKeys = await Promise.all(keys.map((binaryKey) => readKey({ binaryKey, config: PARSE_CONFIG })));
  let entity: Buffer;
  let outer: HeaderField[];
  if (signing) {
    ({ entity, outer } = protectHeaders(message, 'cipher', { hideSubject: signing.hideSubject }));
  } else {
    entity = innerEntity(message);
    outer = message.fields.filter((f) => !isContentField(f) && !isMimeVersion(f));
  }
  // Binary literal data: the entity's octets (CRLF line ends included) are what the recipient gets
  // back, which is what RFC 3156 §4 asks for (the canonical MIME entity).
  const armored = await encrypt({
    message: await createMessage({ binary: entity }),
    encryptionKeys,
    ...(signing ? { signingKeys: signing.key, date: signing.now } : {}),
    format: 'armored',
  });
  const { contentType, body } = pgpMimeBody(String(armored));
  return {
    fields: [
      ...outer,
      { name: 'MIME-Version', value: ' 1.0' },
      { name: 'Content-Type', value: ` ${contentType}` },
    ],
    body: toCrlf(Buffer.from(body, 'utf8')),
  };
}

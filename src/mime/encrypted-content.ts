// Whether a message's content is encrypted with OpenPGP, as a zone that takes only encrypted mail
// (`--require encrypted`) asks: the whole content, not an encrypted attachment next to plain text.
//
// - PGP/MIME (RFC 3156 §4): a multipart/encrypted root with protocol "application/pgp-encrypted",
//   whose second part is an OpenPGP message;
// - the same under an outer signature (a multipart/signed whose signed part is that
//   multipart/encrypted: RFC 1847 §2.1 lets the two nest either way round);
// - inline PGP: a text/plain root whose text is one armoured PGP MESSAGE block and nothing else.
// In each case the OpenPGP message must really carry encrypted data (RFC 4880 §5.7, §5.13; RFC
// 9580 §5.13): a block with the right armour lines around a literal message is not encrypted.
import { enums, readMessage } from 'openpgp';
import { PARSE_CONFIG } from '../keys/key-signatures.js';
import { fieldValue, type MimeEntity } from './entity.js';
import { decodeBody } from './transfer-encoding.js';

const ARMOURED_MESSAGE = /^-----BEGIN PGP MESSAGE-----\r?\n[\s\S]*\r?\n-----END PGP MESSAGE-----$/;

/** True when `armored` is one OpenPGP message holding encrypted data. */
async function holdsEncryptedData(armored: string): Promise<boolean> {
  if (!ARMOURED_MESSAGE.test(armored)) return false;
  try {
    const message = await readMessage({ armoredMessage: armored, config: PARSE_CONFIG });
    return (
      message.packets.filterByTag(enums.packet.symEncryptedIntegrityProtectedData, enums.packet.aeadEncryptedData, enums.packet.symmetricallyEncryptedData)
        .length > 0
    );
  } catch {
    return false;
  }
}

const decodedText = (entity: MimeEntity) => decodeBody(entity.body, fieldValue(entity, 'content-transfer-encoding')).toString('latin1').trim();

export async function isEncryptedContent(entity: MimeEntity): Promise<boolean> {
  const { mediaType, params } = entity.contentType;
  if (mediaType === 'multipart/encrypted') {
    return params.protocol?.toLowerCase() === 'application/pgp-encrypted' && entity.children.length === 2 && holdsEncryptedData(decodedText(entity.children[1]));
  }
  if (mediaType === 'multipart/signed') {
    return params.protocol?.toLowerCase() === 'application/pgp-signature' && entity.children.length === 2 && entity.children[0].contentType.mediaType === 'multipart/encrypted' && isEncryptedContent(entity.children[0]);
  }
  if (mediaType === 'text/plain') return holdsEncryptedData(decodedText(entity));
  return false;
}

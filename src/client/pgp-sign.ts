// Signing outgoing mail as PGP/MIME (RFC 3156): `keypost send --sign` signs with the sender's own
// secret key, either as multipart/signed (§5) or, with --encrypt, signed and encrypted in one
// OpenPGP message (§6.2, the combined form gpg --decrypt reports as "Good signature").
import { createMessage, decryptKey, enums, readPrivateKey, readSignature, sign, type PrivateKey } from 'openpgp';
import { KeypostError } from '../errors.js';
import { PARSE_CONFIG } from '../keys/key-signatures.js';
import { pgpSignedBody } from '../mime/pgp-signed.js';
import { CLIENT_CODES } from './errors.js';
import { protectHeaders } from './header-protection.js';
import type { MailMessage } from './message.js';

/**
 * Reads an armoured secret key and unlocks it. `passphrase` is asked for only when the key is
 * protected; a wrong one and a missing one are told apart.
 */
export async function loadSigningKey(armoredKey: string, passphrase: () => Promise<string | undefined>): Promise<PrivateKey> {
  let key: PrivateKey;
  try {
    key = await readPrivateKey({ armoredKey, config: PARSE_CONFIG });
  } catch (err) {
    throw new KeypostError(CLIENT_CODES.signingKeyInvalid, `the signing key is not an armoured OpenPGP secret key: ${(err as Error).message}`);
  }
  if (key.isDecrypted()) return key;
  const secret = await passphrase();
  if (secret === undefined) {
    throw new KeypostError(CLIENT_CODES.signingKeyLocked, 'the signing key is protected by a passphrase: set KEYPOST_SIGN_PASSPHRASE or run on a terminal to be asked');
  }
  try {
    return await decryptKey({ privateKey: key, passphrase: secret });
  } catch {
    throw new KeypostError(CLIENT_CODES.signingKeyLocked, 'the passphrase does not unlock the signing key');
  }
}

/** The addresses of the key's user IDs, lowercased. */
export function signingAddresses(key: PrivateKey): string[] {
  return key.users.map((u) => u.userID?.email?.toLowerCase()).filter((e): e is string => Boolean(e));
}

/** "pgp-sha512": the micalg parameter for the hash the signature actually used (RFC 3156 §5). */
async function micalgOf(armoredSignature: string): Promise<string> {
  const signature = await readSignature({ armoredSignature });
  const name = enums.read(enums.hash, signature.packets[0].hashAlgorithm!) as string;
  return `pgp-${name.toLowerCase()}`;
}

/** Signs `message` as multipart/signed, with its header fields protected inside (RFC 9788). */
export async function signPgpMime(message: MailMessage, signingKey: PrivateKey, now: Date): Promise<MailMessage> {
  const { entity, outer } = protectHeaders(message, 'clear');
  const signature = await sign({
    message: await createMessage({ binary: entity }),
    signingKeys: signingKey,
    detached: true,
    format: 'armored',
    date: now,
  });
  const { contentType, body } = pgpSignedBody(entity, String(signature), await micalgOf(String(signature)));
  return {
    fields: [...outer, { name: 'MIME-Version', value: ' 1.0' }, { name: 'Content-Type', value: ` ${contentType}` }],
    body,
  };
}

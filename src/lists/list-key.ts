// A list's own OpenPGP key: made by keypost when the list is made, its secret half kept only
// sealed under KEYPOST_SECRET_KEY_FILE (src/secrets/sealed-box.ts), bound to the list address, so
// a database dump alone cannot read the posts, and a sealed key copied onto another list does not open.
import { generateKey, readPrivateKey, type PrivateKey } from 'openpgp';
import { PARSE_CONFIG } from '../keys/key-signatures.js';
import type { SealedBox } from '../secrets/sealed-box.js';

export interface NewListKey {
  /** Binary transferable public key, to publish. */
  publicKey: Uint8Array;
  /** The secret key, sealed for this list. */
  sealed: Buffer;
}

const contextOf = (listAddress: string) => `list-key:${listAddress}`;

/**
 * An Ed25519 primary key (signs the copies) with a Curve25519 encryption subkey (posts are
 * encrypted to it): the legacy (v4) forms every deployed gpg reads. No passphrase: the seal is
 * the protection at rest.
 */
export async function generateListKey(box: SealedBox, listAddress: string, now: Date): Promise<NewListKey> {
  const { privateKey, publicKey } = await generateKey({
    type: 'ecc',
    curve: 'ed25519Legacy',
    userIDs: [{ name: `${listAddress.slice(0, listAddress.indexOf('@'))} list`, email: listAddress }],
    date: now,
    format: 'binary',
  });
  return { publicKey, sealed: box.seal(Buffer.from(privateKey), contextOf(listAddress)) };
}

/** The list's secret key, unsealed (SECRET_UNSEALABLE with the wrong key file). */
export async function openListKey(box: SealedBox, listAddress: string, sealed: Buffer): Promise<PrivateKey> {
  return readPrivateKey({ binaryKey: box.open(sealed, contextOf(listAddress)), config: PARSE_CONFIG });
}

// Why the directory refused something, in words a person reads on a page. Keyed by the stable
// codes of src/protocol/errors.ts (the key policy's among them); the API answers the same codes
// with its own terse messages, which stay the fallback for codes not worded here.
import type { ErrorCode } from '../protocol/errors.js';

const WORDS: Partial<Record<ErrorCode, string>> = {
  DIR_KEY_UNPARSABLE: 'This is not an OpenPGP public key we can read. Export it with "gpg --export --armor you@example.org".',
  DIR_KEY_SECRET: 'This is a secret key. Upload only the public key; never share the secret one.',
  DIR_KEY_NO_SELF_SIGNATURE: 'No user ID of this key carries a valid self-signature, so nothing in it can be published.',
  DIR_KEY_EXPIRED: 'This key has expired. Extend its expiry date and upload it again.',
  DIR_KEY_WEAK_ALGORITHM: 'This key uses an algorithm or key size that is too weak to publish.',
  DIR_KEY_TOO_LARGE: 'This key is too large to publish.',
  DIR_KEY_PACKET_TOO_LARGE: 'A part of this key (a photo or a signature) is too large to publish.',
  DIR_KEY_TOO_MANY_USER_IDS: 'This key has more user IDs than the directory accepts.',
  DIR_KEY_TOO_MANY_SUBKEYS: 'This key has more subkeys than the directory accepts.',
  DIR_KEY_MULTIPLE: 'This holds more than one key. Upload one key at a time.',
  DIR_KEY_ADDRESS_NOT_IN_KEY: 'That address is not a user ID of this key.',
  DIR_KEY_NO_SERVED_ADDRESS: 'None of the addresses in this key belongs to a domain this directory serves.',
  DIR_KEY_REVOKED: 'This key has been revoked, so it cannot be published again.',
  DIR_KEY_CANNOT_ENCRYPT: 'This key has no subkey that can encrypt, so the confirmation mail cannot be sent to it.',
  DIR_KEY_CHECK_BUSY: 'The directory is busy checking other keys. Try again in a minute.',
  DIR_ADDRESS_INVALID: 'That is not a valid mail address.',
  DIR_ADDRESS_NOT_PUBLISHED: 'Nothing is published for that address.',
  DIR_TOKEN_UNKNOWN: 'This link is not valid. Check that it was copied completely.',
  DIR_TOKEN_USED: 'This link has already been used. Nothing more to do.',
  DIR_TOKEN_EXPIRED: 'This link has expired. Ask for a new one.',
  DIR_VERIFY_MAIL_LIMITED: 'Too many confirmation mails went to this address recently. Try again later.',
  DIR_VERIFY_MAIL_CLIENT_LIMITED: 'Too many confirmation mails were asked for from your network recently. Try again later.',
  DIR_MAIL_FAILED: 'The confirmation mail could not be sent. Try again later.',
  RATE_LIMITED: 'Too many requests. Wait a minute and try again.',
  PAYLOAD_TOO_LARGE: 'The upload is too large (at most 1 MiB).',
  DB_UNAVAILABLE: 'The directory is briefly unavailable. Try again in a moment.',
};

export function refusalInWords(code: string, fallback: string): string {
  return WORDS[code as ErrorCode] ?? fallback;
}

// The key policy: the one module that judges OpenPGP keys, uploaded to the directory or found in
// DNS by a sender (src/client/checks.ts), so both sides agree on what a valid key is. It wraps
// openpgp.js and returns typed results; failures are classified by our own checks (packet
// headers, algorithm fields, which signatures verify), never by reading library error messages.
//
// Order matters (lessons of the 2019 SKS certificate flooding, CVE-2019-13050): size and packet
// limits first on raw bytes, then parsing without crypto, then only the signatures the policy
// keeps are verified. Third-party certifications are dropped unverified, however many there are.
import { readKey, type Key } from 'openpgp';
import { KeypostError } from '../errors.js';
import { dearmorKeyBlock } from '../protocol/armor.js';
import { KEY_LIMITS, concatPackets, scanTransferableKey } from './packet-limits.js';
import { PARSE_CONFIG, evaluateKey } from './key-signatures.js';
import type { KeyCheck, KeyPolicyCode } from './checked-key.js';
export { KEY_POLICY_CODES, type CheckedAddress, type CheckedKey, type KeyCheck, type KeyPolicyCode } from './checked-key.js';
export { armor } from '../protocol/armor.js';
export { minimalKeyFor, servedKeyWithUserIds } from './minimal-key.js';
export { KEY_LIMITS, splitKeyring } from './packet-limits.js';

export interface CheckKeyOptions {
  /** The time the key is judged at (expiry, signature validity). */
  now: Date;
  /** When given, user IDs whose address fails this test are stripped and not reported. */
  isServedAddress?: (address: string) => boolean;
}

const invalid = (code: KeyPolicyCode, reason: string): KeyCheck => ({ status: 'invalid', code, reason });

/** Turns a rejection into the error the HTTP edge maps to a 4xx (`{"error", "code"}`). */
export function keyCheckError(check: Extract<KeyCheck, { code: string }>): KeypostError {
  return new KeypostError(check.code, check.reason);
}

/** Armoured text or binary bytes → the binary key block, or the rejection. */
function decodeInput(input: string | Uint8Array): Uint8Array | KeyCheck {
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength;
  if (size > KEY_LIMITS.maxInputBytes) {
    return invalid('DIR_KEY_TOO_LARGE', `the upload has ${size} bytes; the limit is ${KEY_LIMITS.maxInputBytes}`);
  }
  // Binary OpenPGP starts with a packet header, which always has the top bit set (RFC 9580 §4.2).
  if (typeof input !== 'string' && input.length > 0 && input[0] & 0x80) return input;
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
  const dearmored = dearmorKeyBlock(text);
  if (dearmored.ok) return dearmored.bytes;
  switch (dearmored.problem) {
    case 'private-block':
      return invalid('DIR_KEY_SECRET', 'this is a secret key block; upload only the public key');
    case 'multiple-blocks':
      return invalid('DIR_KEY_MULTIPLE', 'the input holds more than one key block; upload one key at a time');
    case 'no-armor':
      return invalid('DIR_KEY_UNPARSABLE', 'no "-----BEGIN PGP PUBLIC KEY BLOCK-----" found');
    case 'wrong-block-type':
      return invalid('DIR_KEY_UNPARSABLE', 'the armoured block is not a public key block');
    case 'malformed':
      return invalid('DIR_KEY_UNPARSABLE', 'the armoured key is damaged (bad base64 or checksum)');
  }
}

/**
 * Judges one transferable public key and strips it for storage.
 * Never throws for anything in `input`; every outcome is a KeyCheck.
 */
export async function checkKey(input: string | Uint8Array, options: CheckKeyOptions): Promise<KeyCheck> {
  const bytes = decodeInput(input);
  if (!(bytes instanceof Uint8Array)) return bytes;
  const scanned = scanTransferableKey(bytes);
  if ('code' in scanned) return invalid(scanned.code as KeyPolicyCode, scanned.reason);

  let key: Key;
  try {
    key = await readKey({ binaryKey: concatPackets(scanned.packets), config: PARSE_CONFIG });
  } catch {
    // The scan accepted the framing, so what is left is content openpgp.js cannot read (an
    // unknown primary key algorithm, a damaged key packet); which one does not change the answer.
    return invalid('DIR_KEY_UNPARSABLE', 'the key packet could not be parsed (unknown algorithm or damaged key material)');
  }
  if (key.isPrivate()) return invalid('DIR_KEY_SECRET', 'this is a secret key; upload only the public key');

  return evaluateKey(key, options.now, options.isServedAddress);
}

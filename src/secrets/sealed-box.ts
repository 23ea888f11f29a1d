// Secrets at rest: AES-256-GCM under the key-encryption key (key-file.ts). Each sealed value is
// bound to what it is for (`context`, e.g. the zone a signing key belongs to) as associated data,
// so a row copied onto another zone does not open there.
//
//   sealed = version (1) ‖ nonce (12) ‖ tag (16) ‖ ciphertext
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { KeypostError } from '../errors.js';
import type { SecretsConfig } from '../config.js';
import { SECRET_KEY_LENGTH, loadSecretKey } from './key-file.js';

const VERSION = 1;
const NONCE = 12;
const TAG = 16;

export class SealedBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== SECRET_KEY_LENGTH) throw new RangeError('the key-encryption key must be 32 octets');
  }

  seal(plaintext: Buffer, context: string): Buffer {
    const nonce = randomBytes(NONCE);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), nonce, cipher.getAuthTag(), body]);
  }

  /** The plaintext; throws SECRET_UNSEALABLE when the key or the context is not the one sealed with. */
  open(sealed: Buffer, context: string): Buffer {
    if (sealed.length < 1 + NONCE + TAG || sealed[0] !== VERSION) throw new KeypostError('SECRET_UNSEALABLE', `a sealed secret for ${context} is malformed`);
    const decipher = createDecipheriv('aes-256-gcm', this.key, sealed.subarray(1, 1 + NONCE));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(sealed.subarray(1 + NONCE, 1 + NONCE + TAG));
    try {
      return Buffer.concat([decipher.update(sealed.subarray(1 + NONCE + TAG)), decipher.final()]);
    } catch {
      throw new KeypostError('SECRET_UNSEALABLE', `the secret for ${context} does not open with this KEYPOST_SECRET_KEY_FILE`);
    }
  }
}

/** The box for this configuration's key-encryption key (made at first start on the default path). */
export function openSecretBox(config: SecretsConfig): SealedBox {
  return new SealedBox(loadSecretKey(config));
}

// The mail that carries a one-time link. It is encrypted to the key being published (or, for a
// deletion, to the key currently published), so following the link proves control of the mailbox
// AND of the key's secret half. The format is PGP/MIME (RFC 3156 §4), which mail clients decrypt
// in place; the encrypted part is itself a MIME entity (RFC 3156 §4: "the encrypted data ... MUST
// be a MIME entity") holding the clear text.
import { randomBytes } from 'node:crypto';
import * as openpgp from 'openpgp';
import { KeypostError } from '../errors.js';
import type { OutgoingMail } from './mailer.js';
import { pgpMimeBody } from '../mime/pgp-encrypted.js';

export interface VerificationMailInput {
  purpose: 'publish' | 'delete';
  from: string;
  to: string;
  fingerprint: string;
  link: string;
  expiresAt: Date;
  /** The key to encrypt to (binary). */
  encryptTo: Uint8Array;
  serviceUrl: string;
}

function clearTextFor(input: VerificationMailInput): { subject: string; text: string } {
  const action =
    input.purpose === 'publish'
      ? `publish the OpenPGP key\n\n  ${input.fingerprint}\n\nfor ${input.to}`
      : `delete ${input.to} (published with key ${input.fingerprint})`;
  const subject = input.purpose === 'publish' ? `Verify ${input.to} for the key directory` : `Delete ${input.to} from the key directory`;
  const text = [
    'Hello,',
    '',
    `someone, hopefully you, asked the key directory at ${input.serviceUrl} to ${action}.`,
    '',
    'To confirm, open this link and press the button on the page:',
    '',
    `  ${input.link}`,
    '',
    `The link works once and expires ${input.expiresAt.toUTCString()}.`,
    'If you did not ask for this, ignore this message; nothing changes.',
    '',
  ].join('\n');
  return { subject, text };
}

/** Header values are ASCII here (addresses are A-label domains); strip anything that could fold. */
function header(value: string): string {
  return value.replace(/[\r\n]+/g, ' ');
}

export async function composeVerificationMail(input: VerificationMailInput): Promise<OutgoingMail> {
  const { subject, text } = clearTextFor(input);
  const inner = ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', text].join('\r\n');
  let armored: string;
  try {
    const key = await openpgp.readKey({ binaryKey: input.encryptTo });
    armored = await openpgp.encrypt({ message: await openpgp.createMessage({ text: inner }), encryptionKeys: key, format: 'armored' });
  } catch {
    // A key that passed the policy but has no usable encryption subkey (sign-only, or all
    // encryption subkeys expired) cannot prove possession through an encrypted mail.
    throw new KeypostError('DIR_KEY_CANNOT_ENCRYPT', 'the key has no valid encryption subkey, so no verification mail can be encrypted to it');
  }
  const pgpMime = pgpMimeBody(armored);
  const domain = input.from.slice(input.from.lastIndexOf('@') + 1) || 'localhost';
  const raw = [
    `From: ${header(input.from)}`,
    `To: ${header(input.to)}`,
    `Subject: ${header(subject)}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${randomBytes(16).toString('hex')}@${header(domain)}>`,
    'MIME-Version: 1.0',
    `Content-Type: ${pgpMime.contentType}`,
    '',
    pgpMime.body,
  ].join('\r\n');
  return { to: input.to, subject, raw, clearText: text, link: input.link };
}

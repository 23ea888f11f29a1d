// The multipart/encrypted structure of RFC 3156 §4, shared by everything keypost encrypts
// (verification mail, `keypost send --encrypt`):
//
//   Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary=...
//   --boundary
//   Content-Type: application/pgp-encrypted        (the version part: "Version: 1")
//   --boundary
//   Content-Type: application/octet-stream         (the armoured OpenPGP message)
//   --boundary--
import { randomBytes } from 'node:crypto';

export interface PgpMimeBody {
  /** The value of the outer Content-Type field (without the field name), folded so that no line
   *  exceeds the 78 characters RFC 5322 §2.1.1 recommends. */
  contentType: string;
  /** The multipart body, CRLF line ends. */
  body: string;
}

/** Wraps an armoured OpenPGP message in the two parts RFC 3156 §4 prescribes. */
export function pgpMimeBody(armored: string): PgpMimeBody {
  // '.' and '-' are not base64 characters and no armour line starts with "--kp": the boundary
  // cannot occur inside the parts (RFC 2046 §5.1.1).
  const boundary = `kp.${randomBytes(12).toString('hex')}`;
  const body = [
    'This is an OpenPGP/MIME encrypted message (RFC 3156).',
    '',
    `--${boundary}`,
    'Content-Type: application/pgp-encrypted',
    'Content-Description: PGP/MIME version identification',
    '',
    'Version: 1',
    '',
    `--${boundary}`,
    'Content-Type: application/octet-stream; name="encrypted.asc"',
    'Content-Description: OpenPGP encrypted message',
    'Content-Disposition: inline; filename="encrypted.asc"',
    '',
    armored.replace(/\r?\n/g, '\r\n').trimEnd(),
    '',
    `--${boundary}--`,
    '',
  ].join('\r\n');
  return { contentType: `multipart/encrypted; protocol="application/pgp-encrypted";\r\n boundary="${boundary}"`, body };
}

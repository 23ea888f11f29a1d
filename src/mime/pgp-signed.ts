// The multipart/signed structure of RFC 1847 §2.1 and RFC 3156 §5:
//
//   Content-Type: multipart/signed; micalg=pgp-sha512; protocol="application/pgp-signature"; boundary=...
//   --boundary
//   <the signed entity, byte for byte what the signature covers>
//   --boundary
//   Content-Type: application/pgp-signature        (the armoured detached signature)
//   --boundary--
import { randomBytes } from 'node:crypto';

export interface PgpSignedBody {
  contentType: string;
  /** The multipart body, CRLF line ends. */
  body: Buffer;
}

/**
 * `signedEntity` must be exactly the octets the signature was made over: the CRLF that precedes the
 * next delimiter belongs to the delimiter (RFC 2046 §5.1.1), so it is not part of the signed data.
 * `micalg` names the signature's hash as RFC 3156 §5 spells it ("pgp-sha256").
 */
export function pgpSignedBody(signedEntity: Buffer, armoredSignature: string, micalg: string): PgpSignedBody {
  // '.' never starts a line of a quoted-printable or base64 body, and the random part cannot be guessed
  // by whoever wrote the message: the boundary cannot occur inside the signed entity.
  const boundary = `kp.${randomBytes(12).toString('hex')}`;
  const head = ['This is an OpenPGP/MIME signed message (RFC 3156).', '', `--${boundary}`, ''].join('\r\n');
  const tail = [
    '',
    `--${boundary}`,
    'Content-Type: application/pgp-signature; name="signature.asc"',
    'Content-Description: OpenPGP digital signature',
    'Content-Disposition: attachment; filename="signature.asc"',
    '',
    armoredSignature.replace(/\r?\n/g, '\r\n').trimEnd(),
    '',
    `--${boundary}--`,
    '',
  ].join('\r\n');
  return {
    contentType: `multipart/signed; micalg=${micalg};\r\n protocol="application/pgp-signature";\r\n boundary="${boundary}"`,
    body: Buffer.concat([Buffer.from(head, 'latin1'), signedEntity, Buffer.from(tail, 'latin1')]),
  };
}

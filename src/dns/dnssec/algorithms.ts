// The two DNSSEC signing algorithms keypost offers, both through node:crypto (RFC 8624 §3.1:
// 13 is the recommended default, 15 is recommended too):
//   13 ECDSA P-256/SHA-256 (RFC 6605): public key x‖y (64 octets), signature r‖s (64 octets);
//   15 Ed25519 (RFC 8080): public key 32 octets, signature 64 octets.
import { createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

export const DNSSEC_ALGORITHMS = [13, 15] as const;
export type DnssecAlgorithm = (typeof DNSSEC_ALGORITHMS)[number];
export const DEFAULT_DNSSEC_ALGORITHM: DnssecAlgorithm = 13;

export function isDnssecAlgorithm(n: number): n is DnssecAlgorithm {
  return (DNSSEC_ALGORITHMS as readonly number[]).includes(n);
}

export interface GeneratedKey {
  /** The DNSKEY public key field. */
  publicKey: Buffer;
  /** PKCS #8 DER, to be sealed before it is stored. */
  privateKeyDer: Buffer;
}

/** The DNSKEY public key field of a key pair (RFC 6605 §4: no 0x04 point prefix). */
function publicKeyField(algorithm: DnssecAlgorithm, key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  const x = Buffer.from(jwk.x!, 'base64url');
  return algorithm === 13 ? Buffer.concat([x, Buffer.from(jwk.y!, 'base64url')]) : x;
}

export function generateSigningKey(algorithm: DnssecAlgorithm): GeneratedKey {
  const pair = algorithm === 13 ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  return {
    publicKey: publicKeyField(algorithm, pair.publicKey),
    privateKeyDer: pair.privateKey.export({ format: 'der', type: 'pkcs8' }),
  };
}

/** A prebuilt KeyObject: parsing the DER once keeps each signature to the signing itself. */
export function importPrivateKey(der: Buffer): KeyObject {
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

export function signData(algorithm: DnssecAlgorithm, key: KeyObject, data: Buffer): Buffer {
  return algorithm === 13 ? sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }) : sign(null, data, key);
}

// Signed tree heads: a zone log's size, root hash and time, signed with the zone's Ed25519 log key
// (RFC 8032). What is signed is fixed octets, so any Ed25519 library can check a head:
//
//   "keypost tree head v1" ‖ 0x00 ‖ u8 zone length ‖ zone ‖ u64 tree size ‖ u64 time (ms) ‖ root (32)
//
// The head is published as TXT at `_keypost-log.<zone>` (signed by DNSSEC where the zone is):
//
//   v=kpl1; n=<tree size>; root=<base64 root>; t=<ms since the epoch>; sig=<base64>; key=<base64>
//
// with the same grammar rules as kp1 (src/protocol/kp1.ts): `;`-separated fields, the first one
// `v=kpl1`, each field once, unknown fields ignored. This module is pure: the auditor and the
// sender's client import it.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { HASH_SIZE } from './merkle.js';

export const STH_OWNER_LABEL = '_keypost-log';
const CONTEXT = Buffer.from('keypost tree head v1\0', 'ascii');
// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4), before the 32 key octets.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface SignedTreeHead {
  zone: string;
  size: number;
  /** Milliseconds since the epoch. */
  time: number;
  root: Buffer;
  signature: Buffer;
  /** The zone's Ed25519 log key, 32 octets. */
  publicKey: Buffer;
}

/** The octets an STH signature covers. */
export function treeHeadMessage(zone: string, size: number, time: number, root: Uint8Array): Buffer {
  if (root.length !== HASH_SIZE) throw new RangeError('a root hash is 32 octets');
  const numbers = Buffer.alloc(16);
  numbers.writeBigUInt64BE(BigInt(size), 0);
  numbers.writeBigUInt64BE(BigInt(time), 8);
  const name = Buffer.from(zone, 'ascii');
  return Buffer.concat([CONTEXT, Buffer.of(name.length), name, numbers, root]);
}

export interface LogKeyPair {
  publicKey: Buffer;
  /** PKCS #8 DER. */
  privateKeyDer: Buffer;
}

export function generateLogKey(): LogKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return { publicKey: Buffer.from(spki.subarray(ED25519_SPKI_PREFIX.length)), privateKeyDer: privateKey.export({ format: 'der', type: 'pkcs8' }) };
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function signTreeHead(
  key: LogKeyPair,
  head: { zone: string; size: number; time: number; root: Buffer },
): SignedTreeHead {
  const privateKey = createPrivateKey({ key: key.privateKeyDer, format: 'der', type: 'pkcs8' });
  const signature = sign(null, treeHeadMessage(head.zone, head.size, head.time, head.root), privateKey);
  return { ...head, signature, publicKey: key.publicKey };
}

/** Whether the head's signature verifies under `publicKey` (the pinned key; the head's own by default). */
export function verifyTreeHead(head: SignedTreeHead, publicKey: Uint8Array = head.publicKey): boolean {
  if (publicKey.length !== 32 || head.signature.length !== 64 || head.root.length !== HASH_SIZE) return false;
  try {
    return verify(null, treeHeadMessage(head.zone, head.size, head.time, head.root), publicKeyObject(publicKey), head.signature);
  } catch {
    return false;
  }
}

/** The TXT text of a head. */
export function formatTreeHeadText(head: SignedTreeHead): string {
  const b64 = (b: Buffer) => b.toString('base64');
  return `v=kpl1; n=${head.size}; root=${b64(head.root)}; t=${head.time}; sig=${b64(head.signature)}; key=${b64(head.publicKey)}`;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

/** Reads a `_keypost-log` TXT; undefined when it is not a kpl1 record or breaks the grammar. */
export function parseTreeHeadText(zone: string, text: string): SignedTreeHead | undefined {
  const fields = new Map<string, string>();
  const parts = text.split(';').map((p) => p.trim());
  if (parts.at(-1) === '') parts.pop();
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    const name = part.slice(0, eq);
    if (fields.has(name)) return undefined;
    fields.set(name, part.slice(eq + 1));
  }
  if (parts[0] !== 'v=kpl1') return undefined;
  const n = fields.get('n');
  const t = fields.get('t');
  const [root, sig, key] = ['root', 'sig', 'key'].map((f) => {
    const v = fields.get(f);
    return v && BASE64.test(v) ? Buffer.from(v, 'base64') : undefined;
  });
  if (!n || !DECIMAL.test(n) || !t || !DECIMAL.test(t) || !root || !sig || !key) return undefined;
  if (root.length !== HASH_SIZE || sig.length !== 64 || key.length !== 32) return undefined;
  return { zone, size: Number(n), time: Number(t), root, signature: sig, publicKey: key };
}

// Keys for directory tests, made with openpgp.js, plus packet-level crafting for what openpgp.js
// refuses to produce (v3 keys, oversized packets, user attributes, flooded keys).
import { generateKeyPairSync } from 'node:crypto';
import * as openpgp from 'openpgp';
import { readPackets, type RawPacket } from '../../src/keys/packet-limits.js';

export interface TestKey {
  privateKey: openpgp.PrivateKey;
  publicKey: openpgp.PublicKey;
  armored: string;
  binary: Uint8Array;
  fingerprint: string;
}

export type KeyOptions = Partial<Parameters<typeof openpgp.generateKey>[0]> & { emails?: string[] };

/** An ed25519 key (unless `type` says otherwise) with one user ID per address. */
export async function makeKey(options: KeyOptions = {}): Promise<TestKey> {
  const { emails = ['alice@example.org'], ...rest } = options;
  const { privateKey } = await openpgp.generateKey({
    type: 'ecc',
    userIDs: emails.map((email, i) => ({ name: `User ${i}`, email })),
    format: 'object',
    ...rest,
  } as Parameters<typeof openpgp.generateKey>[0] & { format: 'object' });
  return fromPrivate(privateKey);
}

export function fromPrivate(privateKey: openpgp.PrivateKey): TestKey {
  const publicKey = privateKey.toPublic();
  return {
    privateKey,
    publicKey,
    armored: publicKey.armor(),
    binary: publicKey.write(),
    fingerprint: publicKey.getFingerprint().toUpperCase(),
  };
}

/** A new-format packet (RFC 9580 §4.2.1) with a five-octet length, valid for any size. */
export function packet(tag: number, body: Uint8Array): Uint8Array {
  const header = Buffer.alloc(6);
  header[0] = 0xc0 | tag;
  header[1] = 255;
  header.writeUInt32BE(body.length, 2);
  return Buffer.concat([header, body]);
}

export function packetsOf(bytes: Uint8Array): RawPacket[] {
  return readPackets(bytes);
}

/** Inserts `extra` right after packet number `index` (0 = after the primary key). */
export function insertAfter(bytes: Uint8Array, index: number, extra: Uint8Array): Uint8Array {
  const packets = readPackets(bytes);
  return Buffer.concat([...packets.slice(0, index + 1).map((p) => p.raw), extra, ...packets.slice(index + 1).map((p) => p.raw)]);
}

function mpi(bytes: Uint8Array): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const value = Buffer.from(bytes.subarray(start));
  const bits = (value.length - 1) * 8 + (32 - Math.clz32(value[0]));
  const head = Buffer.alloc(2);
  head.writeUInt16BE(bits);
  return Buffer.concat([head, value]);
}

/** A version 3 RSA key (RFC 1991 / RFC 4880 §5.5.2) with a user ID and a v3 certification. */
export function craftV3Key(): Uint8Array {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const jwk = publicKey.export({ format: 'jwk' });
  const n = Buffer.from(jwk.n!, 'base64url');
  const e = Buffer.from(jwk.e!, 'base64url');
  const created = Buffer.alloc(4);
  created.writeUInt32BE(Math.floor(Date.now() / 1000) - 86400);
  const keyBody = Buffer.concat([Buffer.from([3]), created, Buffer.from([0, 0, 1]), mpi(n), mpi(e)]);
  const userId = Buffer.from('Old Timer <v3@example.org>');
  // v3 signature: version, hashed length 5, class 0x13, time, issuer, RSA, MD5, left16, MPI.
  const sigBody = Buffer.concat([
    Buffer.from([3, 5, 0x13]),
    created,
    n.subarray(n.length - 8),
    Buffer.from([1, 1, 0xab, 0xcd]),
    mpi(Buffer.alloc(128, 7)),
  ]);
  // Legacy packet headers (ctb with two length octets), as PGP 2.6 wrote them.
  const legacy = (tag: number, body: Buffer) => {
    const header = Buffer.from([0x80 | (tag << 2) | 1, 0, 0]);
    header.writeUInt16BE(body.length, 1);
    return Buffer.concat([header, body]);
  };
  return Buffer.concat([legacy(6, keyBody), legacy(13, userId), legacy(2, sigBody)]);
}

/**
 * Certifies the first user ID of `target` `count` times with `certifiers` (round robin, each
 * signature a second apart so all differ), the way the 2019 SKS flooding attack did. The
 * certifiers must exist two days back (see makeKey's `date`).
 */
export async function floodWithCertifications(target: TestKey, certifiers: TestKey[], count: number): Promise<Uint8Array> {
  const key = target.publicKey;
  const user = key.users[0];
  const signatures: openpgp.SignaturePacket[] = [];
  const base = Date.now() - 2 * 86400_000;
  for (let i = 0; i < count; i++) {
    const certifier = certifiers[i % certifiers.length];
    const certified = await user.certify([certifier.privateKey], new Date(base + i * 1000), openpgp.config);
    signatures.push(...certified.otherCertifications);
  }
  const flooded = await openpgp.readKey({ binaryKey: target.binary });
  flooded.users[0].otherCertifications = signatures;
  return flooded.write();
}

export function countTag(bytes: Uint8Array, tag: number): number {
  return readPackets(bytes).filter((p) => p.tag === tag).length;
}

/**
 * A copy of a v4 signature packet (`raw`, header included) claiming another creation time: the
 * hashed Signature Creation Time subpacket (RFC 9580 §5.2.3.11) is rewritten, so the copy looks
 * newer but no longer verifies. What an attacker without the secret key can make at will.
 */
export function retimedSignature(raw: Uint8Array, created: Date): Uint8Array {
  const [sig] = readPackets(raw);
  const body = Buffer.from(sig.body);
  if (body[0] !== 4) throw new Error('retimedSignature handles v4 signatures only');
  const hashedEnd = 6 + body.readUInt16BE(4);
  for (let pos = 6; pos < hashedEnd; ) {
    const length = body[pos];
    if (length >= 192) throw new Error('retimedSignature expects one-octet subpacket lengths');
    if ((body[pos + 1] & 0x7f) === 2) {
      body.writeUInt32BE(Math.floor(created.getTime() / 1000), pos + 2);
      return packet(2, body);
    }
    pos += 1 + length;
  }
  throw new Error('no hashed creation time subpacket');
}

/** The raw signature packets that follow packet number `index` until the next non-signature. */
export function signaturesAfter(bytes: Uint8Array, index: number): RawPacket[] {
  const packets = readPackets(bytes);
  const out: RawPacket[] = [];
  for (let i = index + 1; i < packets.length && packets[i].tag === 2; i++) out.push(packets[i]);
  return out;
}

/** Index of the first packet with `tag` (after `from`). */
export function indexOfTag(bytes: Uint8Array, tag: number, from = 0): number {
  const i = readPackets(bytes).findIndex((p, n) => n >= from && p.tag === tag);
  if (i < 0) throw new Error(`no packet with tag ${tag}`);
  return i;
}

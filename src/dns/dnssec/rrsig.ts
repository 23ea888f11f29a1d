// RRSIG RDATA (RFC 4034 §3.1): type covered, algorithm, labels, original TTL, expiration,
// inception (RFC 1982 serial arithmetic on 32-bit seconds), key tag, signer name (uncompressed,
// lowercase), signature.
import type { KeyObject } from 'node:crypto';
import { signData, type DnssecAlgorithm } from './algorithms.js';
import { signedData } from './canonical.js';

export interface RrsigKey {
  algorithm: DnssecAlgorithm;
  keyTag: number;
  privateKey: KeyObject;
}

export interface RrsigFields {
  /** Owner in canonical form: lowercased, uncompressed wire. */
  ownerWire: Buffer;
  type: number;
  originalTtl: number;
  inception: number;
  expiration: number;
  /** The zone apex, lowercased wire. */
  signerWire: Buffer;
}

/**
 * RFC 4034 §3.1.3: the owner's labels, not counting the root or a leftmost `*` (which marks a
 * wildcard owner).
 */
export function labelCount(ownerWire: Buffer): number {
  let count = 0;
  for (let o = 0; ownerWire[o] !== 0; o += ownerWire[o] + 1) count++;
  return ownerWire[0] === 1 && ownerWire[1] === 0x2a ? count - 1 : count;
}

export function rrsigRdata(key: RrsigKey, f: RrsigFields, rdatas: readonly Buffer[]): Buffer {
  const head = Buffer.allocUnsafe(18 + f.signerWire.length);
  head.writeUInt16BE(f.type, 0);
  head[2] = key.algorithm;
  head[3] = labelCount(f.ownerWire);
  head.writeUInt32BE(f.originalTtl >>> 0, 4);
  head.writeUInt32BE(f.expiration >>> 0, 8);
  head.writeUInt32BE(f.inception >>> 0, 12);
  head.writeUInt16BE(key.keyTag, 16);
  f.signerWire.copy(head, 18);
  const signature = signData(key.algorithm, key.privateKey, signedData(head, f.ownerWire, f.type, f.originalTtl, rdatas));
  return Buffer.concat([head, signature]);
}

// The log leaf: a canonical, versioned, byte-exact record of one change to what DNS and the
// directory serve for an address. README.md ("Key transparency log") documents the same layout
// for independent verifiers; a change here is a new version, never an edit of version 1.
//
//   version      u8    1
//   action       u8    1 = publish (served with this key and settings), 2 = withdraw
//   sequence     u64   per address: 1 for its first leaf, +1 for each later one
//   time         u64   milliseconds since 1970-01-01T00:00:00Z when the change was logged
//   zone         u8 length ‖ zone apex, ASCII lowercase, no trailing dot
//   label        28    the address's DNS label: SHA-256 of the lowercased local part, truncated
//                      to 28 octets (RFC 7929 §3), as under _openpgpkey and _keypost
//   fingerprint  u8 length ‖ primary key fingerprint (20 octets v4, 32 octets v6)
//   key hash     32    SHA-256 of the served minimal key (binary transferable public key)
//   ep           u16 length ‖ UTF-8 endpoint URI; length 0 = none of its own (the zone's applies)
//   pow          u8    0 = none of its own (the zone's applies), 1 = present; then u8 bits (0 if absent)
//
// All integers big-endian (network order). Nothing follows the last field: a decoder refuses
// trailing octets, unknown versions and actions, so one change has exactly one encoding.
import { createHash } from 'node:crypto';

export const LEAF_VERSION = 1;
export const LABEL_SIZE = 28;
const KEY_HASH_SIZE = 32;

export type LeafAction = 'publish' | 'withdraw';
const ACTION_CODE: Record<LeafAction, number> = { publish: 1, withdraw: 2 };
const ACTION_OF = new Map<number, LeafAction>(Object.entries(ACTION_CODE).map(([k, v]) => [v, k as LeafAction]));

export interface LogLeaf {
  action: LeafAction;
  sequence: number;
  /** Milliseconds since the epoch. */
  time: number;
  zone: string;
  /** 28 octets: RFC 7929 §3 label of the local part. */
  label: Buffer;
  /** Uppercase hex. */
  fingerprint: string;
  /** SHA-256 of the served minimal key. */
  keyHash: Buffer;
  /** The address's own endpoint; null = the zone's applies. */
  endpoint: string | null;
  /** The address's own stamp price; null = the zone's applies. */
  powBits: number | null;
}

export class LeafFormatError extends Error {}

/** SHA-256 of the served minimal key, as the leaf records it. */
export function servedKeyHash(minimalKey: Uint8Array): Buffer {
  return createHash('sha256').update(minimalKey).digest();
}

/** The 28-octet label of an address as the leaf records it, from the 56-hex DNS label. */
export function labelOctets(hexLabel: string): Buffer {
  if (!/^[0-9a-f]{56}$/.test(hexLabel)) throw new LeafFormatError(`${hexLabel} is not a 56-hex address label`);
  return Buffer.from(hexLabel, 'hex');
}

function u64(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new LeafFormatError(`${n} is not a non-negative integer`);
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

function short(bytes: Buffer, what: string, max: number, width: 1 | 2): Buffer {
  if (bytes.length > max) throw new LeafFormatError(`${what} is longer than ${max} octets`);
  const len = Buffer.alloc(width);
  if (width === 1) len.writeUInt8(bytes.length);
  else len.writeUInt16BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

export function encodeLeaf(leaf: LogLeaf): Buffer {
  if (leaf.label.length !== LABEL_SIZE) throw new LeafFormatError('the label must be 28 octets');
  if (leaf.keyHash.length !== KEY_HASH_SIZE) throw new LeafFormatError('the key hash must be 32 octets');
  if (!/^([0-9A-F]{40}|[0-9A-F]{64})$/.test(leaf.fingerprint)) throw new LeafFormatError(`${leaf.fingerprint} is not an uppercase v4 or v6 fingerprint`);
  if (!/^[a-z0-9.-]{1,253}$/.test(leaf.zone)) throw new LeafFormatError(`${leaf.zone} is not a lowercase zone name`);
  if (leaf.powBits !== null && (!Number.isInteger(leaf.powBits) || leaf.powBits < 0 || leaf.powBits > 255)) {
    throw new LeafFormatError(`pow ${leaf.powBits} does not fit an octet`);
  }
  if (leaf.endpoint === '') throw new LeafFormatError('an empty endpoint is written as none');
  return Buffer.concat([
    Buffer.of(LEAF_VERSION, ACTION_CODE[leaf.action]),
    u64(leaf.sequence),
    u64(leaf.time),
    short(Buffer.from(leaf.zone, 'ascii'), 'the zone', 255, 1),
    leaf.label,
    short(Buffer.from(leaf.fingerprint, 'hex'), 'the fingerprint', 255, 1),
    leaf.keyHash,
    short(Buffer.from(leaf.endpoint ?? '', 'utf8'), 'the endpoint', 0xffff, 2),
    leaf.powBits === null ? Buffer.of(0, 0) : Buffer.of(1, leaf.powBits),
  ]);
}

/** Reads a leaf; throws LeafFormatError on anything that is not exactly one canonical leaf. */
export function decodeLeaf(bytes: Uint8Array): LogLeaf {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const take = (n: number): Buffer => {
    if (at + n > b.length) throw new LeafFormatError('the leaf is truncated');
    const out = b.subarray(at, at + n);
    at += n;
    return out;
  };
  const version = take(1)[0];
  if (version !== LEAF_VERSION) throw new LeafFormatError(`leaf version ${version} is not known`);
  const action = ACTION_OF.get(take(1)[0]);
  if (!action) throw new LeafFormatError('the leaf action is not known');
  const sequence = Number(take(8).readBigUInt64BE());
  const time = Number(take(8).readBigUInt64BE());
  const zone = take(take(1)[0]).toString('ascii');
  const label = Buffer.from(take(LABEL_SIZE));
  const fingerprint = take(take(1)[0]).toString('hex').toUpperCase();
  const keyHash = Buffer.from(take(KEY_HASH_SIZE));
  const ep = take(take(2).readUInt16BE()).toString('utf8');
  const [hasPow, bits] = take(2);
  if (hasPow > 1 || (hasPow === 0 && bits !== 0)) throw new LeafFormatError('the pow field is not canonical');
  if (at !== b.length) throw new LeafFormatError('octets follow the leaf');
  const leaf: LogLeaf = { action, sequence, time, zone, label, fingerprint, keyHash, endpoint: ep === '' ? null : ep, powBits: hasPow ? bits : null };
  // Re-encoding proves the fields were canonical (valid UTF-8, lowercase zone, known lengths).
  if (!encodeLeaf(leaf).equals(b)) throw new LeafFormatError('the leaf is not in canonical form');
  return leaf;
}

/** Whether two leaves record the same served state (what a new leaf is needed to change). */
export function sameServedState(a: Omit<LogLeaf, 'sequence' | 'time'>, b: Omit<LogLeaf, 'sequence' | 'time'>): boolean {
  return (
    a.action === b.action &&
    a.zone === b.zone &&
    a.label.equals(b.label) &&
    a.fingerprint === b.fingerprint &&
    a.keyHash.equals(b.keyHash) &&
    a.endpoint === b.endpoint &&
    a.powBits === b.powBits
  );
}

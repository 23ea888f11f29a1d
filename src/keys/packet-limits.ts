// OpenPGP packet framing and the abuse limits of the key policy, applied to raw bytes before any
// parsing or signature checking by openpgp.js. The 2019 certificate-flooding attack
// (CVE-2019-13050) made keys so large that clients spent minutes on them; every limit here is
// decided by reading packet headers only, so a hostile upload costs one linear scan.

/** Limits of an abuse-resistant key policy, as Hagrid and Hockeypuck apply them. */
export const KEY_LIMITS = Object.freeze({
  /** Whole upload, armoured or binary (VKS uploads are ≤ 1 MiB). */
  maxInputBytes: 1024 * 1024,
  /** Any packet body except signatures and user attributes. */
  maxPacketBytes: 8 * 1024,
  /** Signature packets may be larger: post-quantum signatures reach tens of KiB. */
  maxSignaturePacketBytes: 64 * 1024,
  maxUserIds: 20,
  maxSubkeys: 20,
});

/** Packet tags of RFC 9580 §5 that occur in transferable keys. */
export const TAG = Object.freeze({
  signature: 2,
  secretKey: 5,
  publicKey: 6,
  secretSubkey: 7,
  marker: 10,
  trust: 12,
  userId: 13,
  publicSubkey: 14,
  userAttribute: 17,
});

export interface RawPacket {
  tag: number;
  /** Header and body, exactly as they appeared in the input. */
  raw: Uint8Array;
  body: Uint8Array;
}

/** Thrown by readPackets on framing that is not OpenPGP; callers turn it into a typed result. */
export class PacketFormatError extends Error {}

/**
 * Splits bytes into packets (RFC 9580 §4.2). Partial body lengths and the old format's
 * indeterminate length are refused: they are only allowed in data packets (§4.2.1.4), never in keys.
 */
export function readPackets(bytes: Uint8Array): RawPacket[] {
  const packets: RawPacket[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const start = pos;
    const ctb = bytes[pos++];
    if ((ctb & 0x80) === 0) throw new PacketFormatError(`not a packet header at offset ${start}`);
    let tag: number;
    let length: number;
    if (ctb & 0x40) {
      // New format: one, two or five length octets (§4.2.1).
      tag = ctb & 0x3f;
      const first = bytes[pos++];
      if (first === undefined) throw new PacketFormatError('truncated packet header');
      if (first < 192) length = first;
      else if (first < 224) {
        if (pos >= bytes.length) throw new PacketFormatError('truncated packet header');
        length = ((first - 192) << 8) + bytes[pos++] + 192;
      } else if (first === 255) {
        if (pos + 4 > bytes.length) throw new PacketFormatError('truncated packet header');
        length = ((bytes[pos] << 24) | (bytes[pos + 1] << 16) | (bytes[pos + 2] << 8) | bytes[pos + 3]) >>> 0;
        pos += 4;
      } else throw new PacketFormatError('partial body length in a key packet');
    } else {
      // Legacy format (§4.2.2): tag in bits 5-2, length type in bits 1-0.
      tag = (ctb >> 2) & 0x0f;
      const lengthType = ctb & 0x03;
      if (lengthType === 3) throw new PacketFormatError('indeterminate length in a key packet');
      const octets = 1 << lengthType;
      if (pos + octets > bytes.length) throw new PacketFormatError('truncated packet header');
      length = 0;
      for (let i = 0; i < octets; i++) length = length * 256 + bytes[pos + i];
      pos += octets;
    }
    if (pos + length > bytes.length) throw new PacketFormatError('packet longer than the input');
    packets.push({ tag, raw: bytes.subarray(start, pos + length), body: bytes.subarray(pos, pos + length) });
    pos += length;
  }
  return packets;
}

export type ScanProblem = { code: string; reason: string };

export interface ScannedKey {
  /**
   * The packets openpgp.js should see: marker and trust packets dropped (they are local GnuPG
   * bookkeeping), user attributes and the signatures over them dropped (policy strips them, and a
   * photo is the one packet that may legitimately exceed the size limit).
   */
  packets: RawPacket[];
  primaryVersion: number;
}

function packetLimit(tag: number): number {
  return tag === TAG.signature ? KEY_LIMITS.maxSignaturePacketBytes : KEY_LIMITS.maxPacketBytes;
}

/**
 * Checks the structure of one transferable public key (RFC 9580 §10.1) against the limits, by
 * headers and version octets only. Returns the problem, or the packets to hand to the parser.
 */
export function scanTransferableKey(bytes: Uint8Array): ScannedKey | ScanProblem {
  let packets: RawPacket[];
  try {
    packets = readPackets(bytes);
  } catch (err) {
    return { code: 'DIR_KEY_UNPARSABLE', reason: `not an OpenPGP key: ${(err as Error).message}` };
  }
  packets = packets.filter((p) => p.tag !== TAG.marker && p.tag !== TAG.trust);
  if (packets.length === 0) return { code: 'DIR_KEY_UNPARSABLE', reason: 'no OpenPGP packets in the input' };

  if (packets.some((p) => p.tag === TAG.secretKey || p.tag === TAG.secretSubkey)) {
    return { code: 'DIR_KEY_SECRET', reason: 'this is a secret key; upload only the public key (gpg --export, not --export-secret-keys)' };
  }
  const primaries = packets.filter((p) => p.tag === TAG.publicKey).length;
  if (packets[0].tag !== TAG.publicKey) {
    return { code: 'DIR_KEY_UNPARSABLE', reason: 'the input does not start with a public key packet' };
  }
  if (primaries > 1) {
    return { code: 'DIR_KEY_MULTIPLE', reason: `the input holds ${primaries} keys; upload one key at a time` };
  }

  let userIds = 0;
  let subkeys = 0;
  let inAttribute = false;
  const kept: RawPacket[] = [];
  for (const packet of packets) {
    if (packet.tag === TAG.userId) userIds++;
    if (packet.tag === TAG.publicSubkey) subkeys++;
    // Signatures after a user attribute certify the attribute; they go with it.
    if (packet.tag === TAG.userAttribute) inAttribute = true;
    else if (packet.tag !== TAG.signature) inAttribute = false;
    if (inAttribute) continue;
    if (packet.body.length > packetLimit(packet.tag)) {
      return {
        code: 'DIR_KEY_PACKET_TOO_LARGE',
        reason: `a packet of type ${packet.tag} has ${packet.body.length} bytes; the limit is ${packetLimit(packet.tag)}`,
      };
    }
    kept.push(packet);
  }
  if (userIds > KEY_LIMITS.maxUserIds) {
    return { code: 'DIR_KEY_TOO_MANY_USER_IDS', reason: `the key has ${userIds} user IDs; the limit is ${KEY_LIMITS.maxUserIds}` };
  }
  if (subkeys > KEY_LIMITS.maxSubkeys) {
    return { code: 'DIR_KEY_TOO_MANY_SUBKEYS', reason: `the key has ${subkeys} subkeys; the limit is ${KEY_LIMITS.maxSubkeys}` };
  }

  // Key packet version (RFC 9580 §5.5.2): 2 and 3 are the deprecated v3 format (MD5 fingerprints,
  // forgeable key IDs); 5 was never standardised. Only 4 and 6 are accepted.
  for (const packet of kept) {
    if (packet.tag !== TAG.publicKey && packet.tag !== TAG.publicSubkey) continue;
    const version = packet.body[0];
    if (version === 2 || version === 3) {
      return { code: 'DIR_KEY_WEAK_ALGORITHM', reason: 'version 3 keys are not accepted (RFC 9580 §5.5.2: deprecated, key IDs can be forged)' };
    }
    if (version !== 4 && version !== 6) {
      return { code: 'DIR_KEY_UNPARSABLE', reason: `unsupported key packet version ${version}` };
    }
  }
  return { packets: kept, primaryVersion: kept[0].body[0] };
}

/** Concatenates packets back into one binary block. */
export function concatPackets(packets: RawPacket[]): Uint8Array {
  return Buffer.concat(packets.map((p) => p.raw));
}

/**
 * Splits a binary keyring into one byte block per primary key, for bulk import, without judging
 * the keys (each block then goes through checkKey). Framing errors throw PacketFormatError.
 */
export function splitKeyring(bytes: Uint8Array): Uint8Array[] {
  const blocks: RawPacket[][] = [];
  for (const packet of readPackets(bytes)) {
    if (packet.tag === TAG.publicKey || packet.tag === TAG.secretKey || blocks.length === 0) blocks.push([]);
    blocks[blocks.length - 1].push(packet);
  }
  return blocks.map(concatPackets);
}

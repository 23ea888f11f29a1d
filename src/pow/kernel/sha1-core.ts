// SHA-1 in plain JavaScript (FIPS 180-4 §6.1), for what needs it outside node:crypto: the midstate
// of a stamp's fixed prefix blocks, the JS search fallback, and checks inside a browser worker.
// Words are 32-bit big-endian (§3.1); the state is kept as unsigned 32-bit numbers.

/** Initial hash value H(0) (§5.3.1). */
export const SHA1_INIT: readonly number[] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];

/** The round constant K_t (§4.2.1): one per 20 rounds. */
export function roundConstant(t: number): number {
  return t < 20 ? 0x5a827999 : t < 40 ? 0x6ed9eba1 : t < 60 ? 0x8f1bbcdc : 0xca62c1d6;
}

/** The round function f_t(b, c, d) (§4.1.1): Ch, Parity, Maj, Parity. */
export function roundFunction(t: number, b: number, c: number, d: number): number {
  if (t < 20) return (b & c) | (~b & d);
  if (t >= 40 && t < 60) return (b & c) | (b & d) | (c & d);
  return b ^ c ^ d;
}

export function rotl(x: number, n: number): number {
  return (x << n) | (x >>> (32 - n));
}

/** The big-endian word at `offset` of `bytes`. */
export function readWord(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;
}

/** Compresses one 64-octet block (16 words) into `state` (5 words), in place (§6.1.2). */
export function compress(state: Uint32Array, block: ArrayLike<number>): void {
  const w = new Uint32Array(80);
  for (let t = 0; t < 16; t++) w[t] = block[t];
  for (let t = 16; t < 80; t++) w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
  let a = state[0];
  let b = state[1];
  let c = state[2];
  let d = state[3];
  let e = state[4];
  for (let t = 0; t < 80; t++) {
    const temp = (rotl(a, 5) + roundFunction(t, b, c, d) + e + roundConstant(t) + w[t]) | 0;
    e = d;
    d = c;
    c = rotl(b, 30);
    b = a;
    a = temp;
  }
  state[0] += a;
  state[1] += b;
  state[2] += c;
  state[3] += d;
  state[4] += e;
}

/** The 16 words of block `index` of `bytes` (which must hold that whole block). */
export function blockWords(bytes: Uint8Array, index: number): Uint32Array {
  const words = new Uint32Array(16);
  for (let i = 0; i < 16; i++) words[i] = readWord(bytes, index * 64 + i * 4);
  return words;
}

/** The state after the first `blocks` whole 64-octet blocks of `bytes` (no padding involved). */
export function midstate(bytes: Uint8Array, blocks: number): Uint32Array {
  const state = Uint32Array.from(SHA1_INIT);
  for (let i = 0; i < blocks; i++) compress(state, blockWords(bytes, i));
  return state;
}

/** SHA-1 of `message` (20 octets), with the padding of §5.1.1. */
export function sha1Digest(message: Uint8Array): Uint8Array {
  const blocks = Math.ceil((message.length + 9) / 64);
  const padded = new Uint8Array(blocks * 64);
  padded.set(message);
  padded[message.length] = 0x80;
  // The length in bits as a 64-bit big-endian number; messages here are far below 2^32 bits, but the
  // high word is written anyway so no length is silently wrong.
  const bitLength = message.length * 8;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bitLength / 2 ** 32));
  view.setUint32(padded.length - 4, bitLength >>> 0);
  const state = midstate(padded, blocks);
  const digest = new Uint8Array(20);
  const out = new DataView(digest.buffer);
  for (let i = 0; i < 5; i++) out.setUint32(i * 4, state[i]);
  return digest;
}

/** Number of leading zero bits of `digest`, most significant bit of the first octet first. */
export function leadingZeroBits(digest: Uint8Array): number {
  let bits = 0;
  for (let i = 0; i < digest.length; i++) {
    const byte = digest[i];
    // clz32 counts over 32 bits; an octet sits in the low 8.
    if (byte !== 0) return bits + Math.clz32(byte) - 24;
    bits += 8;
  }
  return bits;
}

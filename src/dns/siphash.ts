// SipHash-2-4 (Aumasson and Bernstein, 2012): the keyed 64-bit hash RFC 9018 §4.4 prescribes for
// DNS server cookies. BigInt keeps the 64-bit arithmetic plain; it runs only for queries that
// carry a cookie, never on the cookie-less fast path.
const MASK = 0xffffffffffffffffn;

const rotl = (x: bigint, b: bigint): bigint => ((x << b) | (x >> (64n - b))) & MASK;

function readLE64(bytes: Uint8Array, o: number): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(bytes[o + i]);
  return v;
}

/** SipHash-2-4 of `message` under the 16-octet `key`, as 8 octets (little-endian, as the reference). */
export function siphash24(key: Uint8Array, message: Uint8Array): Buffer {
  if (key.length !== 16) throw new RangeError('SipHash key must be 16 octets');
  const k0 = readLE64(key, 0);
  const k1 = readLE64(key, 8);
  let v0 = k0 ^ 0x736f6d6570736575n;
  let v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n;
  let v3 = k1 ^ 0x7465646279746573n;
  const round = () => {
    v0 = (v0 + v1) & MASK;
    v1 = rotl(v1, 13n) ^ v0;
    v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & MASK;
    v3 = rotl(v3, 16n) ^ v2;
    v0 = (v0 + v3) & MASK;
    v3 = rotl(v3, 21n) ^ v0;
    v2 = (v2 + v1) & MASK;
    v1 = rotl(v1, 17n) ^ v2;
    v2 = rotl(v2, 32n);
  };
  const whole = message.length - (message.length % 8);
  for (let o = 0; o < whole; o += 8) {
    const m = readLE64(message, o);
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  // Last block: the remaining octets, and the message length (mod 256) in the top octet.
  let last = BigInt(message.length & 0xff) << 56n;
  for (let i = message.length - 1; i >= whole; i--) last |= BigInt(message[i]) << BigInt(8 * (i - whole));
  v3 ^= last;
  round();
  round();
  v0 ^= last;
  v2 ^= 0xffn;
  for (let i = 0; i < 4; i++) round();
  let out = v0 ^ v1 ^ v2 ^ v3;
  const digest = Buffer.allocUnsafe(8);
  for (let i = 0; i < 8; i++) {
    digest[i] = Number(out & 0xffn);
    out >>= 8n;
  }
  return digest;
}

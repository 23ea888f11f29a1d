// NSEC type bitmaps (RFC 4034 §4.1.2): for each 256-type window in use, the window number, the
// length of its bitmap (1-32 octets, trailing zero octets left off) and the bitmap, where type
// N of the window is bit (N mod 256), most significant bit first.
export function typeBitmap(types: Iterable<number>): Buffer {
  const windows = new Map<number, Uint8Array>();
  for (const type of types) {
    const window = type >> 8;
    let bits = windows.get(window);
    if (!bits) windows.set(window, (bits = new Uint8Array(32)));
    bits[(type & 0xff) >> 3] |= 0x80 >> (type & 7);
  }
  const parts: Buffer[] = [];
  for (const window of [...windows.keys()].sort((a, b) => a - b)) {
    const bits = windows.get(window)!;
    let length = 32;
    while (length > 0 && bits[length - 1] === 0) length--;
    parts.push(Buffer.from([window, length]), Buffer.from(bits.subarray(0, length)));
  }
  return Buffer.concat(parts);
}

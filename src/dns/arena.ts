// Append-only storage for long-lived bytes made a small piece at a time: the encoded RRsets of a
// large build (zone-snapshot.ts), signatures (dnssec/zone-signer.ts). One allocation per chunk
// instead of one small buffer per piece, so 300,000 pieces cost their bytes and a view each, not
// a slab of Node's shared 8 KiB pool each, kept alive by one live slice among short-lived ones.
export class Arena {
  private chunk = Buffer.alloc(0);
  private used = 0;
  constructor(private readonly chunkSize = 1 << 20) {}

  take(size: number): Buffer {
    if (this.used + size > this.chunk.length) {
      this.chunk = Buffer.allocUnsafeSlow(Math.max(this.chunkSize, size));
      this.used = 0;
    }
    const out = this.chunk.subarray(this.used, this.used + size);
    this.used += size;
    return out;
  }
}

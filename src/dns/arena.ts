// Append-only storage for long-lived bytes made a small piece at a time: the encoded RRsets of a
// large build (zone-snapshot.ts), signatures (dnssec/zone-signer.ts). One allocation per chunk
// instead of one small buffer per piece, so 300,000 pieces cost their bytes and a view each, not
// a slab of Node's shared 8 KiB pool each, kept alive by one live slice among short-lived ones.
// A zone's chunks are SharedArrayBuffers (`shared`), so the worker threads that answer queries
// (dns-workers.ts) read the same bytes instead of each holding a copy; what one thread alone
// reads (a signer's own signatures) stays in ordinary memory.
export interface ArenaOptions {
  chunkSize?: number;
  /** Chunks in SharedArrayBuffers, to be read by other threads (shared-chunks.ts names them). */
  shared?: boolean;
}

export class Arena {
  private chunk: Buffer = Buffer.alloc(0);
  private used = 0;
  private readonly chunkSize: number;
  private readonly shared: boolean;

  constructor(options: ArenaOptions = {}) {
    this.chunkSize = options.chunkSize ?? 1 << 20;
    this.shared = options.shared ?? false;
  }

  take(size: number): Buffer {
    if (this.used + size > this.chunk.length) {
      const length = Math.max(this.chunkSize, size);
      this.chunk = this.shared ? Buffer.from(new SharedArrayBuffer(length)) : Buffer.allocUnsafeSlow(length);
      this.used = 0;
    }
    const out = this.chunk.subarray(this.used, this.used + size);
    this.used += size;
    return out;
  }
}

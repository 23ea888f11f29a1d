// Reads the DATA stream of one message while enforcing the limits as the bytes arrive.
//
// smtp-server keeps streaming an oversized message to the handler (it only sets a flag), so the
// gateway counts for itself: once the message goes over SIZE, or a line over the line limit, or the
// process-wide memory budget runs out, the buffered chunks are released and the rest of the stream
// is only counted, so memory stays bounded however much a client sends. The stream is always read
// to its end: the client must get its reply after the terminating dot (RFC 5321 section 4.1.1.4).
import type { Readable } from 'node:stream';

/** Bytes all sessions together may hold; shared by the sessions of one listener. */
export class BufferBudget {
  private used = 0;
  constructor(readonly limit: number) {}
  reserve(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }
  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }
  get inUse(): number {
    return this.used;
  }
}

export type DataOutcome =
  | { ok: true; message: Buffer; release(): void }
  | { ok: false; reason: DataFailure; bytes: number };

/** aborted: the client went away before the terminating dot; there is nobody to reply to. */
export type DataFailure = 'too-big' | 'line-too-long' | 'storage-busy' | 'aborted';

export interface DataLimits {
  maxBytes: number;
  /** Longest line including its CRLF; 0 = unlimited. */
  maxLineLength: number;
  budget: BufferBudget;
}

export function readMessage(stream: Readable, limits: DataLimits): Promise<DataOutcome> {
  return new Promise((resolve) => {
    let chunks: Buffer[] | undefined = [];
    let bytes = 0;
    let reserved = 0;
    let lineLength = 0;
    let failure: DataFailure | undefined;
    let settled = false;

    const drop = (reason: DataFailure) => {
      failure ??= reason;
      chunks = undefined;
      limits.budget.release(reserved);
      reserved = 0;
    };

    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (limits.maxLineLength > 0 && !failure) {
        let from = 0;
        for (;;) {
          const nl = chunk.indexOf(0x0a, from);
          if (nl < 0) {
            lineLength += chunk.length - from;
            break;
          }
          lineLength += nl + 1 - from;
          if (lineLength > limits.maxLineLength) break;
          lineLength = 0;
          from = nl + 1;
        }
        if (lineLength > limits.maxLineLength) drop('line-too-long');
      }
      if (failure) return;
      if (bytes > limits.maxBytes) return drop('too-big');
      if (!limits.budget.reserve(chunk.length)) return drop('storage-busy');
      reserved += chunk.length;
      chunks!.push(chunk);
    });
    const fail = (reason: DataFailure) => {
      if (settled) return;
      settled = true;
      drop(reason);
      resolve({ ok: false, reason: failure ?? reason, bytes });
    };
    stream.on('error', () => fail('aborted'));
    // A stream destroyed because the connection closed emits 'close' without 'end'.
    stream.on('close', () => fail('aborted'));
    stream.on('end', () => {
      if (settled) return;
      if (failure || !chunks) return fail(failure ?? 'too-big');
      settled = true;
      const message = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, bytes);
      const held = reserved;
      let released = false;
      resolve({
        ok: true,
        message,
        release() {
          if (released) return;
          released = true;
          limits.budget.release(held);
        },
      });
    });
  });
}

// Reads the DATA stream of one message while enforcing the limits as the bytes arrive.
//
// smtp-server keeps streaming an oversized message to the handler (it only sets a flag), so the
// gateway counts for itself: once the message goes over SIZE, or a line over the line limit, or the
// process-wide memory budget runs out, the buffered chunks are released and the rest of the stream
// is only counted, so memory stays bounded however much a client sends. The stream is always read
// to its end: the client must get its reply after the terminating dot (RFC 5321 section 4.1.1.4).
import type { Readable } from 'node:stream';
import { headerSectionEnd } from '../smtp/header-section.js';
import { BLOCK_BYTES, type BlockWriter } from './block-store.js';

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
  /** Held whole in memory: a message of at most one block. */
  | { ok: true; message: Buffer; bytes: number; release(): void }
  /**
   * Spilled to block files: `message` is only the header section (what the stamp check and the
   * trace fields need), `blocks` holds the rest, durable once `blocks.finish()` resolves.
   */
  | { ok: true; message: Buffer; bytes: number; blocks: BlockWriter; release(): void }
  | { ok: false; reason: DataFailure; bytes: number };

/**
 * aborted: the client went away before the terminating dot; there is nobody to reply to.
 * storage-failed: a block could not be written (disk full, I/O error).
 */
export type DataFailure = 'too-big' | 'line-too-long' | 'storage-busy' | 'storage-failed' | 'aborted';

export interface DataLimits {
  maxBytes: number;
  /** Longest line including its CRLF; 0 = unlimited. */
  maxLineLength: number;
  budget: BufferBudget;
  /**
   * Where a message longer than one block goes, block by block, as it arrives; without it every
   * message is held in memory (and must fit the budget).
   */
  spill?: () => BlockWriter;
}

/**
 * Reads one message. Up to one block is held in memory; a longer message is spilled: its header
 * section stays in memory and the rest is cut into blocks of exactly BLOCK_BYTES (the last one
 * shorter), each written while the next one fills. When a second block is full before the first
 * is on disk, the stream is paused (smtp-server then stops reading the socket, so TCP pushes back
 * on the client): a session never holds more than about two blocks, whatever the message size.
 */
export function readMessage(stream: Readable, limits: DataLimits): Promise<DataOutcome> {
  return new Promise((resolve) => {
    let chunks: Buffer[] | undefined = [];
    let held = 0;
    let bytes = 0;
    let reserved = 0;
    let lineLength = 0;
    let failure: DataFailure | undefined;
    let settled = false;
    // Spilled state: the header section, the writer, and the block write in flight.
    let head: Buffer | undefined;
    let writer: BlockWriter | undefined;
    let writing: Promise<void> | undefined;
    let ended = false;

    const drop = (reason: DataFailure) => {
      failure ??= reason;
      chunks = undefined;
      held = 0;
      limits.budget.release(reserved);
      reserved = 0;
      if (stream.isPaused()) stream.resume();
    };

    /** Hands one full block (or the last, shorter one) to the writer; resolves once it is on disk. */
    const writeBlock = (block: Buffer[], size: number) => {
      const previous = writing ?? Promise.resolve();
      const run: Promise<void> = previous.then(async () => {
        if (failure) return;
        try {
          await writer!.write(block);
        } catch {
          drop('storage-failed');
        } finally {
          // After a failure drop() has given back everything reserved, this block included.
          if (!failure) {
            limits.budget.release(size);
            reserved -= size;
          }
        }
      });
      writing = run;
      run.then(() => {
        if (writing === run) writing = undefined;
        if (!ended && stream.isPaused()) stream.resume();
      });
    };

    /** Cuts whole blocks off the chunks held; at the end, the remainder too. */
    const cutBlocks = (final: boolean) => {
      while (chunks && (held >= BLOCK_BYTES || (final && held > 0))) {
        const size = Math.min(held, BLOCK_BYTES);
        const block: Buffer[] = [];
        let n = 0;
        while (n < size) {
          const c = chunks.shift()!;
          if (n + c.length <= size) {
            block.push(c);
            n += c.length;
          } else {
            block.push(c.subarray(0, size - n));
            chunks.unshift(c.subarray(size - n));
            n = size;
          }
        }
        held -= size;
        // One block on its way to disk and one filling is the most a session holds: wait for
        // the write before taking more from the client.
        if (writing && !final) stream.pause();
        writeBlock(block, size);
      }
    };

    const startSpill = () => {
      const first = Buffer.concat(chunks!, held);
      const end = Math.min(headerSectionEnd(first), BLOCK_BYTES);
      head = Buffer.from(first.subarray(0, end));
      const rest = first.subarray(end);
      writer = limits.spill!();
      chunks = rest.length ? [rest] : [];
      held = rest.length;
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
      held += chunk.length;
      if (!writer && limits.spill && held > BLOCK_BYTES) startSpill();
      if (writer) cutBlocks(false);
    });
    const fail = (reason: DataFailure) => {
      if (settled) return;
      settled = true;
      ended = true;
      drop(reason);
      const w = writer;
      const after = writing ?? Promise.resolve();
      // The blocks written so far belong to no message: removed once the last write settles.
      if (w) void after.then(() => w.discard()).catch(() => undefined);
      resolve({ ok: false, reason: failure ?? reason, bytes });
    };
    stream.on('error', () => fail('aborted'));
    // A stream destroyed because the connection closed emits 'close' without 'end'.
    // After 'end' the stream closes too, while the last block may still be on its way to disk.
    stream.on('close', () => {
      if (!ended) fail('aborted');
    });
    stream.on('end', () => {
      if (settled) return;
      ended = true;
      if (failure || !chunks) return fail(failure ?? 'too-big');
      if (!writer) {
        settled = true;
        const message = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, held);
        resolve({ ok: true, message, bytes, release: releaser(reserved) });
        return;
      }
      cutBlocks(true);
      const w = writer;
      void (writing ?? Promise.resolve()).then(() => {
        if (settled) return;
        if (failure) return fail(failure);
        settled = true;
        resolve({ ok: true, message: head!, bytes, blocks: w, release: releaser(reserved) });
      });
    });

    function releaser(amount: number): () => void {
      let released = false;
      return () => {
        if (released) return;
        released = true;
        limits.budget.release(amount);
      };
    }
  });
}

// Block files of large queued messages. A message over one block is written, as DATA arrives, in
// blocks of at most BLOCK_BYTES under <data dir>/queue-blocks/, one file per block, each fsynced
// before the message row that names it commits (README "Large messages"). Files beat bytea rows
// here: a block goes from the socket to the page cache and back with no copy through the database
// protocol (or, with the embedded database, through its WebAssembly heap, which would count in the
// gateway's memory), and a crash leaves at worst whole files without a row, which sweep() removes.
//
// The directory has an id of its own (the file ID, made once): a message row records the id of the
// directory holding its blocks, and only gateways using that directory claim it for relay. Several
// processes must not share one directory (like the embedded database, a data directory has one
// owner), since sweep() removes the blocks of every message without a row that this process is
// not writing itself.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KeypostError } from '../errors.js';

/** Most bytes per block file (the 8 MB). */
export const BLOCK_BYTES = 8 * 1024 * 1024;

export interface BlockRef {
  seq: number;
  bytes: number;
  sha256: Buffer;
}

const NAME = /^([0-9A-F]{16})\.(\d+)$/;

export class BlockStore {
  /** Messages whose blocks are being written by this process: never swept. */
  private readonly writing = new Set<string>();

  private constructor(
    readonly dir: string,
    /** The directory's id, recorded with every message whose blocks are here. */
    readonly id: string,
  ) {}

  static async open(dataDir: string): Promise<BlockStore> {
    const dir = path.resolve(dataDir, 'queue-blocks');
    await mkdir(dir, { recursive: true });
    const idFile = path.join(dir, 'ID');
    let id: string;
    try {
      id = (await readFile(idFile, 'utf8')).trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      id = randomBytes(12).toString('hex');
      await writeFile(idFile, `${id}\n`, { flag: 'wx' }).catch(async (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
        id = (await readFile(idFile, 'utf8')).trim();
      });
    }
    return new BlockStore(dir, id);
  }

  private file(messageId: string, seq: number): string {
    return path.join(this.dir, `${messageId}.${seq}`);
  }

  /** Starts the blocks of one message; its files are protected from sweep() until finish or discard. */
  writer(messageId: string): BlockWriter {
    this.writing.add(messageId);
    return new BlockWriter(this, messageId, (seq) => this.file(messageId, seq), () => this.writing.delete(messageId));
  }

  /**
   * Makes the directory entries of new block files durable. Each file's data was fsynced when it
   * was written; this one fsync of the directory covers all of their names (a crash could otherwise
   * lose the entry of a file whose contents were on disk).
   */
  async syncDirectory(): Promise<void> {
    const handle = await open(this.dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  /** Reads one block and checks it against the length and digest the database holds. */
  async read(messageId: string, block: BlockRef): Promise<Buffer> {
    let data: Buffer;
    try {
      data = await readFile(this.file(messageId, block.seq));
    } catch (err) {
      throw new KeypostError('GW_BLOCK_MISSING', `block ${block.seq} of queued message ${messageId} cannot be read: ${(err as Error).message}`);
    }
    if (data.length !== block.bytes || !createHash('sha256').update(data).digest().equals(block.sha256)) {
      throw new KeypostError('GW_BLOCK_DAMAGED', `block ${block.seq} of queued message ${messageId} does not match its recorded length and SHA-256`);
    }
    return data;
  }

  /** Removes the blocks of a message that is gone from the queue (delivered, bounced, deleted). */
  async remove(messageId: string): Promise<void> {
    // Blocks are numbered from 0 without gaps, so the first missing file is the end.
    for (let seq = 0; ; seq++) {
      try {
        await unlink(this.file(messageId, seq));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
    }
  }

  /**
   * Removes every block file whose message has no queue row (`queued` answers which of the given
   * ids do) and that this process is not writing: what a crash mid-DATA, or between a delivery and
   * the removal of its files, left behind. Returns the number of files removed.
   */
  async sweep(queued: (ids: string[]) => Promise<Set<string>>): Promise<number> {
    const byMessage = new Map<string, string[]>();
    for (const name of await readdir(this.dir)) {
      const m = NAME.exec(name);
      if (!m || this.writing.has(m[1])) continue;
      byMessage.set(m[1], [...(byMessage.get(m[1]) ?? []), name]);
    }
    const ids = [...byMessage.keys()];
    let removed = 0;
    for (let i = 0; i < ids.length; i += 500) {
      const batch = ids.slice(i, i + 500);
      const present = await queued(batch);
      for (const id of batch) {
        if (present.has(id) || this.writing.has(id)) continue;
        for (const name of byMessage.get(id)!) {
          await unlink(path.join(this.dir, name)).catch(() => undefined);
          removed++;
        }
      }
    }
    return removed;
  }
}

/**
 * The blocks of one message in order. write() takes one whole block (at most BLOCK_BYTES) and
 * resolves once it is on disk; the caller keeps receiving meanwhile, so one block is being written
 * while the next fills.
 */
export class BlockWriter {
  readonly blocks: BlockRef[] = [];
  private closed = false;

  constructor(
    private readonly store: BlockStore,
    readonly messageId: string,
    private readonly file: (seq: number) => string,
    private readonly done: () => void,
  ) {}

  get bytes(): number {
    return this.blocks.reduce((n, b) => n + b.bytes, 0);
  }

  async write(chunks: readonly Buffer[]): Promise<void> {
    const seq = this.blocks.length;
    const hash = createHash('sha256');
    let bytes = 0;
    for (const c of chunks) {
      hash.update(c);
      bytes += c.length;
    }
    const handle = await open(this.file(seq), 'w');
    try {
      let written = 0;
      while (written < bytes) {
        const { bytesWritten } = await handle.writev(skip(chunks, written));
        written += bytesWritten;
      }
      // fdatasync: the data and the length, without the timestamps nobody reads.
      await handle.datasync();
    } finally {
      await handle.close();
    }
    this.blocks.push({ seq, bytes, sha256: hash.digest() });
  }

  /** All blocks written: makes their names durable. The caller commits the row next. */
  async finish(): Promise<BlockRef[]> {
    await this.store.syncDirectory();
    return this.blocks;
  }

  /** The message was refused or the client went away: its blocks go at once. */
  async discard(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.store.remove(this.messageId);
    this.done();
  }

  /** The message row committed (or was refused): sweep() may consider its files again. */
  release(): void {
    this.closed = true;
    this.done();
  }
}

/** The buffers from byte `offset` on (after a short writev). */
function skip(chunks: readonly Buffer[], offset: number): Buffer[] {
  if (offset === 0) return [...chunks];
  const out: Buffer[] = [];
  for (const c of chunks) {
    if (offset >= c.length) {
      offset -= c.length;
      continue;
    }
    out.push(offset ? c.subarray(offset) : c);
    offset = 0;
  }
  return out;
}

// A zone's base layer (zone-snapshot.ts) as worker threads read it: an open-addressing hash table
// over SharedArrayBuffers, so every worker looks names up in the same memory instead of each
// holding a Map of 300,000 names. The loading thread builds it once per base (a full load or a
// fold); node bytes stay where the Arena put them (shared chunks), and only nodes that were
// encoded outside an arena (small change layers, folded in) are copied into a shared chunk.
//
// Slot layout, five int32 each: hash, key offset, (chunk + 1) << 8 | key length (0 = empty slot;
// a wire name key is at most 255 octets), node offset, node length.
import type { NameNode } from './zone-snapshot.js';
import { chunkIdFor } from './shared-chunks.js';

const SLOT = 5;
const SPILL_CHUNK = 1 << 20;

/** What is posted to a worker: only SharedArrayBuffers and numbers, so nothing is copied. */
export interface SharedNameIndexData {
  chunks: SharedArrayBuffer[];
  /**
   * One id per chunk, the same in every index that holds the chunk: a worker keeps using the
   * SharedArrayBuffer object it already has for it, so what it keys by the buffer (the signature
   * cache, zone-signer.ts) survives a new base.
   */
  chunkIds: number[];
  keys: SharedArrayBuffer;
  table: SharedArrayBuffer;
  size: number;
}

/** FNV-1a over the key's octets (latin1 code units). */
function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h | 0;
}

export function buildSharedNameIndex(nodes: ReadonlyMap<string, NameNode>): SharedNameIndexData {
  const chunks: SharedArrayBuffer[] = [];
  const chunkIndex = new Map<SharedArrayBuffer, number>();
  let spill: Buffer | undefined;
  let spillUsed = 0;
  let keyBytes = 0;
  for (const key of nodes.keys()) keyBytes += key.length;
  const keys = new SharedArrayBuffer(Math.max(keyBytes, 1));
  const keyView = Buffer.from(keys);
  let capacity = 16;
  while (capacity * 0.7 < nodes.size) capacity *= 2;
  const table = new SharedArrayBuffer(capacity * SLOT * 4);
  const slots = new Int32Array(table);
  const mask = capacity - 1;
  const chunkOf = (buffer: SharedArrayBuffer) => {
    let id = chunkIndex.get(buffer);
    if (id === undefined) {
      id = chunks.push(buffer) - 1;
      chunkIndex.set(buffer, id);
    }
    return id;
  };
  let keyOffset = 0;
  for (const [key, node] of nodes) {
    let bytes: Buffer = node;
    if (!(node.buffer instanceof SharedArrayBuffer)) {
      if (!spill || spillUsed + node.length > spill.length) {
        spill = Buffer.from(new SharedArrayBuffer(Math.max(SPILL_CHUNK, node.length)));
        spillUsed = 0;
      }
      bytes = spill.subarray(spillUsed, spillUsed + node.length);
      node.copy(bytes);
      spillUsed += node.length;
    }
    const chunk = chunkOf(bytes.buffer as SharedArrayBuffer);
    keyView.write(key, keyOffset, 'latin1');
    const h = hashKey(key);
    let i = h & mask;
    while (slots[i * SLOT + 2] !== 0) i = (i + 1) & mask;
    const o = i * SLOT;
    slots[o] = h;
    slots[o + 1] = keyOffset;
    slots[o + 2] = ((chunk + 1) << 8) | key.length;
    slots[o + 3] = bytes.byteOffset;
    slots[o + 4] = bytes.length;
    keyOffset += key.length;
  }
  const chunkIds = chunks.map(chunkIdFor);
  return { chunks, chunkIds, keys, table, size: nodes.size };
}

/** The index as a read-only map, on any thread that received its data. */
export class SharedNameIndex implements ReadonlyMap<string, NameNode> {
  private readonly slots: Int32Array;
  private readonly keyBytes: Uint8Array;
  private readonly mask: number;
  readonly size: number;

  constructor(private readonly data: SharedNameIndexData) {
    this.slots = new Int32Array(data.table);
    this.keyBytes = new Uint8Array(data.keys);
    this.mask = this.slots.length / SLOT - 1;
    this.size = data.size;
  }

  private find(key: string): number {
    const h = hashKey(key);
    const slots = this.slots;
    const bytes = this.keyBytes;
    for (let i = h & this.mask; ; i = (i + 1) & this.mask) {
      const o = i * SLOT;
      const meta = slots[o + 2];
      if (meta === 0) return -1;
      if (slots[o] !== h || (meta & 0xff) !== key.length) continue;
      const at = slots[o + 1];
      let same = true;
      for (let k = 0; k < key.length; k++) {
        if (bytes[at + k] !== key.charCodeAt(k)) {
          same = false;
          break;
        }
      }
      if (same) return o;
    }
  }

  private node(o: number): NameNode {
    return Buffer.from(this.data.chunks[(this.slots[o + 2] >>> 8) - 1], this.slots[o + 3], this.slots[o + 4]);
  }

  /** The chunks with their ids (zone-mirror.ts keeps the objects across bases). */
  chunkEntries(): [number, SharedArrayBuffer][] {
    return this.data.chunks.map((chunk, i) => [this.data.chunkIds[i], chunk]);
  }

  get(key: string): NameNode | undefined {
    const o = this.find(key);
    return o < 0 ? undefined : this.node(o);
  }

  has(key: string): boolean {
    return this.find(key) >= 0;
  }

  *entries(): MapIterator<[string, NameNode]> {
    for (let o = 0; o < this.slots.length; o += SLOT) {
      const meta = this.slots[o + 2];
      if (meta === 0) continue;
      const at = this.slots[o + 1];
      yield [Buffer.from(this.keyBytes.buffer, at, meta & 0xff).toString('latin1'), this.node(o)];
    }
  }

  *keys(): MapIterator<string> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): MapIterator<NameNode> {
    for (const [, node] of this.entries()) yield node;
  }

  [Symbol.iterator](): MapIterator<[string, NameNode]> {
    return this.entries();
  }

  forEach(fn: (value: NameNode, key: string, map: ReadonlyMap<string, NameNode>) => void): void {
    for (const [key, node] of this.entries()) fn(node, key, this);
  }
}

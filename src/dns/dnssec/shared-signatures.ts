// Signatures over the RRsets of a zone's shared nodes (Arena chunks, zone-snapshot.ts), made once
// by the loading thread and read by every DNS worker thread (dns-workers.ts) from the same
// memory: a zone of 100,000 addresses carries some 300,000 signatures, which N workers would
// otherwise each make and hold.
//
// An RRset is found by where its node lies: chunk id (shared-name-index.ts), offset in the chunk,
// and type. Only the loading thread writes. A table slot holds the key and a reference to an
// immutable record (where the RRSIG records, in answer form, lie in the log, their original TTL and when they are
// due again); the reference is stored last with Atomics.store, so a reader that loads it sees a
// whole record. Signing again appends a record and moves the reference. When the table or the
// records fill, a larger store is made with the current records and handed on (onMoved), as is a
// new log chunk: readers switch to it, and until then find less, and sign those few themselves.
import { rrsigRecordRdatas, rrsigRecordsLength, writeRrsigRecords } from './rrsig-records.js';

const SLOT = 4; // chunk id, offset, type, record reference (index + 1; 0 = free)
const RECORD = 5; // log chunk, offset, length, refreshAt, ttl
const LOG_CHUNK = 1 << 20;

export interface SharedSignatureData {
  table: SharedArrayBuffer;
  records: SharedArrayBuffer;
  logs: SharedArrayBuffer[];
}

export interface StoredSignatures {
  ttl: number;
  refreshAt: number;
  /** RRSIG RDATAs: views into `records`. */
  rdatas: Buffer[];
  /** The same in answer form (rrsig-records.ts), as the log holds them. */
  records: Buffer;
}

function slotHash(chunk: number, offset: number, type: number): number {
  return (Math.imul(chunk, 0x9e3779b1) ^ Math.imul(offset, 0x85ebca6b) ^ Math.imul(type, 0xc2b2ae35)) >>> 0;
}

export class SharedSignatures {
  private slots: Int32Array;
  private records: Float64Array;
  private mask: number;
  // Writer state (the loading thread): records and slots used, and the position in the last log.
  private recordCount = 0;
  private slotCount = 0;
  private logUsed = LOG_CHUNK;
  /** Called with new data for the readers when the writer moved to a larger store or log. */
  onMoved?: (data: SharedSignatureData) => void;

  constructor(private data: SharedSignatureData) {
    this.slots = new Int32Array(data.table);
    this.records = new Float64Array(data.records);
    this.mask = this.slots.length / SLOT - 1;
  }

  static create(capacity = 1024): SharedSignatures {
    return new SharedSignatures({
      table: new SharedArrayBuffer(capacity * 2 * SLOT * 4),
      records: new SharedArrayBuffer(capacity * RECORD * 8),
      logs: [],
    });
  }

  get shared(): SharedSignatureData {
    return this.data;
  }

  /** A reader's switch to the store the writer moved to. */
  use(data: SharedSignatureData): void {
    this.data = data;
    this.slots = new Int32Array(data.table);
    this.records = new Float64Array(data.records);
    this.mask = this.slots.length / SLOT - 1;
  }

  private find(chunk: number, offset: number, type: number): number {
    const slots = this.slots;
    for (let i = slotHash(chunk, offset, type) & this.mask; ; i = (i + 1) & this.mask) {
      const o = i * SLOT;
      if (Atomics.load(slots, o + 3) === 0) return -1 - o;
      if (slots[o] === chunk && slots[o + 1] === offset && slots[o + 2] === type) return o;
    }
  }

  get(chunk: number, offset: number, type: number): StoredSignatures | undefined {
    const o = this.find(chunk, offset, type);
    if (o < 0) return undefined;
    const r = (Atomics.load(this.slots, o + 3) - 1) * RECORD;
    const log = this.data.logs[this.records[r]];
    if (!log) return undefined;
    const records = Buffer.from(log, this.records[r + 1], this.records[r + 2]);
    return { ttl: this.records[r + 4], refreshAt: this.records[r + 3], rdatas: rrsigRecordRdatas(records), records };
  }

  /** Writer only. */
  put(chunk: number, offset: number, type: number, value: Omit<StoredSignatures, 'records'>): void {
    if (this.recordCount * RECORD >= this.records.length || (this.slotCount + 1) * 2 > this.mask + 1) this.grow();
    const length = rrsigRecordsLength(value.rdatas);
    if (this.logUsed + length > LOG_CHUNK) {
      this.data = { ...this.data, logs: [...this.data.logs, new SharedArrayBuffer(Math.max(LOG_CHUNK, length))] };
      this.logUsed = 0;
      this.onMoved?.(this.data);
    }
    const logIndex = this.data.logs.length - 1;
    const log = Buffer.from(this.data.logs[logIndex]);
    writeRrsigRecords(log.subarray(this.logUsed, this.logUsed + length), value.rdatas, value.ttl);
    const r = this.recordCount++ * RECORD;
    this.records[r] = logIndex;
    this.records[r + 1] = this.logUsed;
    this.records[r + 2] = length;
    this.records[r + 3] = value.refreshAt;
    this.records[r + 4] = value.ttl;
    this.logUsed += length;
    let o = this.find(chunk, offset, type);
    if (o < 0) {
      o = -1 - o;
      this.slots[o] = chunk;
      this.slots[o + 1] = offset;
      this.slots[o + 2] = type;
      this.slotCount++;
    }
    Atomics.store(this.slots, o + 3, r / RECORD + 1);
  }

  /** A store twice the size holding the current record of every slot; readers are told. */
  private grow(): void {
    const old = { slots: this.slots, records: this.records, logs: this.data.logs };
    const capacity = Math.max(1024, this.slotCount * 2);
    this.data = { table: new SharedArrayBuffer(capacity * 2 * SLOT * 4), records: new SharedArrayBuffer(capacity * RECORD * 8), logs: old.logs };
    this.slots = new Int32Array(this.data.table);
    this.records = new Float64Array(this.data.records);
    this.mask = this.slots.length / SLOT - 1;
    this.recordCount = 0;
    this.slotCount = 0;
    for (let o = 0; o < old.slots.length; o += SLOT) {
      const ref = old.slots[o + 3];
      if (ref === 0) continue;
      const from = (ref - 1) * RECORD;
      // The signature bytes stay where they are in the log; only the record is copied.
      const r = this.recordCount++ * RECORD;
      for (let k = 0; k < RECORD; k++) this.records[r + k] = old.records[from + k];
      let i = slotHash(old.slots[o], old.slots[o + 1], old.slots[o + 2]) & this.mask;
      while (this.slots[i * SLOT + 3] !== 0) i = (i + 1) & this.mask;
      this.slots.set([old.slots[o], old.slots[o + 1], old.slots[o + 2], r / RECORD + 1], i * SLOT);
      this.slotCount++;
    }
    this.onMoved?.(this.data);
  }
}

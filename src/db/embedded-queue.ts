// Keeps each client's extended-query batch together on the embedded database.
//
// PGlite is one backend session shared by every socket client. pglite-socket 0.2 feeds it protocol
// messages one at a time from a shared queue and keeps a client's messages together only while a
// transaction is open. A pg client sends a parameterised query as Parse, Bind, Describe, Execute,
// Sync; when another client's message lands between its Parse and its Bind (a simple-protocol
// BEGIN or COMMIT, say), the unnamed statement is replaced or dropped and the Bind fails ("unnamed
// prepared statement does not exist") or, worse, runs another client's statement. And a message
// that throws leaves the queue marked busy, so every client stalls from then on.
//
// This replaces the queue's scheduler: a client that has started an extended-query batch (any
// message other than Sync, Query or Terminate) owns the session until its Sync, exactly as a client
// in a transaction does, and an error is passed to its caller without stopping the queue.
import type { PGLiteSocketServer } from '@electric-sql/pglite-socket';

interface QueuedMessage {
  handlerId: number;
  message: Uint8Array;
  resolve(bytes: number): void;
  reject(err: unknown): void;
  onData(data: Uint8Array): void;
}

interface QueryQueue {
  queue: QueuedMessage[];
  processing: boolean;
  lastHandlerId: number | null;
  db: {
    isInTransaction(): boolean;
    runExclusive<T>(fn: () => Promise<T>): Promise<T>;
    execProtocolRawStream(message: Uint8Array, options: { onRawData(data: Uint8Array): void }): Promise<unknown>;
    exec(sql: string): Promise<unknown>;
  };
  processQueue(): Promise<void>;
  clearTransactionIfNeeded(handlerId: number): Promise<void>;
}

const SYNC = 0x53; // 'S'
const QUERY = 0x51; // 'Q'
const TERMINATE = 0x58; // 'X'

export function serializeClientBatches(server: PGLiteSocketServer): void {
  const queue = (server as unknown as { queryQueue?: QueryQueue }).queryQueue;
  if (!queue || typeof queue.processQueue !== 'function') {
    throw new Error('pglite-socket internals changed: cannot install the batch-preserving scheduler');
  }
  let batchOwner: number | null = null;

  queue.processQueue = async function processQueue(this: QueryQueue): Promise<void> {
    if (this.processing || this.queue.length === 0) return;
    this.processing = true;
    try {
      while (this.queue.length > 0) {
        const owner = batchOwner ?? (this.db.isInTransaction() ? this.lastHandlerId : null);
        let item: QueuedMessage | undefined;
        if (owner !== null) {
          const at = this.queue.findIndex((q) => q.handlerId === owner);
          // The owner has not sent its next message yet: wait for it, run nobody else.
          if (at < 0) break;
          item = this.queue.splice(at, 1)[0];
        } else {
          item = this.queue.shift()!;
        }
        let bytes = 0;
        try {
          await this.db.runExclusive(() =>
            this.db.execProtocolRawStream(item!.message, {
              onRawData: (data) => {
                bytes += data.length;
                item!.onData(data);
              },
            }),
          );
        } catch (err) {
          batchOwner = null;
          item.reject(err);
          continue;
        }
        const type = item.message[0];
        batchOwner = type === SYNC || type === QUERY || type === TERMINATE ? null : item.handlerId;
        this.lastHandlerId = item.handlerId;
        item.resolve(bytes);
      }
    } finally {
      this.processing = false;
    }
  };

  const clear = queue.clearTransactionIfNeeded.bind(queue);
  queue.clearTransactionIfNeeded = async function clearTransactionIfNeeded(this: QueryQueue, handlerId: number): Promise<void> {
    // A client that vanished mid-batch must not keep the session.
    if (batchOwner === handlerId) {
      batchOwner = null;
      if (!this.db.isInTransaction()) await this.processQueue();
    }
    await clear(handlerId);
  };
}

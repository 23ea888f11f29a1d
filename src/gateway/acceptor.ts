// Group commit of accepted messages. A message is acknowledged (250) only once it, its recipients
// and its spent stamps are committed in one transaction. Committing each message on its own would
// cap throughput at the rate of synchronous commits, so messages that finish DATA while a commit is
// in flight are gathered and committed together in the next one; each still gets its own verdict.
//
// Within the shared transaction a message whose stamp turns out to be spent (by an earlier message
// or another node) must leave no trace, so each message's spends run inside a savepoint that is
// rolled back when one of them fails.
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Db, Tx } from '../db/database.js';
import { spendStamp } from '../pow/spent-store.js';
import { insertMessages, type NewMessage, type NewRecipient } from './queue-store.js';

export interface StampToSpend {
  address: string;
  text: string;
  expiresAt: Date;
}

export interface AcceptRequest {
  message: NewMessage;
  recipients: NewRecipient[];
  stamps: StampToSpend[];
}

export type AcceptResult =
  | { ok: true; id: string }
  /** Recipients whose stamp was spent before (replay); nothing of the message was stored. */
  | { ok: false; spent: StampToSpend[] }
  | { ok: false; error: Error };

interface Pending {
  request: AcceptRequest;
  resolve(result: AcceptResult): void;
}

export interface Acceptor {
  submit(request: AcceptRequest): Promise<AcceptResult>;
  /** Waits for the commits in flight. */
  drain(): Promise<void>;
}

export interface AcceptorOptions {
  db: Db;
  log: Logger;
  /** Most messages per transaction, and most bytes. */
  maxBatch?: number;
  maxBatchBytes?: number;
  /** Called after each commit that stored messages, e.g. to wake the relay worker. */
  onCommitted?: (ids: string[]) => void;
}

export function createAcceptor(options: AcceptorOptions): Acceptor {
  const maxBatch = options.maxBatch ?? 128;
  const maxBytes = options.maxBatchBytes ?? 16 * 1024 * 1024;
  const queue: Pending[] = [];
  let running: Promise<void> | undefined;

  function takeBatch(): Pending[] {
    let bytes = 0;
    let n = 0;
    while (n < queue.length && n < maxBatch) {
      bytes += queue[n].request.message.body.length;
      if (n > 0 && bytes > maxBytes) break;
      n++;
    }
    return queue.splice(0, n);
  }

  async function spendAll(tx: Tx, item: Pending, savepoint: string | undefined): Promise<StampToSpend[]> {
    const spent: StampToSpend[] = [];
    if (savepoint) await sql.raw(`savepoint ${savepoint}`).execute(tx);
    for (const stamp of item.request.stamps) {
      if (!(await spendStamp(tx, stamp.text, stamp.expiresAt))) spent.push(stamp);
    }
    if (savepoint && spent.length) await sql.raw(`rollback to savepoint ${savepoint}`).execute(tx);
    return spent;
  }

  async function commit(batch: Pending[]): Promise<void> {
    const verdicts = new Map<Pending, AcceptResult>();
    try {
      await options.db.transaction().execute(async (tx) => {
        verdicts.clear();
        const stored: Pending[] = [];
        for (const [i, item] of batch.entries()) {
          // A single spend that fails inserts nothing, so it needs no savepoint; several might.
          const savepoint = item.request.stamps.length > 1 ? `m${i}` : undefined;
          const spent = item.request.stamps.length ? await spendAll(tx, item, savepoint) : [];
          if (spent.length) verdicts.set(item, { ok: false, spent });
          else stored.push(item);
        }
        await insertMessages(
          tx,
          stored.map((p) => ({ message: p.request.message, recipients: p.request.recipients })),
        );
        for (const p of stored) verdicts.set(p, { ok: true, id: p.request.message.id });
      });
    } catch (err) {
      options.log.error({ err, messages: batch.length }, 'queue commit failed; messages not accepted');
      for (const p of batch) p.resolve({ ok: false, error: err as Error });
      return;
    }
    const ids: string[] = [];
    for (const p of batch) {
      const verdict = verdicts.get(p)!;
      if (verdict.ok) ids.push(verdict.id);
      p.resolve(verdict);
    }
    if (ids.length) options.onCommitted?.(ids);
  }

  function pump(): void {
    if (running || queue.length === 0) return;
    running = (async () => {
      while (queue.length) await commit(takeBatch());
    })().finally(() => {
      running = undefined;
      pump();
    });
  }

  return {
    submit(request) {
      return new Promise<AcceptResult>((resolve) => {
        queue.push({ request, resolve });
        pump();
      });
    },
    async drain() {
      while (running) await running;
    },
  };
}

// Group commit of accepted messages. A message is acknowledged (250) only once it, its recipients
// and its spent stamps are committed in one transaction. Committing each message on its own would
// cap throughput at the rate of synchronous commits, so messages that finish DATA while a commit is
// in flight are gathered and committed together in the next one; each still gets its own verdict.
//
// The batch's stamps are spent with one statement: the INSERT ... ON CONFLICT DO NOTHING RETURNING
// that spendStamp() runs for one stamp (src/pow/spent-store.ts), over all of them. A stamp that
// returns no row was spent before (by an earlier transaction or another node, which PostgreSQL
// makes us wait for), and a stamp offered twice within the batch counts for its first message
// only. A message with any spent stamp is refused and leaves no trace: its other stamps are
// unspent again in the same transaction. A group that fails as a whole is retried message by
// message, so one message that cannot be stored never costs the others their 250.
import type { Logger } from 'pino';
import type { Db, Tx } from '../db/database.js';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { createHash } from 'node:crypto';
import { spendStamps, spentBy, spentStampKey, unspendStamps } from '../pow/spent-store.js';
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
  /** Queued; `resent` when the message is a copy of one queued before (its 250 was lost). */
  | { ok: true; id: string; resent?: boolean }
  /** Recipients whose stamp was spent before (replay); nothing of the message was stored. */
  | { ok: false; spent: StampToSpend[] }
  | { ok: false; error: Error };

interface Pending {
  request: AcceptRequest;
  /** messageDigest(request): what a resent copy of this message has in common with it. */
  digest: Buffer;
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
  /** Transactions in flight at once (default 2). */
  maxConcurrentCommits?: number;
  /** Called after each commit that stored messages, e.g. to wake the relay worker. */
  onCommitted?: (ids: string[]) => void;
}

/**
 * SHA-256 over the envelope (sender, recipients in order of address) and the message as stored.
 * The stored message is the received one minus our own verdict field, so a byte-identical resend
 * with the same envelope has the same digest, and anything else (another body, another recipient,
 * another sender reusing the stamp) does not. The blocks of a large message count by their
 * SHA-256, computed as they were written, so the digest never reads them back.
 */
export function messageDigest(request: AcceptRequest): Buffer {
  const hash = createHash('sha256');
  hash.update(`${request.message.kind}\0${request.message.sender}\0`);
  for (const r of request.recipients.map((r) => r.recipient.toLowerCase()).sort()) hash.update(`${r}\0`);
  hash.update('\0');
  hash.update(request.message.body);
  // A message in block files: its blocks' digests stand for their bytes, which are on disk.
  for (const block of request.message.blocks?.refs ?? []) hash.update(block.sha256);
  return hash.digest();
}

export function createAcceptor(options: AcceptorOptions): Acceptor {
  const maxBatch = options.maxBatch ?? 128;
  const maxBytes = options.maxBatchBytes ?? 16 * 1024 * 1024;
  const maxConcurrent = options.maxConcurrentCommits ?? 2;
  const queue: Pending[] = [];

  function takeBatch(): Pending[] {
    let bytes = 0;
    let n = 0;
    while (n < queue.length && n < maxBatch) {
      // Only what the transaction carries: block files are written (and fsynced) before submit.
      bytes += queue[n].request.message.body.length;
      if (n > 0 && bytes > maxBytes) break;
      n++;
    }
    return queue.splice(0, n);
  }

  /**
   * Spends every stamp of the batch. Returns, per message, the stamps that were spent before, and
   * the messages that are resent copies of one already queued.
   */
  async function spendBatch(tx: Tx, batch: Pending[]): Promise<{ refused: Map<Pending, StampToSpend[]>; resent: Map<Pending, string> }> {
    const owner = new Map<string, Pending>();
    const refused = new Map<Pending, StampToSpend[]>();
    const resent = new Map<Pending, string>();
    const twins = new Map<Pending, Pending>();
    const refuse = (p: Pending, stamp: StampToSpend) => refused.set(p, [...(refused.get(p) ?? []), stamp]);
    const offered: { key: Buffer; hex: string; stamp: StampToSpend; pending: Pending }[] = [];
    for (const p of batch) {
      const keys = p.request.stamps.map((stamp) => spentStampKey(stamp.text));
      // The same message twice in one batch (a sender that gave up waiting and sent again): the
      // copy shares the first one's fate instead of being refused for the first one's stamps.
      const first = keys.length ? owner.get(keys[0].toString('hex')) : undefined;
      if (first && keys.every((k) => owner.get(k.toString('hex')) === first) && first.digest.equals(p.digest)) {
        twins.set(p, first);
        continue;
      }
      p.request.stamps.forEach((stamp, i) => {
        const hex = keys[i].toString('hex');
        if (owner.has(hex)) refuse(p, stamp);
        else {
          owner.set(hex, p);
          offered.push({ key: keys[i], hex, stamp, pending: p });
        }
      });
    }
    const inserted = await spendStamps(
      tx,
      offered.map((o) => ({ ...o.stamp, spentBy: { messageId: o.pending.request.message.id, digest: o.pending.digest } })),
    );
    const spentBefore = offered.filter((o) => !inserted.has(o.hex));
    for (const o of spentBefore) refuse(o.pending, o.stamp);
    // A resent message: every one of its stamps was spent before, by one queued message with the
    // same envelope and content. Its 250 was lost, and a sender that never saw the reply must send
    // again (the duplicate-message problem of RFC 1047); it gets that message's queue id and is
    // not stored twice.
    const spenders = await spentBy(tx, spentBefore.map((o) => o.key));
    for (const p of refused.keys()) {
      const mine = offered.filter((o) => o.pending === p);
      if (mine.length !== p.request.stamps.length || mine.some((o) => inserted.has(o.hex))) continue;
      const ids = new Set(mine.map((o) => spenders.get(o.hex)).map((s) => (s && s.digest.equals(p.digest) ? s.messageId : undefined)));
      const [id] = ids;
      if (ids.size === 1 && id !== undefined) resent.set(p, id);
    }
    for (const p of resent.keys()) refused.delete(p);
    // A message with one stamp spent before is refused whole: give back the others it spent now.
    await unspendStamps(tx, offered.filter((o) => refused.has(o.pending) && inserted.has(o.hex)).map((o) => o.key));
    for (const [twin, first] of twins) {
      if (refused.has(first)) refused.set(twin, first.request.stamps);
      else if (resent.has(first)) resent.set(twin, resent.get(first)!);
      else resent.set(twin, first.request.message.id);
    }
    return { refused, resent };
  }

  async function commit(batch: Pending[]): Promise<void> {
    const verdicts = new Map<Pending, AcceptResult>();
    try {
      await options.db.transaction().execute(async (tx) => {
        verdicts.clear();
        const { refused, resent } = await spendBatch(tx, batch);
        const stored = batch.filter((p) => !refused.has(p) && !resent.has(p));
        for (const [p, spent] of refused) verdicts.set(p, { ok: false, spent });
        for (const [p, id] of resent) verdicts.set(p, { ok: true, id, resent: true });
        await insertMessages(
          tx,
          stored.map((p) => ({ message: p.request.message, recipients: p.request.recipients })),
        );
        for (const p of stored) verdicts.set(p, { ok: true, id: p.request.message.id });
      });
    } catch (err) {
      // One bad message (a constraint it breaks, a value the database refuses) rolls the whole
      // group back, and the others did nothing wrong: commit each of them again on its own, so
      // only the bad one fails. When the database itself is away, each would fail the same way.
      if (batch.length > 1 && !isDatabaseUnavailable(err)) {
        options.log.warn({ err, messages: batch.length }, 'group commit failed; committing its messages one by one');
        for (const p of batch) await commit([p]);
        return;
      }
      options.log.error({ err, messages: batch.length }, 'queue commit failed; messages not accepted');
      for (const p of batch) p.resolve({ ok: false, error: err as Error });
      return;
    }
    const ids: string[] = [];
    for (const p of batch) {
      const verdict = verdicts.get(p)!;
      if (verdict.ok && !verdict.resent) ids.push(verdict.id);
      if (verdict.ok && verdict.resent) options.log.info({ queueId: verdict.id }, 'resent copy of a queued message recognised; not stored again');
      p.resolve(verdict);
    }
    if (ids.length) options.onCommitted?.(ids);
  }

  // Two commits may be in flight: while one waits for its fsync, the next batch is being written,
  // so a message rarely waits for more than one commit.
  const running = new Set<Promise<void>>();
  function pump(): void {
    while (running.size < maxConcurrent && queue.length > 0) {
      const batch = takeBatch();
      const commitRun: Promise<void> = commit(batch).finally(() => {
        running.delete(commitRun);
        pump();
      });
      running.add(commitRun);
    }
  }

  return {
    submit(request) {
      return new Promise<AcceptResult>((resolve) => {
        queue.push({ request, digest: messageDigest(request), resolve });
        pump();
      });
    },
    async drain() {
      while (running.size) await Promise.all([...running]);
    },
  };
}

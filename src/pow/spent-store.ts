// The double-spend database: one row per accepted stamp, shared by every process through the
// database, purged once the stamp would be refused on its date anyway.
//
// Spending is a single INSERT ... ON CONFLICT DO NOTHING RETURNING. PostgreSQL makes a concurrent
// insert of the same key wait for the first one's transaction; if that commits, the second inserts
// nothing and returns no row. So exactly one caller sees `true`, across connections and nodes, and
// a spend inside a transaction that rolls back leaves the stamp unspent.
import type { Db, Tx } from '../db/database.js';
import { POW_CODES } from './errors.js';
import { stampDigest } from './sha1.js';
import { verifyStamp, type VerifyOptions, type VerifyResult } from './verify.js';

/** The row key: SHA-1 of the exact stamp text. */
export function spentStampKey(stamp: string): Buffer {
  return stampDigest(stamp);
}

/**
 * Records `stamp` as spent. True for the first spender only; false when it was spent before.
 * Pass the caller's transaction so the spend commits (or rolls back) with the work it pays for.
 */
export async function spendStamp(dbOrTx: Db | Tx, stamp: string, expiresAt: Date): Promise<boolean> {
  const row = await dbOrTx
    .insertInto('spent_stamps')
    .values({ stamp_sha1: spentStampKey(stamp), expires_at: expiresAt })
    .onConflict((oc) => oc.column('stamp_sha1').doNothing())
    .returning('stamp_sha1')
    .executeTakeFirst();
  return row !== undefined;
}

/** What spent a stamp, when it was a queued message (see spentBy). */
export interface StampSpender {
  messageId: string;
  digest: Buffer;
}

export interface SpendingStamp {
  text: string;
  expiresAt: Date;
  spentBy?: StampSpender;
}

/** The messages that spent these stamps (keys as spentStampKey), where one was recorded; hex keys. */
export async function spentBy(dbOrTx: Db | Tx, keys: readonly Buffer[]): Promise<Map<string, StampSpender>> {
  const out = new Map<string, StampSpender>();
  if (keys.length === 0) return out;
  const rows = await dbOrTx
    .selectFrom('spent_stamps')
    .select(['stamp_sha1', 'message_id', 'message_digest'])
    .where('stamp_sha1', 'in', [...keys])
    .execute();
  for (const r of rows) {
    if (r.message_id && r.message_digest) out.set(Buffer.from(r.stamp_sha1).toString('hex'), { messageId: r.message_id, digest: Buffer.from(r.message_digest) });
  }
  return out;
}

/**
 * Spends many stamps in one statement (the gateway commits a batch of messages at once).
 * Returns the keys (spentStampKey, hex) that this call spent; any other key was spent before.
 * Rows are inserted in key order, so two concurrent batches sharing stamps cannot deadlock.
 */
export async function spendStamps(tx: Tx, stamps: readonly SpendingStamp[]): Promise<Set<string>> {
  if (stamps.length === 0) return new Set();
  const rows = stamps
    .map((s) => ({
      stamp_sha1: spentStampKey(s.text),
      expires_at: s.expiresAt,
      message_id: s.spentBy?.messageId ?? null,
      message_digest: s.spentBy?.digest ?? null,
    }))
    .sort((a, b) => Buffer.compare(a.stamp_sha1, b.stamp_sha1));
  const inserted = await tx
    .insertInto('spent_stamps')
    .values(rows)
    .onConflict((oc) => oc.column('stamp_sha1').doNothing())
    .returning('stamp_sha1')
    .execute();
  return new Set(inserted.map((r) => Buffer.from(r.stamp_sha1).toString('hex')));
}

/** Takes back stamps spent earlier in the same transaction (their message was refused after all). */
export async function unspendStamps(tx: Tx, keys: readonly Buffer[]): Promise<void> {
  if (keys.length) await tx.deleteFrom('spent_stamps').where('stamp_sha1', 'in', keys).execute();
}

export async function isSpent(dbOrTx: Db | Tx, stamp: string): Promise<boolean> {
  const row = await dbOrTx
    .selectFrom('spent_stamps')
    .select('stamp_sha1')
    .where('stamp_sha1', '=', spentStampKey(stamp))
    .executeTakeFirst();
  return row !== undefined;
}

/** Deletes the records of stamps expired at `now`; returns how many went. */
export async function purgeExpiredStamps(db: Db | Tx, now: Date): Promise<number> {
  const result = await db.deleteFrom('spent_stamps').where('expires_at', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * Verifies a stamp and, when valid, spends it: the one call a gateway makes per recipient. A stamp
 * that fails verification is never recorded (hashcash -d likewise stores only valid stamps).
 */
export async function verifyAndSpend(dbOrTx: Db | Tx, text: string, options: VerifyOptions): Promise<VerifyResult> {
  const verdict = verifyStamp(text, options);
  if (!verdict.ok) return verdict;
  if (!(await spendStamp(dbOrTx, text, verdict.expiresAt))) {
    return { ok: false, code: POW_CODES.spent, reason: 'stamp was already spent', stamp: verdict.stamp };
  }
  return verdict;
}

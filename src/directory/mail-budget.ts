// Verification mail budgets: how many mails one address may receive, and one client may cause,
// within a sliding window, whatever keys they name. A per-(address, key) cooldown alone let anyone
// mint throwaway keys claiming a victim's address and mail it once per key.
//
// The count and the token insert run in one transaction under advisory locks on the client and the
// address, so concurrent requests (or nodes sharing one PostgreSQL) cannot all pass the count
// before any of them inserts. Tokens are the ledger: a token is one mail, and one whose mail could
// not be sent is discarded, which gives its slot back.
import { sql } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import { KeypostError } from '../errors.js';

export interface MailBudget {
  /** Mails one address may receive per window, whatever the key. */
  perAddress: number;
  /** Mails one client address may cause per window, whatever the addresses. */
  perClient: number;
  windowSeconds: number;
}

// Advisory lock namespaces (first key of pg_advisory_xact_lock(int, int)); any constants would do,
// they only have to differ from other users of advisory locks in this database.
const LOCK_CLIENT = 0x6b70_6d63; // "kpmc"
const LOCK_ADDRESS = 0x6b70_6d61; // "kpma"

/** Seconds until the oldest of the newest `limit` tokens leaves the window, freeing a slot. */
function retryAfter(oldestCounted: Date, windowSeconds: number, now: Date): number {
  return Math.max(1, Math.ceil((oldestCounted.getTime() + windowSeconds * 1000 - now.getTime()) / 1000));
}

async function overBudget(
  tx: Tx,
  column: 'address' | 'client_address',
  value: string,
  limit: number,
  since: Date,
): Promise<Date | undefined> {
  // The limit-th newest token in the window, if there is one, means the budget is spent.
  const row = await tx
    .selectFrom('verification_tokens')
    .select('created_at')
    .where(column, '=', value)
    .where('created_at', '>', since)
    .orderBy('created_at', 'desc')
    .offset(limit - 1)
    .limit(1)
    .executeTakeFirst();
  return row ? new Date(row.created_at) : undefined;
}

/**
 * Runs `issue` (which inserts the mail's token) only when `address` and `client` both have room
 * in their budgets; otherwise throws DIR_VERIFY_MAIL_LIMITED / DIR_VERIFY_MAIL_CLIENT_LIMITED
 * (429) with `address` and `retry_after` (seconds) in the details.
 */
export async function withinMailBudget<T>(
  db: Db,
  request: { address: string; client: string | undefined; now: Date },
  budget: MailBudget,
  issue: (tx: Tx) => Promise<T>,
): Promise<T> {
  const { address, client, now } = request;
  const since = new Date(now.getTime() - budget.windowSeconds * 1000);
  return db.transaction().execute(async (tx) => {
    // Always client first, then address: every request takes them in the same order.
    if (client) await sql`select pg_advisory_xact_lock(${LOCK_CLIENT}, hashtext(${client}))`.execute(tx);
    await sql`select pg_advisory_xact_lock(${LOCK_ADDRESS}, hashtext(${address}))`.execute(tx);

    const addressFull = await overBudget(tx, 'address', address, budget.perAddress, since);
    if (addressFull) {
      const seconds = retryAfter(addressFull, budget.windowSeconds, now);
      throw new KeypostError(
        'DIR_VERIFY_MAIL_LIMITED',
        `${address} has been sent ${budget.perAddress} verification mails in the last ${budget.windowSeconds} s; try again in ${seconds} s`,
        { address, retry_after: seconds },
      );
    }
    if (client) {
      const clientFull = await overBudget(tx, 'client_address', client, budget.perClient, since);
      if (clientFull) {
        const seconds = retryAfter(clientFull, budget.windowSeconds, now);
        throw new KeypostError(
          'DIR_VERIFY_MAIL_CLIENT_LIMITED',
          `this client has asked for ${budget.perClient} verification mails in the last ${budget.windowSeconds} s; try again in ${seconds} s`,
          { address, retry_after: seconds },
        );
      }
    }
    return issue(tx);
  });
}

// What operators see and do with the queue (`keypost queue ...`): list, show, retry now, delete.
// A domain owner's console sees and retries the same way, scoped to the recipients of its zone:
// the scope is one more condition on the same queries, so the two views cannot disagree.
import type { MessageDsn, RecipientDsn } from './dsn-request.js';
import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../db/database.js';
import { GATEWAY_CODES, GatewayError } from './errors.js';

export interface QueueEntry {
  id: string;
  kind: string;
  sender: string;
  size: number;
  receivedAt: Date;
  recipients: number;
  attempts: number;
  nextAttemptAt: Date;
  /** True while a relay worker holds the message (delivery in progress). */
  active: boolean;
  lastError: string | null;
}

export interface QueueRecipient {
  recipient: string;
  nextHop: string;
  attempts: number;
  nextAttemptAt: Date;
  active: boolean;
  lastAttemptAt: Date | null;
  lastError: string | null;
  mintBits: number | null;
  /** NOTIFY and ORCPT given with RCPT TO (RFC 3461). */
  dsn: RecipientDsn;
}

export interface QueueMessageDetail extends Omit<QueueEntry, 'recipients' | 'attempts' | 'nextAttemptAt' | 'active' | 'lastError'> {
  clientAddress: string | null;
  clientHelo: string | null;
  authUser: string | null;
  /** RET and ENVID given with MAIL FROM (RFC 3461), and whether the delay warning went out. */
  dsn: MessageDsn & { delayWarned: boolean };
  recipients: QueueRecipient[];
  /** The message as it will be relayed: trace fields, then the message received. */
  message: Buffer;
}

/** Which recipients a query covers: all of them, or those of one zone (an owner's view). */
export interface QueueScope {
  /** A canonical (lowercase) zone name: recipients whose domain is exactly this. */
  zone?: string;
}

/**
 * The condition a scope puts on mail_queue_recipients (as `r`, or unqualified), or true. The
 * domain is what follows the last "@" (a quoted local part may hold one, RFC 5321 §4.1.2), and
 * is compared whole: `@example.org` does not match `@mail.example.org`.
 */
function inScope(scope: QueueScope, qualified = true): RawBuilder<boolean> {
  if (scope.zone === undefined) return sql<boolean>`true`;
  const column = qualified ? sql.ref('r.recipient') : sql.ref('recipient');
  const suffix = `@${scope.zone}`;
  return sql<boolean>`right(lower(${column}), ${suffix.length}) = ${suffix}`;
}

export async function listQueue(db: Db, limit = 100, scope: QueueScope = {}): Promise<QueueEntry[]> {
  const { rows } = await sql<{
    id: string;
    kind: string;
    sender: string;
    size: number;
    received_at: Date;
    recipients: string;
    attempts: number;
    next_attempt_at: Date;
    active: boolean;
    last_error: string | null;
  }>`
    select q.id, q.kind, q.sender, q.size, q.received_at,
           count(r.recipient) as recipients,
           max(r.attempts) as attempts,
           min(r.next_attempt_at) as next_attempt_at,
           bool_or(r.lease_owner is not null) as active,
           (array_agg(r.last_error order by r.last_attempt_at desc nulls last))[1] as last_error
    from mail_queue q join mail_queue_recipients r on r.message_id = q.id
    where ${inScope(scope)}
    group by q.id
    order by q.received_at
    limit ${limit}`.execute(db);
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    sender: r.sender,
    size: Number(r.size),
    receivedAt: new Date(r.received_at),
    recipients: Number(r.recipients),
    attempts: r.attempts,
    nextAttemptAt: new Date(r.next_attempt_at),
    active: r.active,
    lastError: r.last_error,
  }));
}

export async function showMessage(db: Db, id: string): Promise<QueueMessageDetail> {
  const message = await db.selectFrom('mail_queue').selectAll().where('id', '=', id).executeTakeFirst();
  if (!message) throw new GatewayError(GATEWAY_CODES.messageNotFound, `no queued message ${id}`);
  const recipients = await db
    .selectFrom('mail_queue_recipients')
    .selectAll()
    .where('message_id', '=', id)
    .orderBy('recipient')
    .execute();
  return {
    id: message.id,
    kind: message.kind,
    sender: message.sender,
    size: Number(message.size),
    receivedAt: new Date(message.received_at),
    clientAddress: message.client_address,
    clientHelo: message.client_helo,
    authUser: message.auth_user,
    dsn: { ret: message.dsn_ret, envid: message.dsn_envid, delayWarned: message.delay_warned },
    recipients: recipients.map((r) => ({
      recipient: r.recipient,
      nextHop: r.next_hop,
      attempts: r.attempts,
      nextAttemptAt: new Date(r.next_attempt_at),
      active: r.lease_owner !== null,
      lastAttemptAt: r.last_attempt_at ? new Date(r.last_attempt_at) : null,
      lastError: r.last_error,
      mintBits: r.mint_bits,
      dsn: { notify: r.dsn_notify, orcpt: r.dsn_orcpt },
    })),
    message: Buffer.concat([Buffer.from(message.trace_headers, 'latin1'), message.body]),
  };
}

/** Makes deferred recipients due now; ones being delivered are left alone. Returns how many. */
export async function retryNow(db: Db, ids: readonly string[] | 'all', scope: QueueScope = {}): Promise<number> {
  let query = db
    .updateTable('mail_queue_recipients')
    .set({ next_attempt_at: sql`now()` })
    .where('lease_owner', 'is', null)
    .where(inScope(scope, false));
  if (ids !== 'all') {
    await requireMessages(db, ids);
    query = query.where('message_id', 'in', [...ids]);
  }
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Removes messages from the queue without delivering or bouncing them. Returns how many. */
export async function deleteMessages(db: Db, ids: readonly string[]): Promise<number> {
  await requireMessages(db, ids);
  const result = await db.deleteFrom('mail_queue').where('id', 'in', [...ids]).executeTakeFirst();
  return Number(result.numDeletedRows);
}

async function requireMessages(db: Db, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  const found = new Set((await db.selectFrom('mail_queue').select('id').where('id', 'in', [...ids]).execute()).map((r) => r.id));
  const missing = ids.filter((id) => !found.has(id));
  if (missing.length) throw new GatewayError(GATEWAY_CODES.messageNotFound, `no queued message ${missing.join(', ')}`);
}

/** How much is waiting: what `keypost status` shows and the queue gauges export. */
export interface QueueCounts {
  /** Messages with recipients still to deliver. */
  messages: number;
  recipients: number;
  /** Recipients due for an attempt now (not deferred, not leased). */
  due: number;
  /** Recipients tried at least once and waiting for their next attempt. */
  deferred: number;
  /** When the oldest queued message was received; undefined when the queue is empty. */
  oldestReceivedAt: Date | undefined;
}

export async function queueCounts(db: Db, scope: QueueScope = {}): Promise<QueueCounts> {
  const { rows } = await sql<{ recipients: string; messages: string; due: string; deferred: string; oldest: Date | null }>`
    select count(*) as recipients,
           count(distinct r.message_id) as messages,
           count(*) filter (where r.next_attempt_at <= now()) as due,
           count(*) filter (where r.attempts > 0 and r.next_attempt_at > now()) as deferred,
           min(q.received_at) as oldest
    from mail_queue_recipients r join mail_queue q on q.id = r.message_id
    where ${inScope(scope)}`.execute(db);
  const [r] = rows;
  return {
    messages: Number(r.messages),
    recipients: Number(r.recipients),
    due: Number(r.due),
    deferred: Number(r.deferred),
    oldestReceivedAt: r.oldest ? new Date(r.oldest) : undefined,
  };
}

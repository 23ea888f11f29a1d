// The durable queue in PostgreSQL: every function takes the database (or, where atomicity matters,
// the transaction) first. Rows exist only for pending work; a delivered or bounced recipient is
// deleted, and a message goes with its last recipient.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Db, MailQueueTable, Tx } from '../db/database.js';
import type { MessageDsn, RecipientDsn } from './dsn-request.js';
import type { BlockRef } from './block-store.js';
import { LIST_HOP } from './next-hop.js';

export type MessageKind = MailQueueTable['kind'];

export interface NewMessage {
  id: string;
  kind: MessageKind;
  sender: string;
  traceHeaders: string;
  /** The whole message, or for a message kept in blocks only its header section. */
  body: Buffer;
  /**
   * A large message: the rest of it, in block files of the directory `blocksDir` names
   * (block-store.ts), already durable; `bytes` counts the message as received, blocks included.
   */
  blocks?: { dir: string; refs: readonly BlockRef[]; bytes: number };
  clientAddress?: string;
  clientHelo?: string;
  authUser?: string;
  /** What MAIL FROM declared: BODY=8BITMIME (RFC 6152) and SMTPUTF8 (RFC 6531). */
  eightBitMime?: boolean;
  smtpUtf8?: boolean;
  /** RET and ENVID of MAIL FROM (RFC 3461). */
  dsn?: MessageDsn;
}

export interface NewRecipient {
  recipient: string;
  nextHop: string;
  mintBits?: number;
  /** NOTIFY and ORCPT of RCPT TO (RFC 3461). */
  dsn?: RecipientDsn;
}

export interface QueuedMessage {
  id: string;
  kind: MessageKind;
  sender: string;
  traceHeaders: string;
  /** The whole message, or (when `inBlocks`) its header section, the rest being in block files. */
  body: Buffer;
  size: number;
  inBlocks: boolean;
  receivedAt: Date;
  clientAddress: string | null;
  eightBitMime: boolean;
  smtpUtf8: boolean;
  dsn: MessageDsn;
  /** The message's one delay warning has been queued. */
  delayWarned: boolean;
}

export interface ClaimedRecipient {
  messageId: string;
  recipient: string;
  nextHop: string;
  attempts: number;
  mintBits: number | null;
  stamp: string | null;
  receivedAt: Date;
  dsn: RecipientDsn;
  /** The message is kept in block files (delivered in the relay's large lane). */
  inBlocks: boolean;
  /** The message itself when it is small enough to come with the claim (see claimDue). */
  message?: QueuedMessage;
}

// Queue ids: 16 upper-case hex digits counting up from a random 64-bit start per process, so that
// nodes never collide (their ranges would have to overlap within 2^64) without asking the kernel
// for randomness per message.
let nextQueueId = BigInt(`0x${randomBytes(8).toString('hex')}`);
const ID_SPACE = 1n << 64n;

export function newQueueId(): string {
  nextQueueId = (nextQueueId + 1n) % ID_SPACE;
  return nextQueueId.toString(16).toUpperCase().padStart(16, '0');
}

/** Inserts messages and their recipients in the caller's transaction (multi-row, two statements). */
export async function insertMessages(tx: Tx, items: readonly { message: NewMessage; recipients: readonly NewRecipient[] }[]): Promise<void> {
  if (items.length === 0) return;
  await tx
    .insertInto('mail_queue')
    .values(
      items.map(({ message: m }) => ({
        id: m.id,
        kind: m.kind,
        sender: m.sender,
        trace_headers: m.traceHeaders,
        body: m.body,
        size: (m.blocks?.bytes ?? m.body.length) + Buffer.byteLength(m.traceHeaders),
        blocks_dir: m.blocks?.dir ?? null,
        client_address: m.clientAddress ?? null,
        client_helo: m.clientHelo ?? null,
        auth_user: m.authUser ?? null,
        body_8bitmime: m.eightBitMime ?? false,
        smtputf8: m.smtpUtf8 ?? false,
        dsn_ret: m.dsn?.ret ?? null,
        dsn_envid: m.dsn?.envid ?? null,
      })),
    )
    .execute();
  const blocks = items.flatMap(({ message: m }) => (m.blocks?.refs ?? []).map((b) => ({ message_id: m.id, seq: b.seq, bytes: b.bytes, sha256: b.sha256 })));
  // Several statements for a very large message: each bind parameter list stays well under limits.
  for (let i = 0; i < blocks.length; i += 1000) await tx.insertInto('mail_queue_blocks').values(blocks.slice(i, i + 1000)).execute();
  await tx
    .insertInto('mail_queue_recipients')
    .values(
      items.flatMap(({ message, recipients }) =>
        recipients.map((r) => ({
          message_id: message.id,
          recipient: r.recipient,
          next_hop: r.nextHop,
          mint_bits: r.mintBits ?? null,
          dsn_notify: r.dsn?.notify ?? null,
          dsn_orcpt: r.dsn?.orcpt ?? null,
          next_attempt_at: sql<Date>`now()`,
        })),
      ),
    )
    .execute();
}

export interface ClaimOptions {
  /** The claiming worker, recorded with the lease. */
  owner: string;
  limit: number;
  leaseMs: number;
  /** The id of this gateway's block directory (block-store.ts): messages kept in another's are not claimed. */
  blocksDir: string;
  /** Messages up to this size come back with the claim. */
  inlineBytes?: number;
  /** Claim only this next hop's rows (the list worker's LIST_HOP); by default every hop but LIST_HOP. */
  hop?: string;
}

/**
 * Claims up to `limit` due recipients for `owner`: FOR UPDATE SKIP LOCKED lets several workers
 * (and several gateway processes) claim side by side without waiting for or repeating each other.
 * The claim is a lease: next_attempt_at moves `leaseMs` ahead, so rows of a worker that died become
 * due again by themselves. Without `hop`, rows for the list worker (LIST_HOP) are left alone: the
 * relay worker never sends a list post anywhere; with it, only that hop's rows are claimed.
 */
export async function claimDue(db: Db, claim: ClaimOptions): Promise<ClaimedRecipient[]> {
  const { owner, limit, leaseMs, blocksDir, inlineBytes = 64 * 1024, hop } = claim;
  // Small messages come back with the claim, saving a round trip per delivery; large ones are
  // loaded when their delivery starts, so memory holds only the messages being sent.
  const result = await sql<{
    message_id: string;
    recipient: string;
    next_hop: string;
    attempts: number;
    mint_bits: number | null;
    stamp: string | null;
    received_at: Date;
    kind: MessageKind;
    sender: string;
    trace_headers: string;
    size: number;
    client_address: string | null;
    body_8bitmime: boolean;
    smtputf8: boolean;
    dsn_notify: string | null;
    dsn_orcpt: string | null;
    dsn_ret: 'FULL' | 'HDRS' | null;
    dsn_envid: string | null;
    delay_warned: boolean;
    blocks_dir: string | null;
    body: Buffer | null;
  }>`
    with due as (
      select message_id, recipient from mail_queue_recipients r
      where next_attempt_at <= now() and ${hop === undefined ? sql`next_hop <> ${LIST_HOP}` : sql`next_hop = ${hop}`}
        -- A message in block files goes out from a gateway that has those files.
        and exists (select 1 from mail_queue q where q.id = r.message_id and (q.blocks_dir is null or q.blocks_dir = ${blocksDir}))
      order by next_attempt_at
      limit ${limit}
      for update skip locked
    )
    update mail_queue_recipients r
    set next_attempt_at = now() + ${leaseMs} * interval '1 millisecond',
        lease_owner = ${owner},
        attempts = r.attempts + 1
    from due, mail_queue q
    where r.message_id = due.message_id and r.recipient = due.recipient and q.id = r.message_id
    returning r.message_id, r.recipient, r.next_hop, r.attempts, r.mint_bits, r.stamp, r.dsn_notify, r.dsn_orcpt,
      q.received_at, q.kind, q.sender, q.trace_headers, q.size, q.client_address, q.body_8bitmime, q.smtputf8,
      q.dsn_ret, q.dsn_envid, q.delay_warned, q.blocks_dir,
      case when q.size <= ${inlineBytes} then q.body end as body`.execute(db);
  return result.rows.map((r) => {
    const receivedAt = new Date(r.received_at);
    const claimed: ClaimedRecipient = {
      messageId: r.message_id,
      recipient: r.recipient,
      nextHop: r.next_hop,
      attempts: r.attempts,
      mintBits: r.mint_bits,
      stamp: r.stamp,
      receivedAt,
      dsn: { notify: r.dsn_notify, orcpt: r.dsn_orcpt },
      inBlocks: r.blocks_dir !== null,
    };
    if (r.body && r.blocks_dir === null) {
      claimed.message = {
        id: r.message_id,
        kind: r.kind,
        sender: r.sender,
        traceHeaders: r.trace_headers,
        body: r.body,
        size: Number(r.size),
        inBlocks: r.blocks_dir !== null,
        receivedAt,
        clientAddress: r.client_address,
        eightBitMime: r.body_8bitmime,
        smtpUtf8: r.smtputf8,
        dsn: { ret: r.dsn_ret, envid: r.dsn_envid },
        delayWarned: r.delay_warned,
      };
    }
    return claimed;
  });
}

export async function loadMessages(db: Db, ids: readonly string[]): Promise<Map<string, QueuedMessage>> {
  const out = new Map<string, QueuedMessage>();
  if (ids.length === 0) return out;
  const rows = await db
    .selectFrom('mail_queue')
    .select(['id', 'kind', 'sender', 'trace_headers', 'body', 'size', 'received_at', 'client_address', 'body_8bitmime', 'smtputf8', 'dsn_ret', 'dsn_envid', 'delay_warned', 'blocks_dir'])
    .where('id', 'in', [...ids])
    .execute();
  for (const r of rows) {
    out.set(r.id, {
      id: r.id,
      kind: r.kind,
      sender: r.sender,
      traceHeaders: r.trace_headers,
      body: r.body,
      size: Number(r.size),
      inBlocks: r.blocks_dir !== null,
      receivedAt: new Date(r.received_at),
      clientAddress: r.client_address,
      eightBitMime: r.body_8bitmime,
      smtpUtf8: r.smtputf8,
      dsn: { ret: r.dsn_ret, envid: r.dsn_envid },
      delayWarned: r.delay_warned,
    });
  }
  return out;
}

/** The blocks of a message kept in block files, in order. */
export async function loadBlocks(db: Db, messageId: string): Promise<BlockRef[]> {
  const rows = await db.selectFrom('mail_queue_blocks').select(['seq', 'bytes', 'sha256']).where('message_id', '=', messageId).orderBy('seq').execute();
  return rows.map((r) => ({ seq: r.seq, bytes: r.bytes, sha256: r.sha256 }));
}

/** Which of these ids are queued messages (block-store.ts sweeps the files of the others). */
export async function queuedIds(db: Db, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.selectFrom('mail_queue').select('id').where('id', 'in', [...ids]).execute();
  return new Set(rows.map((r) => r.id));
}

export interface RecipientKey {
  messageId: string;
  recipient: string;
}

/** Extends the lease of rows this worker still holds (long deliveries, slow hops). */
export async function renewLeases(db: Db, owner: string, keys: readonly RecipientKey[], leaseMs: number): Promise<void> {
  if (keys.length === 0) return;
  await sql`
    update mail_queue_recipients r
    set next_attempt_at = now() + ${leaseMs} * interval '1 millisecond'
    from unnest(${keys.map((k) => k.messageId)}::text[], ${keys.map((k) => k.recipient)}::text[]) as k(message_id, recipient)
    where r.message_id = k.message_id and r.recipient = k.recipient and r.lease_owner = ${owner}`.execute(db);
}

/** Remembers a stamp minted for a submission recipient, so a retry sends the same stamp. */
export async function saveMintedStamp(db: Db, key: RecipientKey, stamp: string): Promise<void> {
  await db
    .updateTable('mail_queue_recipients')
    .set({ stamp })
    .where('message_id', '=', key.messageId)
    .where('recipient', '=', key.recipient)
    .execute();
}

export interface Deferral extends RecipientKey {
  error: string;
  /** Delay until the next attempt, counted on the database clock like every queue time. */
  delayMs: number;
}

/**
 * Records what a batch of deliveries achieved, in the caller's transaction: delivered and bounced
 * recipients are removed, deferred ones get their next attempt, and messages left without
 * recipients are removed. Bounces (DSNs) are inserted by the caller in the same transaction, so a
 * failure and its DSN commit together.
 */
export async function recordOutcomes(tx: Tx, owner: string, done: readonly RecipientKey[], deferred: readonly Deferral[]): Promise<string[]> {
  const messageIds = [...new Set([...done, ...deferred].map((k) => k.messageId))].sort();
  if (messageIds.length === 0) return [];
  // Two workers finishing different recipients of one message must not both conclude that the
  // other still has work left; locking the message rows (in a fixed order) serialises them.
  await sql`select id from mail_queue where id = any(${messageIds}::text[]) order by id for update`.execute(tx);
  if (done.length) {
    await sql`
      delete from mail_queue_recipients r
      using unnest(${done.map((k) => k.messageId)}::text[], ${done.map((k) => k.recipient)}::text[]) as k(message_id, recipient)
      where r.message_id = k.message_id and r.recipient = k.recipient`.execute(tx);
  }
  if (deferred.length) {
    // Only rows this worker still holds: if its lease ran out and another worker took the row
    // over, that worker's outcome is the one that counts.
    await sql`
      update mail_queue_recipients r
      set next_attempt_at = now() + k.delay_ms * interval '1 millisecond',
          last_error = k.error, last_attempt_at = now(), lease_owner = null
      from unnest(
        ${deferred.map((k) => k.messageId)}::text[],
        ${deferred.map((k) => k.recipient)}::text[],
        ${deferred.map((k) => Math.max(0, Math.round(k.delayMs)))}::float8[],
        ${deferred.map((k) => k.error.slice(0, 1000))}::text[]
      ) as k(message_id, recipient, delay_ms, error)
      where r.message_id = k.message_id and r.recipient = k.recipient and r.lease_owner = ${owner}`.execute(tx);
  }
  // Returns the removed messages that had block files: the caller removes those after the commit.
  const removed = await sql<{ id: string }>`
    delete from mail_queue q
    where q.id = any(${messageIds}::text[])
      and not exists (select 1 from mail_queue_recipients r where r.message_id = q.id)
    returning q.id, q.blocks_dir`.execute(tx);
  return (removed.rows as { id: string; blocks_dir: string | null }[]).filter((r) => r.blocks_dir !== null).map((r) => r.id);
}

/**
 * Records, in the transaction that queues the delay warnings, that these messages have had theirs;
 * returns the ids that had not been warned before (another node may have been first).
 */
export async function markDelayWarned(tx: Tx, messageIds: readonly string[]): Promise<string[]> {
  if (messageIds.length === 0) return [];
  const rows = await tx
    .updateTable('mail_queue')
    .set({ delay_warned: true })
    .where('id', 'in', [...messageIds])
    .where('delay_warned', '=', false)
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}

/** Gives claimed rows back before their lease ends (a worker stopping with work not started). */
export async function releaseClaims(db: Db, owner: string, keys: readonly RecipientKey[]): Promise<void> {
  if (keys.length === 0) return;
  await sql`
    update mail_queue_recipients r
    set next_attempt_at = now(), lease_owner = null, attempts = greatest(r.attempts - 1, 0)
    from unnest(${keys.map((k) => k.messageId)}::text[], ${keys.map((k) => k.recipient)}::text[]) as k(message_id, recipient)
    where r.message_id = k.message_id and r.recipient = k.recipient and r.lease_owner = ${owner}`.execute(db);
}

// Fan-out of one post: one queued message per member, through the gateway's own queue, so member
// copies are retried and bounced like any mail and one member's failure holds up nobody else.
//
// Idempotent across crashes: each member's copy is queued in the same transaction as the
// list_fanout row that says it was queued (unique per post and member). A fan-out that starts
// again (its worker died, its lease ran out) skips the members recorded, and a second worker
// racing the first loses the insert of the row and so queues nothing for that member: no member
// gets two copies, none gets none.
import { sql } from 'kysely';
import type { PublicKey } from 'openpgp';
import type { Db, Tx } from '../db/database.js';
import { insertMessages, newQueueId, type NewMessage, type NewRecipient } from '../gateway/queue-store.js';
import type { PlannedRecipient } from '../gateway/submission-route.js';
import type { Denial } from '../gateway/verdicts.js';
import { copyFor, type PreparedPost } from './member-copy.js';

export interface FanoutMember {
  address: string;
  key: PublicKey;
}

export interface FanoutPost {
  /** The queue id of the post. */
  id: string;
  listAddress: string;
  /** Envelope sender of the copies: the list owner, who gets their bounces; '' sends none. */
  sender: string;
  prepared: PreparedPost;
}

export interface FanoutDeps {
  db: Db;
  /** Where a member's copy goes (src/gateway/submission-route.ts). */
  route(address: string): Promise<PlannedRecipient | Denial>;
  now(): Date;
  /** Copies were committed: relay them now. */
  queued(count: number): void;
  /** A member the gateway cannot route (its domain refuses the address): no copy, a warning. */
  unroutable(member: string, denial: Denial): void;
  /** Members per transaction (default 50). */
  batchSize?: number;
}

/** Members of this post whose copies are already queued (or were found unroutable). */
export async function membersDone(db: Db, postId: string, listAddress: string): Promise<Set<string>> {
  const rows = await db.selectFrom('list_fanout').select('member').where('post_id', '=', postId).where('list_address', '=', listAddress).execute();
  return new Set(rows.map((r) => r.member));
}

/** Queues the copies still missing; returns how many were queued by this call. */
export async function fanOut(deps: FanoutDeps, post: FanoutPost, members: readonly FanoutMember[]): Promise<number> {
  const done = await membersDone(deps.db, post.id, post.listAddress);
  const todo = members.filter((m) => !done.has(m.address));
  const batchSize = deps.batchSize ?? 50;
  let queued = 0;
  for (let i = 0; i < todo.length; i += batchSize) {
    const batch = todo.slice(i, i + batchSize);
    const now = deps.now();
    const copies: { member: string; message: NewMessage; recipient: NewRecipient }[] = [];
    const skipped: string[] = [];
    const routed: { member: FanoutMember; planned: PlannedRecipient }[] = [];
    for (const m of batch) {
      const planned = await deps.route(m.address);
      if ('kind' in planned) {
        deps.unroutable(m.address, planned);
        skipped.push(m.address);
      } else routed.push({ member: m, planned });
    }
    // The batch's encryptions run side by side: the public-key and cipher work of openpgp.js
    // goes to WebCrypto, whose operations run on libuv's thread pool, off this thread.
    const bodies = await Promise.all(routed.map(({ member }) => copyFor(post.prepared, member.key, now)));
    routed.forEach(({ member, planned }, i) => {
      copies.push({
        member: member.address,
        message: { id: newQueueId(), kind: 'submission', sender: post.sender, traceHeaders: '', body: bodies[i] },
        recipient: { recipient: member.address, nextHop: planned.nextHop, mintBits: planned.mintBits },
      });
    });
    const stored = await deps.db.transaction().execute(async (tx) => {
      const rows = [
        ...copies.map((c) => ({ post_id: post.id, list_address: post.listAddress, member: c.member, message_id: c.message.id })),
        // An unroutable member is recorded too (with no message), so a resumed fan-out does not
        // look it up again; the warning was logged once.
        ...skipped.map((member) => ({ post_id: post.id, list_address: post.listAddress, member, message_id: '' })),
      ];
      if (!rows.length) return [];
      const won = await tx
        .insertInto('list_fanout')
        .values(rows)
        .onConflict((oc) => oc.columns(['post_id', 'list_address', 'member']).doNothing())
        .returning('member')
        .execute();
      const mine = new Set(won.map((r) => r.member));
      const items = copies.filter((c) => mine.has(c.member)).map((c) => ({ message: c.message, recipients: [c.recipient] }));
      await insertMessages(tx, items);
      return items;
    });
    queued += stored.length;
    if (stored.length) deps.queued(stored.length);
  }
  return queued;
}

/** Forgets a finished post's fan-out record, in the transaction that removes the post. */
export async function forgetFanout(tx: Tx, postId: string, listAddress: string): Promise<void> {
  await sql`delete from list_fanout where post_id = ${postId} and list_address = ${listAddress}`.execute(tx);
}

// Members' keys found through DNS are looked up again on a schedule
// (KEYPOST_LIST_KEY_RECHECK_INTERVAL) with the same checks as when they were added: a key that
// changed is taken over, a key that now fails a check (withdrawn, expired, no longer matching its
// fingerprint record) pauses the member, and the list owner is told once. A paused member whose key
// verifies again is resumed. A lookup DNS could not answer changes nothing: it is tried next round.
import type { Logger } from 'pino';
import type { Db } from '../db/database.js';
import { rfc5322Date } from '../gateway/headers.js';
import { insertMessages, newQueueId } from '../gateway/queue-store.js';
import type { PlannedRecipient } from '../gateway/submission-route.js';
import type { Denial } from '../gateway/verdicts.js';
import { findList, membersDueForCheck, pauseMember, recordGoodCheck, type ListMember } from './list-store.js';
import type { MemberKeyFinder } from './member-keys.js';

export interface RecheckDeps {
  db: Db;
  findKey: MemberKeyFinder;
  intervalMs: number;
  now(): Date;
  route(address: string): Promise<PlannedRecipient | Denial>;
  log: Logger;
  /** A notice to an owner was queued. */
  queued(): void;
}

function pauseNotice(list: string, owner: string, m: ListMember, reason: string, now: Date): Buffer {
  return Buffer.from(
    [
      `From: <${list}>`,
      `To: <${owner}>`,
      `Subject: ${list}: member ${m.member} paused`,
      `Date: ${rfc5322Date(now)}`,
      `Auto-Submitted: auto-generated`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=us-ascii',
      '',
      `The key of ${m.member} (${m.fingerprint}) no longer passes verification, so ${m.member}`,
      `gets no posts from ${list} until it does:`,
      '',
      `  ${reason.replace(/[^\x20-\x7e]/g, '?')}`,
      '',
      'The member is resumed by itself once the key it publishes verifies again, or when you',
      'give a key for it (keypost list member add --key).',
      '',
    ].join('\r\n'),
    'latin1',
  );
}

/** One round: every DNS-found member key checked longer ago than the interval. */
export async function recheckDueMembers(deps: RecheckDeps): Promise<void> {
  const now = deps.now();
  const due = await membersDueForCheck(deps.db, new Date(now.getTime() - deps.intervalMs), 500);
  for (const m of due) {
    const verdict = await deps.findKey(m.member, now);
    if (verdict.ok) {
      await recordGoodCheck(deps.db, m, verdict);
      if (m.status === 'paused') deps.log.info({ list: m.listAddress, member: m.member }, 'list member resumed: its key verifies again');
      continue;
    }
    if (verdict.temporary) continue;
    const list = await findList(deps.db, m.listAddress);
    const planned = list?.owner ? await deps.route(list.owner) : undefined;
    const notice = await deps.db.transaction().execute(async (tx) => {
      const newlyPaused = await pauseMember(tx, m, verdict.reason);
      if (!newlyPaused || !list?.owner || !planned || 'kind' in planned) return false;
      await insertMessages(tx, [
        {
          // A notice from the list itself, with the null reverse-path: nobody answers it (RFC 3834 §3.3).
          message: { id: newQueueId(), kind: 'submission', sender: '', traceHeaders: '', body: pauseNotice(list.address, list.owner, m, verdict.reason, now) },
          recipients: [{ recipient: list.owner, nextHop: planned.nextHop, mintBits: planned.mintBits }],
        },
      ]);
      return true;
    });
    deps.log.warn({ event: 'list-member-paused', list: m.listAddress, member: m.member, reason: verdict.reason, ownerTold: notice }, 'list member paused');
    if (notice) deps.queued();
  }
}

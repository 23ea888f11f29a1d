// What a delivery attempt means for each recipient, and the bounces failures turn into.
//   - accepted by the next hop: delivered;
//   - a 5xx (RFC 5321 section 4.2.1, permanent): failed, bounced to the sender;
//   - anything else (4xx, no connection, timeout): deferred with exponential backoff, until the
//     message is older than the maximum age: then failed as expired (RFC 3463 4.4.7).
import type { Logger } from 'pino';
import { GATEWAY_CODES } from './errors.js';
import { buildDsn, statusOf, type FailedRecipient } from './dsn.js';
import type { GatewayMetrics } from './metrics.js';
import { newQueueId, type ClaimedRecipient, type NewMessage, type NewRecipient, type QueuedMessage } from './queue-store.js';
import type { RecipientDirectory } from './recipients.js';
import type { DeliveryResult } from '../smtp/smtp-pool.js';

export type Outcome =
  | { row: ClaimedRecipient; kind: 'delivered' }
  | { row: ClaimedRecipient; kind: 'deferred'; error: string }
  | { row: ClaimedRecipient; kind: 'failed'; failure: FailedRecipient; message: QueuedMessage };

export interface ClassifyContext {
  now: Date;
  maxAgeMs: number;
  /** The host that answered (or was tried last). */
  host: string;
}

export function classifyDelivery(rows: ClaimedRecipient[], message: QueuedMessage, result: DeliveryResult, ctx: ClassifyContext): Outcome[] {
  const { host } = ctx;
  const expired = (row: ClaimedRecipient) => ctx.now.getTime() - row.receivedAt.getTime() >= ctx.maxAgeMs;
  const outcome = (row: ClaimedRecipient, code: number | undefined, response: string, remote: boolean): Outcome => {
    if (code !== undefined && code >= 500) {
      return {
        row,
        kind: 'failed',
        message,
        failure: { recipient: row.recipient, status: statusOf(response, true), diagnostic: response, remoteMta: remote ? host : undefined, smtpReply: remote },
      };
    }
    if (expired(row)) {
      return {
        row,
        kind: 'failed',
        message,
        failure: {
          recipient: row.recipient,
          status: code !== undefined ? statusOf(response, false).replace(/^4\.0\.0$/, '4.4.7') : '4.4.7',
          diagnostic: `delivery time expired; last error: ${response}`,
          remoteMta: remote && code !== undefined ? host : undefined,
          smtpReply: false,
        },
      };
    }
    return { row, kind: 'deferred', error: remote ? `${host}: ${response}` : response };
  };
  if (!result.ok && result.unsupported) {
    const { status, diagnostic } = result.unsupported;
    return rows.map((row) => ({
      row,
      kind: 'failed' as const,
      message,
      failure: { recipient: row.recipient, status, diagnostic: `${diagnostic}; next hop ${host}`, smtpReply: false },
    }));
  }
  if (!result.ok) return rows.map((row) => outcome(row, result.code, result.response, !result.connectFailed));
  const accepted = new Set(result.accepted.map((a) => a.toLowerCase()));
  const refused = new Map(result.refused.map((r) => [r.recipient.toLowerCase(), r]));
  return rows.map((row) => {
    const lower = row.recipient.toLowerCase();
    if (accepted.has(lower)) return { row, kind: 'delivered' as const };
    const r = refused.get(lower);
    return outcome(row, r?.code ?? 451, r?.response ?? 'recipient not acknowledged', true);
  });
}

/** The wait before attempt n+1: min doubling per attempt up to max, ±10% so bursts spread out. */
export function retryDelay(attempts: number, minMs: number, maxMs: number): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(30, Math.max(0, attempts - 1)));
  return base * (0.9 + Math.random() * 0.2);
}

export interface BounceContext {
  directory: RecipientDirectory;
  hostname: string;
  now: Date;
  metrics: GatewayMetrics;
  log: Logger;
}

/**
 * DSNs for failed recipients, one per message, routed like any mail to the original sender. A
 * lookup that fails throws, so the outcomes are recorded (and the DSN queued) on the next try.
 */
export async function bouncesFor(
  failed: { message: QueuedMessage; failures: FailedRecipient[] }[],
  ctx: BounceContext,
): Promise<{ message: NewMessage; recipients: NewRecipient[] }[]> {
  const out: { message: NewMessage; recipients: NewRecipient[] }[] = [];
  for (const { message, failures } of failed) {
    // Never bounce a bounce (RFC 5321 section 6.1, RFC 3464 section 1.1): null sender, dropped.
    if (message.sender === '' || message.kind === 'dsn') {
      ctx.metrics.deliveries.inc({ outcome: 'dropped' }, failures.length);
      ctx.log.warn({ queueId: message.id, failures }, 'undeliverable bounce dropped');
      continue;
    }
    const route = await ctx.directory.resolve(message.sender);
    const nextHop = route.ok
      ? route.route.nextHop
      : route.denial.code === GATEWAY_CODES.relayDenied
        ? ctx.directory.outboundHop(message.sender)
        : undefined;
    if (!nextHop) {
      ctx.log.warn({ queueId: message.id, sender: message.sender, code: route.ok ? undefined : route.denial.code }, 'no route for the bounce; dropped');
      continue;
    }
    const body = buildDsn({
      reportingMta: ctx.hostname,
      queueId: message.id,
      sender: message.sender,
      arrivalDate: message.receivedAt,
      now: ctx.now,
      original: Buffer.concat([Buffer.from(message.traceHeaders, 'latin1'), message.body]),
      failed: failures,
    });
    out.push({ message: { id: newQueueId(), kind: 'dsn', sender: '', traceHeaders: '', body }, recipients: [{ recipient: message.sender, nextHop }] });
  }
  return out;
}

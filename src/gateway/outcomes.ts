// What a delivery attempt means for each recipient, and the bounces failures turn into.
//   - accepted by the next hop: delivered;
//   - a 5xx (RFC 5321 section 4.2.1, permanent): failed, bounced to the sender;
//   - anything else (4xx, no connection, timeout): deferred with exponential backoff, until the
//     message is older than the maximum age: then failed as expired (RFC 3463 4.4.7).
import type { Logger } from 'pino';
import { GATEWAY_CODES } from './errors.js';
import { buildDsn, statusOf, type FailedRecipient, type ReportAction, type ReportedRecipient } from './dsn.js';
import type { GatewayMetrics } from './metrics.js';
import { newQueueId, type ClaimedRecipient, type NewMessage, type NewRecipient, type QueuedMessage } from './queue-store.js';
import type { RecipientDirectory } from './recipients.js';
import type { DeliveryResult } from '../smtp/smtp-pool.js';

export type Outcome =
  /** `relayedWithoutDsn`: the hop does not offer DSN, so a requested success report is ours to send. */
  | { row: ClaimedRecipient; kind: 'delivered'; message?: QueuedMessage; relayedWithoutDsn?: boolean; response?: string; host?: string }
  /** `message`, when known, lets the worker send the message's delay warning. */
  | { row: ClaimedRecipient; kind: 'deferred'; error: string; message?: QueuedMessage }
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
    return { row, kind: 'deferred', error: remote ? `${host}: ${response}` : response, message };
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
    if (accepted.has(lower)) return { row, kind: 'delivered' as const, message, relayedWithoutDsn: !result.hopOffersDsn, response: result.response, host };
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

/** Recipients of one message to report one event about. */
export interface PendingReport {
  message: QueuedMessage;
  action: ReportAction;
  recipients: ReportedRecipient[];
}

/** A report ready to queue, and the message and event it is about. */
export interface QueuedReport {
  message: NewMessage;
  recipients: NewRecipient[];
  about: string;
  action: ReportAction;
}

/**
 * Delivery status notifications, one per message and event, routed like any mail to the original
 * sender. Which recipients asked for which report (NOTIFY) is the caller's to decide. A lookup that
 * fails throws, so the outcomes are recorded (and the reports queued) on the next try.
 */
export async function reportsFor(pending: readonly PendingReport[], ctx: BounceContext): Promise<QueuedReport[]> {
  const out: QueuedReport[] = [];
  for (const { message, action, recipients } of pending) {
    if (recipients.length === 0) continue;
    // Never report on a report (RFC 5321 section 6.1, RFC 3464 section 1.1): null sender, dropped.
    if (message.sender === '' || message.kind === 'dsn') {
      if (action === 'failed') {
        ctx.metrics.deliveries.inc({ outcome: 'dropped' }, recipients.length);
        ctx.log.warn({ queueId: message.id, failures: recipients }, 'undeliverable bounce dropped');
      }
      continue;
    }
    const route = await ctx.directory.resolve(message.sender);
    const nextHop = route.ok
      ? route.route.nextHop
      : route.denial.code === GATEWAY_CODES.relayDenied
        ? ctx.directory.outboundHop(message.sender)
        : undefined;
    if (!nextHop) {
      ctx.log.warn({ queueId: message.id, sender: message.sender, action, code: route.ok ? undefined : route.denial.code }, 'no route for the delivery report; dropped');
      continue;
    }
    const body = buildDsn({
      reportingMta: ctx.hostname,
      queueId: message.id,
      sender: message.sender,
      arrivalDate: message.receivedAt,
      now: ctx.now,
      original: Buffer.concat([Buffer.from(message.traceHeaders, 'latin1'), message.body]),
      action,
      recipients,
      envid: message.dsn.envid,
      // A message in block files is returned by its header section only, whatever RET asks: RFC
      // 3461 section 4.3 lets a reporting MTA leave the content out, and a report that copied a
      // multi-gigabyte message into memory (and into the sender's mailbox) helps nobody.
      returnFull: message.dsn.ret === 'FULL' && !message.inBlocks,
    });
    out.push({ message: { id: newQueueId(), kind: 'dsn', sender: '', traceHeaders: '', body }, recipients: [{ recipient: message.sender, nextHop }], about: message.id, action });
  }
  return out;
}

// The one table from gateway codes to SMTP replies (RFC 5321 section 4.2 reply codes, RFC 3463
// enhanced status codes). The listener hides smtp-server's own enhanced-code guessing, which would
// label every 550 as 5.1.1 "mailbox unavailable", so the codes written here are the ones sent.
import { GATEWAY_CODES, type GatewayCode } from './errors.js';
import type { Denial } from './verdicts.js';

interface ReplySpec {
  status: number;
  enhanced: string;
  text(denial: Denial): string;
}

const quoted = (d: Denial) => (d.address !== undefined ? `<${d.address}>: ` : '');
const detail = (d: Denial) => (d.detail ? ` (${d.detail})` : '');

const REPLIES: Record<GatewayCode, ReplySpec> = {
  [GATEWAY_CODES.relayDenied]: { status: 554, enhanced: '5.7.1', text: (d) => `${quoted(d)}Relay access denied` },
  [GATEWAY_CODES.recipientUnknown]: {
    status: 550,
    enhanced: '5.1.1',
    text: (d) => `${quoted(d)}Recipient address rejected: no such address is published here`,
  },
  [GATEWAY_CODES.noNextHop]: {
    status: 451,
    enhanced: '4.3.5',
    text: (d) => `${quoted(d)}Recipient address deferred: no next hop is configured for this domain`,
  },
  [GATEWAY_CODES.stampRequired]: { status: 550, enhanced: '5.7.1', text: () => 'X-Hashcash stamp required' },
  [GATEWAY_CODES.messageTooBig]: {
    status: 552,
    enhanced: '5.3.4',
    text: (d) => `Message size exceeds fixed maximum message size${detail(d)}`,
  },
  [GATEWAY_CODES.lineTooLong]: {
    status: 550,
    enhanced: '5.6.0',
    text: (d) => `Message line too long${detail(d)}`,
  },
  [GATEWAY_CODES.storageBusy]: {
    status: 452,
    enhanced: '4.3.1',
    text: () => 'Insufficient system storage, try again later',
  },
  [GATEWAY_CODES.lookupFailed]: {
    status: 451,
    enhanced: '4.3.0',
    text: (d) => `${quoted(d)}Temporary lookup failure, try again later`,
  },
  [GATEWAY_CODES.dnsLookupFailed]: {
    status: 451,
    enhanced: '4.4.3',
    text: (d) => `${quoted(d)}Temporary DNS lookup failure, try again later${detail(d)}`,
  },
  [GATEWAY_CODES.queueFailed]: {
    status: 451,
    enhanced: '4.3.0',
    text: () => 'Queue write failed, message not accepted; try again later',
  },
  [GATEWAY_CODES.sessionTimeout]: {
    status: 421,
    enhanced: '4.4.2',
    text: () => 'Session time limit exceeded, closing connection',
  },
  [GATEWAY_CODES.authFailed]: {
    status: 535,
    enhanced: '5.7.8',
    text: () => 'Authentication credentials invalid',
  },
  [GATEWAY_CODES.shuttingDown]: {
    status: 421,
    enhanced: '4.3.2',
    text: () => 'Service shutting down, try again later',
  },
  [GATEWAY_CODES.messageNotFound]: { status: 550, enhanced: '5.0.0', text: () => 'No such message' },
  [GATEWAY_CODES.configInvalid]: { status: 451, enhanced: '4.3.5', text: () => 'Server configuration error' },
};

export function statusFor(code: GatewayCode): number {
  return REPLIES[code].status;
}

/** What smtp-server sends when a handler calls back with an error: responseCode and message. */
export interface SmtpReplyError extends Error {
  responseCode: number;
}

/**
 * The reply for a denial. Several lines (one per failing recipient) become a multi-line reply
 * (RFC 5321 section 4.2.1): smtp-server writes an array message as `550-...` lines ending `550 ...`.
 */
export function smtpReply(denial: Denial): SmtpReplyError {
  const spec = REPLIES[denial.code];
  const lines = denial.lines?.length ? denial.lines : [spec.text(denial)];
  const err = new Error(lines.join('; ')) as SmtpReplyError;
  err.responseCode = spec.status;
  const withCodes = lines.map((line) => `${spec.enhanced} ${line}`);
  // smtp-server's send() takes an array as a multi-line reply; Error#message is typed string only.
  (err as unknown as { message: string | string[] }).message = withCodes.length === 1 ? withCodes[0] : withCodes;
  return err;
}

/** The 250 that acknowledges a committed message; the queue id lets operators trace it. */
export function queuedReply(queueId: string): string {
  return `2.0.0 Ok: queued as ${queueId}`;
}

/** Successful RCPT/MAIL replies carry their enhanced codes too, since the table's replies do. */
export const AUTH_OK = '2.7.0 Authentication successful';

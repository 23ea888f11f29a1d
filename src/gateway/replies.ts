// The wording of the gateway's SMTP replies. Reply code and enhanced status (RFC 5321 section 4.2,
// RFC 3463) come from the one error table (src/protocol/errors.ts). The listener hides
// smtp-server's own enhanced-code guessing, which would label every 550 as 5.1.1 "mailbox
// unavailable", so the codes of the table are the ones sent.
import { smtpStatusFor } from '../protocol/errors.js';
import { GATEWAY_CODES, type GatewayCode } from './errors.js';
import type { Denial } from './verdicts.js';

const quoted = (d: Denial) => (d.address !== undefined ? `<${d.address}>: ` : '');
const detail = (d: Denial) => (d.detail ? ` (${d.detail})` : '');

const TEXTS: Record<GatewayCode, (denial: Denial) => string> = {
  [GATEWAY_CODES.addressInvalid]: (d) => `${quoted(d)}Recipient address rejected: not a valid mail address`,
  [GATEWAY_CODES.relayDenied]: (d) => `${quoted(d)}Relay access denied`,
  [GATEWAY_CODES.recipientUnknown]: (d) => `${quoted(d)}Recipient address rejected: no such address is published here`,
  [GATEWAY_CODES.noNextHop]: (d) => `${quoted(d)}Recipient address deferred: no next hop is configured for this domain`,
  [GATEWAY_CODES.stampRequired]: () => 'X-Hashcash stamp required',
  [GATEWAY_CODES.protectionRequired]: () => 'Message refused: a recipient accepts only protected mail',
  [GATEWAY_CODES.tooManyStamps]: (d) => `Too many X-Hashcash fields${detail(d)}`,
  [GATEWAY_CODES.messageTooBig]: (d) => `Message size exceeds fixed maximum message size${detail(d)}`,
  [GATEWAY_CODES.lineTooLong]: (d) => `Message line too long${detail(d)}`,
  [GATEWAY_CODES.storageBusy]: () => 'Insufficient system storage, try again later',
  [GATEWAY_CODES.lookupFailed]: (d) => `${quoted(d)}Temporary lookup failure, try again later`,
  [GATEWAY_CODES.dnsLookupFailed]: (d) => `${quoted(d)}Temporary DNS lookup failure, try again later${detail(d)}`,
  [GATEWAY_CODES.queueFailed]: () => 'Queue write failed, message not accepted; try again later',
  [GATEWAY_CODES.sessionTimeout]: () => 'Session time limit exceeded, closing connection',
  [GATEWAY_CODES.lineTimeout]: (d) => `Line not completed in time, closing connection${detail(d)}`,
  [GATEWAY_CODES.tooManyConnections]: (d) => `Too many connections from your address, try again later${detail(d)}`,
  [GATEWAY_CODES.authFailed]: () => 'Authentication credentials invalid',
  [GATEWAY_CODES.authConnectionLimit]: () => 'Too many failed authentication attempts, closing connection',
  [GATEWAY_CODES.authAddressLimit]: () => 'Too many failed authentication attempts from your address, try again later',
  [GATEWAY_CODES.authBusy]: () => 'Temporary authentication failure: too many authentications in progress, try again later',
  [GATEWAY_CODES.shuttingDown]: () => 'Service shutting down, try again later',
  [GATEWAY_CODES.messageNotFound]: () => 'No such message',
  [GATEWAY_CODES.configInvalid]: () => 'Server configuration error',
  [GATEWAY_CODES.protectedTooLarge]: (d) => `Message too large for a recipient that accepts only protected mail${detail(d)}`,
  [GATEWAY_CODES.listPostTooLarge]: (d) => `Message too large for a mailing list, which reads each post whole${detail(d)}`,
};

/** What smtp-server sends when a handler calls back with an error: responseCode and message. */
export interface SmtpReplyError extends Error {
  responseCode: number;
}

/**
 * The reply for a denial. Several lines (one per failing recipient) become a multi-line reply
 * (RFC 5321 section 4.2.1): smtp-server writes an array message as `550-...` lines ending `550 ...`.
 */
export function smtpReply(denial: Denial): SmtpReplyError {
  const spec = smtpStatusFor(denial.code);
  const lines = denial.lines?.length ? denial.lines : [TEXTS[denial.code](denial)];
  const err = new Error(lines.join('; ')) as SmtpReplyError;
  err.responseCode = spec.code;
  const withCodes = lines.map((line) => `${spec.enhanced} ${line}`);
  // smtp-server's send() takes an array as a multi-line reply; Error#message is typed string only.
  (err as unknown as { message: string | string[] }).message = withCodes.length === 1 ? withCodes[0] : withCodes;
  return err;
}

/** Why a denial was given, in the reply's words (without codes), for the mail log. */
export function denialReason(denial: Denial): string {
  return denial.lines?.length ? denial.lines.join('; ') : TEXTS[denial.code](denial);
}

/** A one-line reply as written on the wire (without CRLF), for replies sent outside a command. */
export function replyLine(denial: Denial): string {
  const spec = smtpStatusFor(denial.code);
  return `${spec.code} ${spec.enhanced} ${TEXTS[denial.code](denial)}`;
}

/** The 250 that acknowledges a committed message; the queue id lets operators trace it. */
export function queuedReply(queueId: string): string {
  return `2.0.0 Ok: queued as ${queueId}`;
}

/** Successful RCPT/MAIL replies carry their enhanced codes too, since the table's replies do. */
export const AUTH_OK = '2.7.0 Authentication successful';

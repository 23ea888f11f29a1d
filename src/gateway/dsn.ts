// Delivery status notifications: RFC 3464 reports in a multipart/report (RFC 6522) sent from the
// null sender (RFC 5321 section 4.5.5) back to the original sender, with the original header
// section attached (text/rfc822-headers) so the sender can tell which message it is about, or the
// whole message when a failure report was asked for with RET=FULL (RFC 3461 §4.3). One report
// speaks of one event: recipients that failed, that are delayed, or that were relayed to a next
// hop which does not offer DSN itself (RFC 3461 §6.2.3, action "relayed").
import { randomBytes } from 'node:crypto';
import { headerSectionEnd, rfc5322Date } from './headers.js';
import { originalRecipientField } from './dsn-request.js';

export interface FailedRecipient {
  recipient: string;
  /** RFC 3463 status, e.g. 5.1.1; 4.4.7 for mail that expired in the queue. */
  status: string;
  /** The remote server's reply, or what went wrong locally. */
  diagnostic: string;
  /** The host that gave the reply, when one did. */
  remoteMta?: string;
  /** True when the reply was an SMTP reply (Diagnostic-Code type smtp). */
  smtpReply: boolean;
}

export type ReportAction = 'failed' | 'delayed' | 'relayed';

export interface ReportedRecipient extends FailedRecipient {
  /** ORCPT as given with RCPT TO, reported back as Original-Recipient (RFC 3464 §2.3.1). */
  orcpt?: string | null;
}

export interface DsnInput {
  reportingMta: string;
  queueId: string;
  sender: string;
  arrivalDate: Date;
  now: Date;
  /** The original message (its header section is attached). */
  original: Buffer;
  action: ReportAction;
  recipients: ReportedRecipient[];
  /** ENVID of MAIL FROM, reported back as Original-Envelope-Id (RFC 3464 §2.2.1). */
  envid?: string | null;
  /** RET=FULL on a failure report: the whole message goes back, not only its header. */
  returnFull?: boolean;
}

const SUBJECTS: Record<ReportAction, string> = {
  failed: 'Undelivered Mail Returned to Sender',
  delayed: 'Delayed Mail (still being retried)',
  relayed: 'Successful Mail Delivery Report',
};

const SUMMARIES: Record<ReportAction, string> = {
  failed: 'Your message could not be delivered to one or more recipients.',
  delayed: 'Your message could not be delivered yet to one or more recipients; delivery is still being retried.',
  relayed: 'Your message was relayed to the next mail server for the recipients below. That server does not report\r\ndelivery, so this is the last notice you will receive from the mail system for them.',
};

/** The enhanced status in a reply like `550 5.1.1 ...`, else the class default. */
export function statusOf(reply: string, permanent: boolean): string {
  const m = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(reply.trim());
  if (m) return m[1];
  return permanent ? '5.0.0' : '4.0.0';
}

/** Header text must be one line of printable ASCII. */
function oneLine(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/[^\x20-\x7e]/g, '?').slice(0, 900);
}

export function buildDsn(input: DsnInput): Buffer {
  const boundary = `kp-${randomBytes(12).toString('hex')}`;
  const date = rfc5322Date(input.now);
  const headers = input.original.subarray(0, headerSectionEnd(input.original));
  // RFC 3461 §4.3: RET asks for the full message in failure reports only.
  const full = input.returnFull === true && input.action === 'failed';
  const lines = (...l: string[]) => l.join('\r\n') + '\r\n';

  const human = input.recipients
    .map((f) => `<${oneLine(f.recipient)}>: ${f.remoteMta ? `host ${oneLine(f.remoteMta)} said: ` : ''}${oneLine(f.diagnostic)}`)
    .join('\r\n\r\n');

  const perRecipient = input.recipients
    .map((f) =>
      lines(
        ...(f.orcpt ? [`Original-Recipient: ${oneLine(originalRecipientField(f.orcpt))}`] : []),
        `Final-Recipient: rfc822; ${oneLine(f.recipient)}`,
        `Action: ${input.action}`,
        `Status: ${f.status}`,
        ...(f.remoteMta ? [`Remote-MTA: dns; ${oneLine(f.remoteMta)}`] : []),
        `Diagnostic-Code: ${f.smtpReply ? 'smtp' : 'x-keypost'}; ${oneLine(f.diagnostic)}`,
        `Last-Attempt-Date: ${date}`,
      ),
    )
    .join('\r\n');

  const text =
    lines(
      `From: Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>`,
      `To: <${oneLine(input.sender)}>`,
      `Subject: ${SUBJECTS[input.action]}`,
      `Date: ${date}`,
      `Message-ID: <${input.queueId}.${Date.now()}.dsn@${input.reportingMta}>`,
      // RFC 3834 section 5: automatic responses are marked so that nothing answers them in turn.
      'Auto-Submitted: auto-replied',
      'MIME-Version: 1.0',
      `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
      '',
      'This is a MIME-encapsulated message.',
      '',
      `--${boundary}`,
      'Content-Description: Notification',
      'Content-Type: text/plain; charset=us-ascii',
      '',
      `This is the mail system at host ${input.reportingMta}.`,
      '',
      SUMMARIES[input.action],
      'The mail system reports:',
      '',
      human,
      '',
      `--${boundary}`,
      'Content-Description: Delivery report',
      'Content-Type: message/delivery-status',
      '',
      ...(input.envid ? [`Original-Envelope-Id: ${oneLine(input.envid)}`] : []),
      `Reporting-MTA: dns; ${input.reportingMta}`,
      `X-Keypost-Queue-ID: ${input.queueId}`,
      `Arrival-Date: ${rfc5322Date(input.arrivalDate)}`,
      '',
    ) +
    perRecipient +
    (full
      ? lines('', `--${boundary}`, 'Content-Description: Undelivered Message', 'Content-Type: message/rfc822', '')
      : lines('', `--${boundary}`, `Content-Description: ${input.action === 'failed' ? 'Undelivered ' : ''}Message Headers`, 'Content-Type: text/rfc822-headers', ''));
  const closing = Buffer.from(`\r\n--${boundary}--\r\n`);
  return Buffer.concat([Buffer.from(text, 'latin1'), full ? input.original : headers, closing]);
}

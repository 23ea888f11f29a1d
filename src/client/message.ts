// The message a sender hands to `keypost send`, split into header fields and body (RFC 5322 §2.1)
// so that headers can be added (X-Hashcash, missing From/Date/Message-ID) and the body wrapped for
// encryption, then written back with CRLF line ends as SMTP requires (RFC 5321 §2.3.8).
import { randomBytes } from 'node:crypto';
import { KeypostError } from '../errors.js';
import { CLIENT_CODES } from './errors.js';

export interface HeaderField {
  /** Field name as written. */
  name: string;
  /** Everything after the colon, folding kept, without the final CRLF. */
  value: string;
}

export interface MailMessage {
  fields: HeaderField[];
  /** Body with CRLF line ends. */
  body: Buffer;
}

// RFC 5322 §3.6.8: field names are printable US-ASCII except the colon.
const FIELD_LINE = /^([\x21-\x39\x3b-\x7e]+)[ \t]*:(.*)$/;

/** Bare LF and lone CR become CRLF, so the message is canonical for SMTP and for encryption. */
export function toCrlf(bytes: Buffer): Buffer {
  return Buffer.from(bytes.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n'), 'latin1');
}

/**
 * Splits a message. Input without a header section (its first line is not a field) is taken as a
 * plain-text body, so `echo hello | keypost send ...` works.
 */
export function parseMessage(raw: Buffer): MailMessage {
  const text = toCrlf(raw).toString('latin1');
  const fields: HeaderField[] = [];
  let offset = 0;
  while (offset < text.length) {
    const end = text.indexOf('\r\n', offset);
    const line = text.slice(offset, end < 0 ? text.length : end);
    const next = end < 0 ? text.length : end + 2;
    if (line === '') {
      offset = next;
      break;
    }
    if ((line.startsWith(' ') || line.startsWith('\t')) && fields.length) {
      fields[fields.length - 1].value += `\r\n${line}`;
    } else {
      const match = FIELD_LINE.exec(line);
      if (!match) {
        if (fields.length === 0) break; // no header section at all: everything is body
        throw new KeypostError(CLIENT_CODES.messageInvalid, `line ${fields.length + 1} of the header is not a header field: "${line.slice(0, 60)}"`);
      }
      fields.push({ name: match[1], value: match[2] });
    }
    offset = next;
  }
  return { fields, body: Buffer.from(text.slice(offset), 'latin1') };
}

export function headerValue(message: MailMessage, name: string): string | undefined {
  const field = message.fields.find((f) => f.name.toLowerCase() === name.toLowerCase());
  return field?.value.replace(/\r\n[ \t]/g, ' ').trim();
}

export function hasHeader(message: MailMessage, name: string): boolean {
  return message.fields.some((f) => f.name.toLowerCase() === name.toLowerCase());
}

/** Writes fields and body back as one CRLF message. */
export function formatMessage(message: MailMessage): Buffer {
  const head = message.fields.map((f) => `${f.name}:${f.value.startsWith(' ') || f.value === '' ? '' : ' '}${f.value}\r\n`).join('');
  return Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), message.body]);
}

/** RFC 5322 §3.3 date-time in UTC, e.g. "Fri, 27 Nov 2026 23:05:00 +0000". */
export function rfc5322Date(date: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${days[date.getUTCDay()]}, ${pad(date.getUTCDate())} ${months[date.getUTCMonth()]} ${date.getUTCFullYear()} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}

/**
 * Adds what RFC 5322 §3.6 requires and a bare body lacks: From and Date (mandatory), To for the
 * recipients, Message-ID (should be present), taken from the envelope where needed.
 */
export function completeHeaders(message: MailMessage, envelope: { from: string; to: string[] }, now: Date): MailMessage {
  const added: HeaderField[] = [];
  if (!hasHeader(message, 'from')) added.push({ name: 'From', value: ` <${envelope.from}>` });
  if (!hasHeader(message, 'to') && !hasHeader(message, 'cc') && !hasHeader(message, 'bcc')) {
    added.push({ name: 'To', value: ` ${envelope.to.map((a) => `<${a}>`).join(', ')}` });
  }
  if (!hasHeader(message, 'date')) added.push({ name: 'Date', value: ` ${rfc5322Date(now)}` });
  if (!hasHeader(message, 'message-id')) {
    const domain = envelope.from.slice(envelope.from.lastIndexOf('@') + 1) || 'localhost';
    added.push({ name: 'Message-ID', value: ` <${randomBytes(12).toString('hex')}@${domain}>` });
  }
  return { fields: [...message.fields, ...added], body: message.body };
}

/** Prepends fields (X-Hashcash goes on top, where a trace field would). */
export function prependFields(message: MailMessage, fields: HeaderField[]): MailMessage {
  return { fields: [...fields, ...message.fields], body: message.body };
}

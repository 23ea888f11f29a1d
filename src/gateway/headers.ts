// The header section of a received message: where it ends, its fields (unfolded), and the
// trace/verdict fields the gateway puts in front of it. The message itself is never re-encoded,
// so the body the next hop receives is byte for byte the one the sender sent.
import { stampFromHeaderValue } from '../pow/stamp.js';
import { headerSectionEnd } from '../smtp/header-section.js';

export { headerSectionEnd };

/** The header field that records the stamp verdict for the next hop. */
export const VERDICT_HEADER = 'X-Keypost-Stamp';

export interface HeaderField {
  /** Field name as written. */
  name: string;
  /** The value with folding removed (RFC 5322 section 2.2.3) and surrounding whitespace trimmed. */
  value: string;
  /** The raw value including folds, as needed where whitespace inside the value is significant. */
  raw: string;
  /** Byte offsets of the whole field (name through the CRLF ending its last line). */
  start: number;
  end: number;
}

/** The fields of the header section (latin1 keeps byte offsets and 8-bit octets intact). */
export function parseHeaderFields(message: Buffer, end = headerSectionEnd(message)): HeaderField[] {
  const text = message.toString('latin1', 0, end);
  const fields: HeaderField[] = [];
  let current: { name: string; rawStart: number; start: number } | undefined;
  let pos = 0;
  const finish = (until: number) => {
    if (!current) return;
    const raw = text.slice(current.rawStart, until).replace(/\r?\n$/, '');
    fields.push({
      name: current.name,
      raw,
      value: raw.replace(/\r?\n(?=[ \t])/g, '').trim(),
      start: current.start,
      end: until,
    });
    current = undefined;
  };
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const lineEnd = nl < 0 ? text.length : nl + 1;
    const line = text.slice(pos, lineEnd);
    if (line === '\r\n' || line === '\n') break;
    if (line[0] === ' ' || line[0] === '\t') {
      // A continuation line belongs to the field before it; one before any field is ignored.
    } else {
      finish(pos);
      const colon = line.indexOf(':');
      if (colon > 0) current = { name: line.slice(0, colon).trim(), rawStart: pos + colon + 1, start: pos };
    }
    pos = lineEnd;
  }
  finish(pos);
  return fields;
}

/** Every stamp in `X-Hashcash:` fields, whitespace of hashcash-style folds removed. */
export function stampsIn(fields: readonly HeaderField[]): string[] {
  return fields.filter((f) => f.name.toLowerCase() === 'x-hashcash').map((f) => stampFromHeaderValue(f.raw)).filter(Boolean);
}

/**
 * The message without fields named `name`. A sender must not be able to hand the next hop a
 * verdict it did not earn, so an incoming X-Keypost-Stamp is removed the way RFC 8601 section 5
 * has MTAs remove forged Authentication-Results. Returns the same buffer when there is none.
 */
export function withoutFields(message: Buffer, fields: readonly HeaderField[], name: string): Buffer {
  const lower = name.toLowerCase();
  const drop = fields.filter((f) => f.name.toLowerCase() === lower);
  if (drop.length === 0) return message;
  const parts: Buffer[] = [];
  let pos = 0;
  for (const f of drop) {
    parts.push(message.subarray(pos, f.start));
    pos = f.end;
  }
  parts.push(message.subarray(pos));
  return Buffer.concat(parts);
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');

/** RFC 5322 section 3.3 date-time, in UTC. */
export function rfc5322Date(date: Date): string {
  return (
    `${DAYS[date.getUTCDay()]}, ${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
  );
}

/** Keeps text that came from the client from breaking a header line. */
function headerSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]+/g, '?').slice(0, 255);
}

export interface ReceivedFacts {
  helo: string;
  clientAddress: string;
  clientHostname?: string;
  hostname: string;
  /** ESMTP, ESMTPS, ESMTPSA, ... (RFC 3848). */
  protocol: string;
  queueId: string;
  /** Named only for single-recipient messages, so Bcc recipients stay hidden (RFC 5321 section 4.4). */
  recipient?: string;
  date: Date;
  tls?: string;
}

/** The Received trace field (RFC 5321 section 4.4), folded to stay under 78 characters a line. */
export function receivedHeader(f: ReceivedFacts): string {
  const from = `from ${headerSafe(f.helo || 'unknown')} (${headerSafe(f.clientHostname || 'unknown')} [${f.clientAddress}])`;
  const by = `by ${f.hostname} (keypost) with ${f.protocol}${f.tls ? ` (${headerSafe(f.tls)})` : ''} id ${f.queueId}`;
  const forPart = f.recipient ? `\r\n\tfor <${headerSafe(f.recipient)}>` : '';
  return `Received: ${from}\r\n\t${by}${forPart};\r\n\t${rfc5322Date(f.date)}\r\n`;
}

export type StampVerdict =
  | { result: 'pass'; bits: number; recipients: number }
  | { result: 'exempt'; reason: string }
  | { result: 'minted'; bits: number };

/**
 * The field recording what the gateway decided about stamps, for the next hop's filters. It names
 * the deciding host like Authentication-Results (RFC 8601) does, and no recipient addresses.
 */
export function verdictHeader(hostname: string, verdict: StampVerdict): string {
  switch (verdict.result) {
    case 'pass':
      return `${VERDICT_HEADER}: ${hostname}; hashcash=pass bits=${verdict.bits} recipients=${verdict.recipients}\r\n`;
    case 'exempt':
      return `${VERDICT_HEADER}: ${hostname}; hashcash=none (exempt: ${headerSafe(verdict.reason)})\r\n`;
    case 'minted':
      return `${VERDICT_HEADER}: ${hostname}; hashcash=minted bits=${verdict.bits}\r\n`;
  }
}

// The content of a message as one MIME entity (RFC 2045): its Content-* fields and body, which is
// what PGP/MIME encrypts or signs, while the envelope-level fields (From, To, Subject...) stay on
// the outer message.
import type { HeaderField, MailMessage } from './message.js';

export const isContentField = (f: HeaderField) => /^content-/i.test(f.name);
export const isMimeVersion = (f: HeaderField) => /^mime-version$/i.test(f.name);

/** The message's content as one MIME entity: its own Content-* fields, or RFC 2045 defaults that fit the body. */
export function contentEntity(message: MailMessage): MailMessage {
  let fields = message.fields.filter(isContentField);
  if (!fields.some((f) => /^content-type$/i.test(f.name))) {
    // RFC 2045 §5.2 would default to us-ascii; a body with 8-bit octets is declared as UTF-8.
    const eightBit = message.body.some((b) => b > 0x7f);
    fields = [
      { name: 'Content-Type', value: ` text/plain; charset=${eightBit ? 'utf-8' : 'us-ascii'}` },
      ...(fields.some((f) => /^content-transfer-encoding$/i.test(f.name))
        ? []
        : [{ name: 'Content-Transfer-Encoding', value: eightBit ? ' 8bit' : ' 7bit' }]),
      ...fields,
    ];
  }
  return { fields, body: message.body };
}

/** The inner MIME entity's octets. */
export function innerEntity(message: MailMessage): Buffer {
  const { fields, body } = contentEntity(message);
  const head = fields.map((f) => `${f.name}:${f.value}\r\n`).join('');
  return Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), body]);
}


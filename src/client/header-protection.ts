// Header protection (RFC 9788), as current mail clients write it for OpenPGP: the root of the
// cryptographic payload carries copies of the message's own header fields, so the signature covers
// Subject, From, To, Date and Message-ID, not only the body. Its Content-Type gets `hp="clear"`
// when the payload is only signed and `hp="cipher"` when it is encrypted; an encrypted payload also
// records, in HP-Outer fields, what the unprotected outer header showed (RFC 9788 §2.2), and the
// outer Subject may be replaced by "[...]" (RFC 9788 §3.2.3) so that relays never read it.
import { KeypostError } from '../errors.js';
import { encodeQuotedPrintable, needsEncodingForSigning } from '../mime/transfer-encoding.js';
import { CLIENT_CODES } from './errors.js';
import { contentEntity, isContentField, isMimeVersion } from './content-entity.js';
import { headerValue, type HeaderField, type MailMessage } from './message.js';

/** The fields RFC 9788 §2.1.1 names as the ones a reader shows; these are copied inward. */
const PROTECTED = ['from', 'to', 'cc', 'reply-to', 'subject', 'date', 'message-id', 'in-reply-to', 'references'];

/** What replaces a hidden Subject in the outer header (RFC 9788 §3.2.3). */
export const OBSCURED_SUBJECT = '[...]';

export interface ProtectedPayload {
  /** The cryptographic payload's root entity: protected fields, Content-* fields, body. */
  entity: Buffer;
  /** The header the message travels with, without its Content-* fields. */
  outer: HeaderField[];
}

export function protectHeaders(message: MailMessage, mode: 'clear' | 'cipher', options: { hideSubject?: boolean } = {}): ProtectedPayload {
  if (options.hideSubject && mode !== 'cipher') {
    throw new KeypostError(CLIENT_CODES.messageInvalid, 'the Subject can only be hidden in an encrypted message');
  }
  const content = contentEntity(message);
  let body = content.body;
  let contentFields = content.fields;
  // A signed part must come through every relay unchanged (RFC 3156 §5): 8-bit text, trailing
  // blanks and long lines are quoted-printable encoded first. A multipart body cannot be re-encoded
  // here without rewriting its parts, so it must already be 7-bit clean.
  if (needsEncodingForSigning(body)) {
    const type = headerValue(content, 'content-type') ?? '';
    const encoding = (headerValue(content, 'content-transfer-encoding') ?? '7bit').toLowerCase();
    if (/^\s*multipart\//i.test(type) || !['7bit', '8bit', 'binary'].includes(encoding)) {
      throw new KeypostError(CLIENT_CODES.messageInvalid, 'a multipart or already-encoded body must be 7-bit clean to be signed; encode its parts as quoted-printable or base64');
    }
    body = encodeQuotedPrintable(body);
    contentFields = [
      ...contentFields.filter((f) => !/^content-transfer-encoding$/i.test(f.name)),
      { name: 'Content-Transfer-Encoding', value: ' quoted-printable' },
    ];
  }
  contentFields = contentFields.map((f) => (/^content-type$/i.test(f.name) ? { name: f.name, value: `${f.value.replace(/\s+$/, '')}; hp="${mode}"` } : f));

  const envelope = message.fields.filter((f) => !isContentField(f) && !isMimeVersion(f));
  const inner = envelope.filter((f) => PROTECTED.includes(f.name.toLowerCase()));
  const outer = envelope.map((f) => (options.hideSubject && /^subject$/i.test(f.name) ? { name: f.name, value: ` ${OBSCURED_SUBJECT}` } : f));
  const hpOuter: HeaderField[] =
    mode === 'cipher'
      ? outer.filter((f) => PROTECTED.includes(f.name.toLowerCase())).map((f) => ({ name: 'HP-Outer', value: ` ${f.name}:${f.value}` }))
      : [];

  const head = [...contentFields, ...inner, ...hpOuter].map((f) => `${f.name}:${f.value.startsWith(' ') ? '' : ' '}${f.value}\r\n`).join('');
  return { entity: Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), body]), outer };
}

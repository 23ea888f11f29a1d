// A MIME entity tree read off the raw octets of a message (RFC 2045, RFC 2046), keeping each part's
// exact octets: a multipart/signed signature covers its first part byte for byte (RFC 1847 §2.1,
// RFC 3156 §5), so a verifier must see that part as it was sent, not as a parser re-wrote it.
//
// The input is put in canonical form first (every line ending CRLF), which is the form RFC 3156 §5
// signs; a message saved with bare LF (as most mail tools store it) verifies the same way.
import { decodeBody } from './transfer-encoding.js';

export interface EntityField {
  /** Field name as written. */
  name: string;
  /** The value unfolded (RFC 5322 §2.2.3) and trimmed. */
  value: string;
}

export interface ContentType {
  /** Lowercased "type/subtype"; "text/plain" when the entity has none (RFC 2045 §5.2). */
  mediaType: string;
  /** Parameter names lowercased; values unquoted. */
  params: Record<string, string>;
}

export interface MimeEntity {
  fields: EntityField[];
  contentType: ContentType;
  /** The entity's octets: header section, blank line and body (CRLF line ends). */
  raw: Buffer;
  /** The body as it stands in the entity, still transfer-encoded. */
  body: Buffer;
  /** multipart/*: its body parts; message/rfc822: the one enclosed message. */
  children: MimeEntity[];
}

/** Deeper nesting than this is not mail anyone writes, and would let a message exhaust the stack. */
const MAX_DEPTH = 32;

export function toCanonicalLineEnds(raw: Buffer): Buffer {
  return Buffer.from(raw.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n'), 'latin1');
}

/** Splits "type/subtype; a=b; c="d e"" into its media type and parameters (RFC 2045 §5.1). */
export function parseContentType(value: string | undefined): ContentType {
  if (!value) return { mediaType: 'text/plain', params: {} };
  const [head, ...rest] = splitParams(value);
  const mediaType = head.trim().toLowerCase();
  const params: Record<string, string> = {};
  for (const param of rest) {
    const eq = param.indexOf('=');
    if (eq < 0) continue;
    const name = param.slice(0, eq).trim().toLowerCase();
    let v = param.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    params[name] = v;
  }
  return { mediaType: /^[^/\s]+\/[^/\s]+$/.test(mediaType) ? mediaType : 'text/plain', params };
}

/** Splits at semicolons outside quoted strings. */
function splitParams(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && quoted && i + 1 < value.length) {
      current += c + value[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ';' && !quoted) {
      out.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  out.push(current);
  return out;
}

export function fieldValue(entity: { fields: EntityField[] }, name: string): string | undefined {
  return entity.fields.find((f) => f.name.toLowerCase() === name.toLowerCase())?.value;
}

function parseFields(header: string): EntityField[] {
  const fields: EntityField[] = [];
  for (const line of header.split('\r\n')) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && fields.length) {
      fields[fields.length - 1].value += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue; // not a field: RFC 5322 readers skip what they cannot parse
    fields.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() });
  }
  return fields;
}

/**
 * The body parts of a multipart body (RFC 2046 §5.1.1): each part runs from the line after a
 * delimiter to the CRLF before the next one, which belongs to the delimiter, not to the part.
 */
function splitMultipart(body: string, boundary: string): string[] {
  const marker = `--${boundary}`;
  const parts: string[] = [];
  let partStart = -1;
  let search = 0;
  for (;;) {
    const at = body.indexOf(marker, search);
    if (at < 0) break;
    search = at + marker.length;
    if (at !== 0 && body.slice(at - 2, at) !== '\r\n') continue; // not at a line start
    const lineEnd = body.indexOf('\r\n', at);
    const rest = body.slice(at + marker.length, lineEnd < 0 ? body.length : lineEnd);
    const closing = rest.startsWith('--');
    // Only transport padding may follow a delimiter on its line.
    if (!/^[ \t]*$/.test(closing ? rest.slice(2) : rest)) continue;
    if (partStart >= 0) parts.push(body.slice(partStart, at === 0 ? 0 : at - 2));
    if (closing || lineEnd < 0) return parts;
    partStart = lineEnd + 2;
    search = partStart;
  }
  // No close delimiter: what follows the last delimiter is the last part (a lenient reader's choice).
  if (partStart >= 0) parts.push(body.slice(partStart));
  return parts;
}

function parseAt(raw: string, depth: number): MimeEntity {
  let headerEnd: number;
  let bodyStart: number;
  if (raw.startsWith('\r\n')) {
    headerEnd = 0;
    bodyStart = 2;
  } else {
    const blank = raw.indexOf('\r\n\r\n');
    headerEnd = blank < 0 ? raw.length : blank;
    bodyStart = blank < 0 ? raw.length : blank + 4;
  }
  const fields = parseFields(raw.slice(0, headerEnd));
  const contentType = parseContentType(fieldValue({ fields }, 'content-type'));
  const bodyText = raw.slice(bodyStart);
  const children: MimeEntity[] = [];
  if (depth < MAX_DEPTH) {
    if (contentType.mediaType.startsWith('multipart/') && contentType.params.boundary) {
      for (const part of splitMultipart(bodyText, contentType.params.boundary)) children.push(parseAt(part, depth + 1));
    } else if (contentType.mediaType === 'message/rfc822') {
      children.push(parseAt(decodeText(bodyText, fieldValue({ fields }, 'content-transfer-encoding')), depth + 1));
    }
  }
  return { fields, contentType, raw: Buffer.from(raw, 'latin1'), body: Buffer.from(bodyText, 'latin1'), children };
}

/** A message/rfc822 body is 7bit, 8bit or binary by RFC 2046 §5.2.1, but senders do base64 it. */
function decodeText(body: string, encoding: string | undefined): string {
  return decodeBody(Buffer.from(body, 'latin1'), encoding).toString('latin1');
}

export function parseEntity(raw: Buffer): MimeEntity {
  return parseAt(toCanonicalLineEnds(raw).toString('latin1'), 0);
}

/** Every entity of the tree, the root first, depth first. */
export function* walkEntities(root: MimeEntity): Generator<MimeEntity> {
  yield root;
  for (const child of root.children) yield* walkEntities(child);
}

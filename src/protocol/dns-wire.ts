// DNS wire-format constants and name helpers (RFC 1035 §3.1, §4.1.4). Names inside keypost are kept
// as "wire keys": the uncompressed wire form, ASCII-lowercased, as a latin1 string. Such a key is
// unambiguous (length octets separate labels, so a '.' inside a label stays distinct) and the key of
// a suffix is a substring, so zone lookups never rebuild names.

export const TYPE = {
  A: 1,
  NS: 2,
  SOA: 6,
  HINFO: 13,
  TXT: 16,
  AAAA: 28,
  CERT: 37,
  OPT: 41,
  OPENPGPKEY: 61,
  TSIG: 250,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
} as const;

export const CLASS = { IN: 1, NONE: 254, ANY: 255 } as const;

export const OPCODE = { QUERY: 0, NOTIFY: 4 } as const;

/** Header RCODEs (RFC 1035 §4.1.1, RFC 2136 §2.2) and the extended ones carried in OPT/TSIG. */
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  NOTAUTH: 9,
  /** RFC 6891 §6.1.3: 16 = extended rcode 1 in OPT, header rcode 0. */
  BADVERS: 16,
  /** RFC 7873 §8: the server cookie was missing or stale; retry with the one in this reply. */
  BADCOOKIE: 23,
} as const;

/** The mnemonic of an rcode (RFC 1035 §4.1.1, RFC 6895 §2.3), e.g. REFUSED for 5; the number otherwise. */
export function rcodeName(rcode: number): string {
  return Object.entries(RCODE).find(([, value]) => value === rcode)?.[0] ?? `rcode ${rcode}`;
}

/** Header flag bits in the 16-bit flags word. */
export const FLAG = { QR: 0x8000, AA: 0x0400, TC: 0x0200, RD: 0x0100, RA: 0x0080, AD: 0x0020, CD: 0x0010 } as const;

export const HEADER_LENGTH = 12;
/** RFC 1035 §2.3.4. */
export const MAX_NAME_LENGTH = 255;
export const MAX_LABEL_LENGTH = 63;

/** Splits a presentation name (`a.example.org`, trailing dot optional, `\.` escapes a dot) into labels. */
export function splitName(name: string): string[] {
  const text = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  if (text === '') return [];
  const labels: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length) {
      current += text[++i];
    } else if (c === '.') {
      labels.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  labels.push(current);
  return labels;
}

/** Uncompressed wire form of a label list (original case). Throws on oversized labels or names. */
export function encodeLabels(labels: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, 'latin1');
    if (bytes.length === 0 || bytes.length > MAX_LABEL_LENGTH) throw new RangeError(`bad label length in "${labels.join('.')}"`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  const wire = Buffer.concat(parts);
  if (wire.length > MAX_NAME_LENGTH) throw new RangeError(`name too long: "${labels.join('.')}"`);
  return wire;
}

export function encodeName(name: string): Buffer {
  return encodeLabels(splitName(name));
}

/**
 * ASCII-lowercases `bytes[start, end)` into a latin1 string (RFC 4343: only A-Z fold). Built in a
 * byte buffer and decoded once, so the result is a flat string (character-by-character
 * concatenation would leave a rope of one node per character, costly both to hash and to keep).
 */
export function wireKey(bytes: Uint8Array, start: number, end: number): string {
  const out = end - start <= scratch.length ? scratch : Buffer.allocUnsafe(end - start);
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    out[i - start] = b >= 0x41 && b <= 0x5a ? b + 32 : b;
  }
  return out.toString('latin1', 0, end - start);
}

const scratch = Buffer.allocUnsafe(MAX_NAME_LENGTH + 1);

export function nameKey(name: string): string {
  const wire = encodeName(name);
  return wireKey(wire, 0, wire.length);
}

/** Presentation form of a wire key or wire name (RFC 1035 §5.1 escapes), with a trailing dot. */
export function keyToName(key: string): string {
  let out = '';
  let i = 0;
  while (i < key.length) {
    const len = key.charCodeAt(i);
    if (len === 0) break;
    for (let j = i + 1; j <= i + len; j++) {
      const c = key.charCodeAt(j);
      if (c === 0x2e || c === 0x5c || c === 0x22 || c === 0x3b || c === 0x28 || c === 0x29 || c === 0x40 || c === 0x24) {
        out += `\\${key[j]}`;
      } else if (c <= 0x20 || c >= 0x7f) {
        out += `\\${String(c).padStart(3, '0')}`;
      } else {
        out += key[j];
      }
    }
    out += '.';
    i += len + 1;
  }
  return out === '' ? '.' : out;
}

export interface DecodedName {
  /** Uncompressed wire form with the original case. */
  wire: Buffer;
  /** Offset just past the name where it started (after the first pointer, if any). */
  next: number;
}

/**
 * Reads a possibly compressed name (RFC 1035 §4.1.4). Returns null on anything malformed: running
 * off the end, reserved label types, pointers that do not point strictly backwards (which rules out
 * loops without counting hops), or a name longer than 255 octets.
 */
export function readName(msg: Uint8Array, offset: number): DecodedName | null {
  const parts: number[] = [];
  let pos = offset;
  let next = -1;
  let floor = offset;
  for (;;) {
    if (pos >= msg.length) return null;
    const len = msg[pos];
    if (len === 0) {
      parts.push(0);
      if (next < 0) next = pos + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= msg.length) return null;
      const target = ((len & 0x3f) << 8) | msg[pos + 1];
      if (target >= floor) return null;
      if (next < 0) next = pos + 2;
      floor = target;
      pos = target;
      continue;
    }
    if (kind !== 0) return null;
    if (pos + 1 + len > msg.length) return null;
    for (let i = pos; i <= pos + len; i++) parts.push(msg[i]);
    if (parts.length + 1 > MAX_NAME_LENGTH) return null;
    pos += len + 1;
  }
  return { wire: Buffer.from(parts), next };
}

/** Offset just past a possibly compressed name, or -1; checks the same rules as readName. */
export function skipName(msg: Uint8Array, offset: number): number {
  const decoded = readName(msg, offset);
  return decoded ? decoded.next : -1;
}

export function readU16(msg: Uint8Array, offset: number): number {
  return (msg[offset] << 8) | msg[offset + 1];
}

export function readU32(msg: Uint8Array, offset: number): number {
  return ((msg[offset] << 24) >>> 0) + (msg[offset + 1] << 16) + (msg[offset + 2] << 8) + msg[offset + 3];
}

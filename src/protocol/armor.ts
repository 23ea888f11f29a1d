// ASCII armour (RFC 9580 §6, RFC 4880 §6.2) for public key blocks, written here rather than through
// openpgp.js because the directory armours on every VKS/HKP answer: a base64 pass and a table CRC
// are a few microseconds, and dearmouring must report "more than one block" and "private key
// block" as typed outcomes instead of whatever the library throws.

const BEGIN = /^-----BEGIN PGP ([A-Z ,0-9/]+)-----\s*$/;
const END = /^-----END PGP ([A-Z ,0-9/]+)-----\s*$/;

/** CRC-24 of RFC 4880 §6.1 (init 0xB704CE, generator 0x1864CFB), table-driven. */
const CRC24_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 16;
    for (let bit = 0; bit < 8; bit++) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= 0x1864cfb;
    }
    table[i] = crc & 0xffffff;
  }
  return table;
})();

export function crc24(bytes: Uint8Array): number {
  let crc = 0xb704ce;
  for (let i = 0; i < bytes.length; i++) crc = ((crc << 8) ^ CRC24_TABLE[((crc >> 16) ^ bytes[i]) & 0xff]) & 0xffffff;
  return crc;
}

/**
 * Armours a binary transferable public key. Lines are 64 characters (RFC 4880 §6.3, what GnuPG
 * writes); the CRC line is kept because GnuPG 2.2 and older clients still check it when present
 * (RFC 9580 §6.2 makes it optional, not forbidden, for v4 material).
 */
export function armor(bytes: Uint8Array): string {
  const b64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  const lines: string[] = ['-----BEGIN PGP PUBLIC KEY BLOCK-----', ''];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  const crc = crc24(bytes);
  lines.push('=' + Buffer.from([crc >> 16, (crc >> 8) & 0xff, crc & 0xff]).toString('base64'));
  lines.push('-----END PGP PUBLIC KEY BLOCK-----', '');
  return lines.join('\n');
}

export type Dearmored =
  | { ok: true; bytes: Uint8Array }
  | { ok: false; problem: 'no-armor' | 'private-block' | 'multiple-blocks' | 'wrong-block-type' | 'malformed' };

/**
 * Extracts the one PUBLIC KEY BLOCK in `text`. Armour headers ("Comment: ...") are skipped; lines
 * outside the block (a mail body, a web form's surrounding text) are ignored, as GnuPG does.
 */
export function dearmorKeyBlock(text: string): Dearmored {
  const lines = text.split(/\r?\n/);
  const blocks: { type: string; start: number; end: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const begin = BEGIN.exec(lines[i]);
    if (!begin) continue;
    let end = i + 1;
    while (end < lines.length && !END.test(lines[end])) end++;
    if (end >= lines.length) return { ok: false, problem: 'malformed' };
    blocks.push({ type: begin[1], start: i, end });
    i = end;
  }
  if (blocks.length === 0) return { ok: false, problem: 'no-armor' };
  if (blocks.some((b) => b.type === 'PRIVATE KEY BLOCK' || b.type === 'SECRET KEY BLOCK')) {
    return { ok: false, problem: 'private-block' };
  }
  if (blocks.length > 1) return { ok: false, problem: 'multiple-blocks' };
  const [block] = blocks;
  if (block.type !== 'PUBLIC KEY BLOCK') return { ok: false, problem: 'wrong-block-type' };

  // RFC 9580 §6.2: header lines "Key: Value" up to an empty line, then base64, then "=CRC".
  let i = block.start + 1;
  while (i < block.end && /^[A-Za-z0-9-]+: /.test(lines[i])) i++;
  if (i < block.end && lines[i].trim() === '') i++;
  let body = '';
  let checksum: string | undefined;
  for (; i < block.end; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    if (line.startsWith('=') && line.length === 5) {
      checksum = line.slice(1);
      continue;
    }
    if (!/^[A-Za-z0-9+/=]+$/.test(line)) return { ok: false, problem: 'malformed' };
    body += line;
  }
  if (body.length === 0 || body.length % 4 !== 0) return { ok: false, problem: 'malformed' };
  const bytes = new Uint8Array(Buffer.from(body, 'base64'));
  if (checksum !== undefined) {
    const want = Buffer.from(checksum, 'base64');
    const crc = crc24(bytes);
    if (want.length !== 3 || want[0] !== crc >> 16 || want[1] !== ((crc >> 8) & 0xff) || want[2] !== (crc & 0xff)) {
      return { ok: false, problem: 'malformed' };
    }
  }
  return { ok: true, bytes };
}

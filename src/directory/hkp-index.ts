// HKP machine-readable index (draft-shaw-openpgp-hkp §5.2), the answer to
// `op=index&options=mr` that gpg --search-keys parses:
//   info:1:<count>
//   pub:<fingerprint>:<algo>:<bits>:<created>:<expires>:<flags>
//   uid:<escaped uid>:<created>:<expires>:<flags>
// Times are Unix seconds, empty when unknown; flags r (revoked), e (expired). gpg rejects a body
// that starts with "<" as HTML, which this format never does.
import { enums } from 'openpgp';
import type { ServedKey } from './key-lookup.js';

/** What one index line needs of a served key (its bytes are not part of the index). */
export type IndexEntry = Omit<ServedKey, 'key'>;

/** RFC 9580 §9.1 algorithm ID for an openpgp.js algorithm name; empty when unknown. */
export function algorithmId(name: string): string {
  const id = (enums.publicKey as unknown as Record<string, number | undefined>)[name];
  return id === undefined ? '' : String(id);
}

/**
 * Percent-escapes what would break the colon-separated line: ':' and '%' themselves, controls,
 * and every non-ASCII byte (as UTF-8), which gpg decodes back.
 */
export function escapeIndexField(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte < 0x20 || byte > 0x7e || byte === 0x3a || byte === 0x25 ? `%${byte.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(byte);
  }
  return out;
}

const seconds = (date: Date | null) => (date ? String(Math.floor(date.getTime() / 1000)) : '');

export function formatIndex(entries: IndexEntry[], now: Date): string {
  const lines = [`info:1:${entries.length}`];
  for (const entry of entries) {
    const flags = `${entry.revoked ? 'r' : ''}${entry.expiresAt && entry.expiresAt.getTime() <= now.getTime() ? 'e' : ''}`;
    const expires = seconds(entry.expiresAt);
    lines.push(`pub:${entry.fingerprint}:${algorithmId(entry.algorithm)}:${entry.bits ?? ''}:${seconds(entry.createdAt)}:${expires}:${flags}`);
    for (const userId of entry.userIds) lines.push(`uid:${escapeIndexField(userId)}::${expires}:${flags}`);
  }
  return lines.join('\n') + '\n';
}

// Who may transfer a zone (RFC 5936 §6): the addresses listed as its secondaries, and when the
// entry names a TSIG key, only requests signed with that key.
import type { ZoneSnapshot } from './zone-snapshot.js';

export type TransferAcl = { allowed: false } | { allowed: true; tsigKey?: string };

function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address.toLowerCase();
}

export function transferAcl(zone: ZoneSnapshot, remote: string | undefined): TransferAcl {
  if (!remote) return { allowed: false };
  const peer = normalizeAddress(remote);
  const entries = zone.secondaries.filter((s) => normalizeAddress(s.address) === peer);
  if (entries.length === 0) return { allowed: false };
  // An entry without a key admits the address as is; otherwise the request must use that key.
  if (entries.some((s) => !s.tsigKey)) return { allowed: true };
  return { allowed: true, tsigKey: entries[0].tsigKey };
}

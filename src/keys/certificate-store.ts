// The certificate store: one row per fingerprint holding the merge of everything ever accepted of
// that key. An upload is united with the stored copy packet by packet and the union is judged
// again (every signature verified, caps counting valid ones only), so an upload can add material
// but never take any away: an older copy cannot undo a revocation (K1), and junk signatures in it
// do not count (K2). The row is locked for the rest of the caller's transaction, so everything
// that decides on a key's state (publish, revocation upload) is serialised per key (K5).
import type { Tx } from '../db/database.js';
import { checkKey, keyCheckError, type CheckedKey } from './key-policy.js';
import { unionCertificates } from './certificate-union.js';

/** A certificate the key policy accepted, as stored or as uploaded. */
export interface Certificate {
  status: 'valid' | 'revoked';
  key: CheckedKey;
}

export interface MergeOutcome {
  /** The stored certificate after the merge, judged at `now`. */
  certificate: Certificate;
  /** Whether the stored material changed (new signatures, components or a first copy). */
  changed: boolean;
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

/**
 * Merges `incoming` into the stored certificate of its fingerprint (creating it on first sight)
 * and returns the merged certificate. Throws the key policy's error when the merged certificate
 * fails it (for example a newer self-signature in the store made the key expire).
 */
export async function mergeCertificate(tx: Tx, incoming: Certificate, now: Date): Promise<MergeOutcome> {
  const fingerprint = incoming.key.fingerprint;
  const created = await tx
    .insertInto('certificates')
    .values({ fingerprint, data: Buffer.from(incoming.key.certificate) })
    .onConflict((oc) => oc.column('fingerprint').doNothing())
    .returning('fingerprint')
    .executeTakeFirst();
  if (created) return { certificate: incoming, changed: true };

  const row = await tx.selectFrom('certificates').select('data').where('fingerprint', '=', fingerprint).forUpdate().executeTakeFirstOrThrow();
  const stored = new Uint8Array(row.data);
  const union = unionCertificates(stored, incoming.key.certificate);
  // The upload already holds everything stored: its own judgement is the merged one.
  if (sameBytes(union, incoming.key.certificate)) {
    const changed = !sameBytes(stored, union);
    if (changed) await write(tx, fingerprint, union);
    return { certificate: incoming, changed };
  }
  const judged = await checkKey(union, { now });
  if (!('key' in judged)) throw keyCheckError(judged);
  const changed = !sameBytes(stored, judged.key.certificate);
  if (changed) await write(tx, fingerprint, judged.key.certificate);
  return { certificate: { status: judged.status, key: judged.key }, changed };
}

async function write(tx: Tx, fingerprint: string, data: Uint8Array): Promise<void> {
  await tx.updateTable('certificates').set({ data: Buffer.from(data), updated_at: new Date() }).where('fingerprint', '=', fingerprint).execute();
}

/** Locks and reads the stored certificate of `fingerprint`, judged at `now`; undefined if none. */
export async function storedCertificate(tx: Tx, fingerprint: string, now: Date): Promise<Certificate | undefined> {
  const row = await tx.selectFrom('certificates').select('data').where('fingerprint', '=', fingerprint).forUpdate().executeTakeFirst();
  if (!row) return undefined;
  const judged = await checkKey(new Uint8Array(row.data), { now });
  if (!('key' in judged)) throw keyCheckError(judged);
  return { status: judged.status, key: judged.key };
}

/** Whether the store knows the key at all (a known key's uploads are merged without mail). */
export async function hasCertificate(tx: Tx, fingerprint: string): Promise<boolean> {
  return !!(await tx.selectFrom('certificates').select('fingerprint').where('fingerprint', '=', fingerprint).executeTakeFirst());
}

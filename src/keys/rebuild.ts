// `keypost key rebuild`: re-runs the view (served-forms.ts) over every stored certificate and
// compares what it derives with what is served today: keys.key_data and the key facts, and each
// published address's minimal key. With `apply`, differences are written (zone serials bumped,
// so DNS and the caches follow); without, it is a check of what a change to the view or a
// migration would change. One transaction per certificate, holding its row lock, so it runs
// beside live traffic.
import type { Db, Tx } from '../db/database.js';
import { checkKey } from './key-policy.js';
import { servedForms, type ServedForms } from './served-forms.js';
import { recordZoneChange } from '../transparency/record-changes.js';

export type RebuildForm = 'certificate' | 'by-fingerprint' | 'record' | 'minimal-key' | 'withdrawn';

export interface RebuildChange {
  fingerprint: string;
  form: RebuildForm;
  /** For per-address forms. */
  address?: string;
}

export interface RebuildFailure {
  fingerprint: string;
  code: string;
  reason: string;
}

export interface RebuildReport {
  certificates: number;
  changes: RebuildChange[];
  /** Certificates the key policy refuses today (expired, for example); left as they are. */
  failures: RebuildFailure[];
  applied: boolean;
}

export interface RebuildOptions {
  apply: boolean;
  now?: () => Date;
  /** Called after each certificate with how many were done. */
  onProgress?: (done: number, total: number) => void;
}

const BATCH = 200;
const differs = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b)) !== 0;
const time = (d: Date | string | null) => (d === null ? null : new Date(d).getTime());

async function rebuildOne(tx: Tx, fingerprint: string, now: Date, apply: boolean, report: RebuildReport): Promise<void> {
  const row = await tx.selectFrom('certificates').select('data').where('fingerprint', '=', fingerprint).forUpdate().executeTakeFirst();
  if (!row) return;
  const judged = await checkKey(new Uint8Array(row.data), { now });
  if (!('key' in judged)) {
    report.failures.push({ fingerprint, code: judged.code, reason: judged.reason });
    return;
  }
  const change = (form: RebuildForm, address?: string) => report.changes.push({ fingerprint, form, ...(address ? { address } : {}) });
  if (differs(judged.key.certificate, row.data)) {
    change('certificate');
    if (apply) await tx.updateTable('certificates').set({ data: Buffer.from(judged.key.certificate), updated_at: now }).where('fingerprint', '=', fingerprint).execute();
  }
  const published = await tx
    .selectFrom('addresses')
    .select(['address', 'domain', 'minimal_key', 'user_id'])
    .where('fingerprint', '=', fingerprint)
    .where('status', '=', 'published')
    .execute();
  const forms: ServedForms = await servedForms({ status: judged.status, key: judged.key }, published.map((p) => ({ address: p.address })), now);

  const keyRow = await tx.selectFrom('keys').selectAll().where('fingerprint', '=', fingerprint).executeTakeFirst();
  const { record } = forms;
  if (!keyRow || differs(forms.byFingerprint, keyRow.key_data)) change('by-fingerprint');
  const recordChanged =
    !keyRow ||
    keyRow.key_ids.join() !== record.keyIds.join() ||
    keyRow.algorithm !== record.algorithm ||
    keyRow.bits !== record.bits ||
    time(keyRow.created_at) !== record.createdAt.getTime() ||
    time(keyRow.expires_at) !== (record.expiresAt?.getTime() ?? null) ||
    keyRow.revoked !== record.revoked;
  if (recordChanged) change('record');
  const zones = new Set<string>();
  if (apply && keyRow && (recordChanged || differs(forms.byFingerprint, keyRow.key_data))) {
    await tx
      .updateTable('keys')
      .set({
        key_ids: record.keyIds,
        key_data: Buffer.from(forms.byFingerprint),
        algorithm: record.algorithm,
        bits: record.bits,
        created_at: record.createdAt,
        expires_at: record.expiresAt,
        revoked: record.revoked,
      })
      .where('fingerprint', '=', fingerprint)
      .execute();
    for (const p of published) zones.add(p.domain);
  }
  for (const p of published) {
    const form = forms.perAddress.get(p.address);
    if (!form) {
      change('withdrawn', p.address);
      if (apply) await tx.updateTable('addresses').set({ status: 'withdrawn', updated_at: now }).where('address', '=', p.address).execute();
    } else if (differs(form.minimal, p.minimal_key) || form.userId !== p.user_id) {
      change('minimal-key', p.address);
      if (apply) {
        await tx.updateTable('addresses').set({ minimal_key: Buffer.from(form.minimal), user_id: form.userId, updated_at: now }).where('address', '=', p.address).execute();
      }
    } else continue;
    zones.add(p.domain);
  }
  if (apply) for (const zone of [...zones].sort()) await recordZoneChange(tx, zone);
}

export async function rebuildServedForms(db: Db, options: RebuildOptions): Promise<RebuildReport> {
  const now = options.now ?? (() => new Date());
  const report: RebuildReport = { certificates: 0, changes: [], failures: [], applied: options.apply };
  const { total } = await db.selectFrom('certificates').select((eb) => eb.fn.countAll<string>().as('total')).executeTakeFirstOrThrow();
  let after = '';
  for (;;) {
    const batch = await db.selectFrom('certificates').select('fingerprint').where('fingerprint', '>', after).orderBy('fingerprint').limit(BATCH).execute();
    if (batch.length === 0) break;
    for (const { fingerprint } of batch) {
      await db.transaction().execute((tx) => rebuildOne(tx, fingerprint, now(), options.apply, report));
      report.certificates++;
      options.onProgress?.(report.certificates, Number(total));
    }
    after = batch[batch.length - 1].fingerprint;
  }
  return report;
}

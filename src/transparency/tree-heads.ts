// Signing a zone's tree head, and reading the latest one. Each zone has its own Ed25519 log key,
// made when its first head is signed and kept like the DNSSEC keys: public half in the clear,
// private half sealed under KEYPOST_SECRET_KEY_FILE and bound to the zone (src/secrets/).
// Signing takes the log head row FOR UPDATE, as appends do, so nodes sharing a database sign each
// size once, and bumps the serial so DNS serves the new `_keypost-log` TXT.
import type { Db, Tx } from '../db/database.js';
import { bumpZoneSerial } from '../db/change-feed.js';
import type { SealedBox } from '../secrets/sealed-box.js';
import { rootAt } from './log-store.js';
import { generateLogKey, signTreeHead, type LogKeyPair, type SignedTreeHead } from './sth.js';

/** What a log key is sealed for: a row copied to another zone does not open there. */
export function logKeyContext(zone: string): string {
  return `log-key:${zone}`;
}

interface HeadRow {
  zone: string;
  size: string;
  public_key: Buffer | null;
  private_key_sealed: Buffer | null;
  sth_size: string | null;
  sth_root: Buffer | null;
  sth_time: string | null;
  sth_signature: Buffer | null;
}

function storedHead(row: HeadRow): SignedTreeHead | undefined {
  if (row.sth_size === null || !row.sth_root || row.sth_time === null || !row.sth_signature || !row.public_key) return undefined;
  return { zone: row.zone, size: Number(row.sth_size), time: Number(row.sth_time), root: row.sth_root, signature: row.sth_signature, publicKey: row.public_key };
}

const HEAD_COLUMNS = ['zone', 'size', 'public_key', 'private_key_sealed', 'sth_size', 'sth_root', 'sth_time', 'sth_signature'] as const;

/** The latest signed head of the zone's log, if one was signed and the zone's log is on. */
export async function latestTreeHead(db: Db | Tx, zone: string): Promise<SignedTreeHead | undefined> {
  const row = await db
    .selectFrom('log_heads')
    .innerJoin('domains', 'domains.name', 'log_heads.zone')
    .select(HEAD_COLUMNS)
    .where('zone', '=', zone)
    .where('domains.transparency', '=', true)
    .executeTakeFirst();
  return row ? storedHead(row) : undefined;
}

async function logKey(tx: Tx, box: SealedBox, row: HeadRow): Promise<LogKeyPair> {
  if (row.public_key && row.private_key_sealed) {
    return { publicKey: row.public_key, privateKeyDer: box.open(row.private_key_sealed, logKeyContext(row.zone)) };
  }
  const key = generateLogKey();
  await tx
    .updateTable('log_heads')
    .set({ public_key: key.publicKey, private_key_sealed: box.seal(key.privateKeyDer, logKeyContext(row.zone)) })
    .where('zone', '=', row.zone)
    .execute();
  return key;
}

/**
 * Signs a head over the zone's current tree unless the latest head already covers it. Returns the
 * latest head, or undefined when the zone is not served or its log is off. Head times never go backwards.
 */
export async function signLatestTreeHead(db: Db, box: SealedBox, zone: string, now: Date): Promise<SignedTreeHead | undefined> {
  return db.transaction().execute(async (tx) => {
    const served = await tx.selectFrom('domains').select('name').where('name', '=', zone).where('transparency', '=', true).executeTakeFirst();
    if (!served) return undefined;
    await tx.insertInto('log_heads').values({ zone }).onConflict((oc) => oc.column('zone').doNothing()).execute();
    const row = await tx.selectFrom('log_heads').select(HEAD_COLUMNS).where('zone', '=', zone).forUpdate().executeTakeFirstOrThrow();
    const current = storedHead(row);
    const size = Number(row.size);
    if (current && current.size === size) return current;
    const key = await logKey(tx, box, row);
    const time = Math.max(now.getTime(), current ? current.time : 0);
    const head = signTreeHead(key, { zone, size, time, root: await rootAt(tx, zone, size) });
    await tx
      .updateTable('log_heads')
      .set({ sth_size: head.size, sth_root: head.root, sth_time: head.time, sth_signature: head.signature })
      .where('zone', '=', zone)
      .execute();
    await bumpZoneSerial(tx, zone);
    return head;
  });
}

/** Zones whose latest head does not cover their tree (or that have none yet). */
export async function zonesBehind(db: Db): Promise<string[]> {
  const rows = await db
    .selectFrom('domains as d')
    .leftJoin('log_heads as h', 'h.zone', 'd.name')
    .select('d.name')
    .where('d.transparency', '=', true)
    .where((eb) => eb.or([eb('h.zone', 'is', null), eb('h.sth_size', 'is', null), eb('h.sth_size', '!=', eb.ref('h.size'))]))
    .orderBy('d.name')
    .execute();
  return rows.map((r) => r.name);
}

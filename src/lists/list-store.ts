// The lists' rows: every function takes the database (or, where atomicity matters, the
// transaction) first, and maps rows to the types the rest of the room uses.
import type { Db, Tx } from '../db/database.js';
import { KeypostError } from '../errors.js';

export interface MailingList {
  address: string;
  domain: string;
  owner: string | null;
  fingerprint: string;
  membersOnly: boolean;
  encryptedOnly: boolean;
  secretKeySealed: Buffer;
}

export type MemberStatus = 'active' | 'paused';
export type KeySource = 'dns' | 'owner';

export interface ListMember {
  listAddress: string;
  member: string;
  keySource: KeySource;
  keyData: Buffer;
  fingerprint: string;
  status: MemberStatus;
  pausedReason: string | null;
  checkedAt: Date;
}

type ListRow = { address: string; domain: string; owner: string | null; fingerprint: string; members_only: boolean; encrypted_only: boolean; secret_key_sealed: Buffer };

const listOf = (r: ListRow): MailingList => ({
  address: r.address,
  domain: r.domain,
  owner: r.owner,
  fingerprint: r.fingerprint,
  membersOnly: r.members_only,
  encryptedOnly: r.encrypted_only,
  secretKeySealed: r.secret_key_sealed,
});

export async function findList(db: Db | Tx, address: string): Promise<MailingList | undefined> {
  const row = await db.selectFrom('lists').selectAll().where('address', '=', address).executeTakeFirst();
  return row ? listOf(row) : undefined;
}

export async function requireList(db: Db | Tx, address: string): Promise<MailingList> {
  const list = await findList(db, address);
  if (!list) throw new KeypostError('LIST_NOT_FOUND', `${address} is not a list`);
  return list;
}

export async function listsOfDomain(db: Db | Tx, domain: string): Promise<MailingList[]> {
  const rows = await db.selectFrom('lists').selectAll().where('domain', '=', domain).orderBy('address').execute();
  return rows.map(listOf);
}

export async function insertList(tx: Tx, list: MailingList): Promise<void> {
  await tx
    .insertInto('lists')
    .values({
      address: list.address,
      domain: list.domain,
      owner: list.owner,
      fingerprint: list.fingerprint,
      secret_key_sealed: list.secretKeySealed,
      members_only: list.membersOnly,
      encrypted_only: list.encryptedOnly,
    })
    .execute();
}

export interface ListChange {
  owner?: string | null;
  membersOnly?: boolean;
  encryptedOnly?: boolean;
}

export async function updateList(db: Db | Tx, address: string, change: ListChange): Promise<MailingList> {
  const set: Record<string, unknown> = {};
  if (change.owner !== undefined) set.owner = change.owner;
  if (change.membersOnly !== undefined) set.members_only = change.membersOnly;
  if (change.encryptedOnly !== undefined) set.encrypted_only = change.encryptedOnly;
  if (Object.keys(set).length) await db.updateTable('lists').set(set).where('address', '=', address).execute();
  return requireList(db, address);
}

export async function deleteList(tx: Tx, address: string): Promise<boolean> {
  const result = await tx.deleteFrom('lists').where('address', '=', address).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

type MemberRow = {
  list_address: string;
  member: string;
  key_source: KeySource;
  key_data: Buffer;
  fingerprint: string;
  status: MemberStatus;
  paused_reason: string | null;
  checked_at: Date;
};

const memberOf = (r: MemberRow): ListMember => ({
  listAddress: r.list_address,
  member: r.member,
  keySource: r.key_source,
  keyData: r.key_data,
  fingerprint: r.fingerprint,
  status: r.status,
  pausedReason: r.paused_reason,
  checkedAt: new Date(r.checked_at),
});

export async function membersOf(db: Db | Tx, listAddress: string): Promise<ListMember[]> {
  const rows = await db.selectFrom('list_members').selectAll().where('list_address', '=', listAddress).orderBy('member').execute();
  return rows.map(memberOf);
}

export async function findMember(db: Db | Tx, listAddress: string, member: string): Promise<ListMember | undefined> {
  const row = await db.selectFrom('list_members').selectAll().where('list_address', '=', listAddress).where('member', '=', member).executeTakeFirst();
  return row ? memberOf(row) : undefined;
}

/** Adds a member, or replaces its key (and makes it active again). */
export async function upsertMember(db: Db | Tx, m: { listAddress: string; member: string; keySource: KeySource; keyData: Uint8Array; fingerprint: string }): Promise<void> {
  const values = { key_source: m.keySource, key_data: Buffer.from(m.keyData), fingerprint: m.fingerprint, status: 'active' as const, paused_reason: null };
  await db
    .insertInto('list_members')
    .values({ list_address: m.listAddress, member: m.member, ...values })
    .onConflict((oc) => oc.columns(['list_address', 'member']).doUpdateSet({ ...values, checked_at: new Date() }))
    .execute();
}

export async function deleteMember(db: Db | Tx, listAddress: string, member: string): Promise<boolean> {
  const result = await db.deleteFrom('list_members').where('list_address', '=', listAddress).where('member', '=', member).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** DNS-found member keys last checked before `before`, oldest first. */
export async function membersDueForCheck(db: Db, before: Date, limit: number): Promise<ListMember[]> {
  const rows = await db
    .selectFrom('list_members')
    .selectAll()
    .where('key_source', '=', 'dns')
    .where('checked_at', '<', before)
    .orderBy('checked_at')
    .limit(limit)
    .execute();
  return rows.map(memberOf);
}

/** Records a re-check: a good key (possibly a new one) keeps or makes the member active. */
export async function recordGoodCheck(db: Db | Tx, m: ListMember, key: { keyData: Uint8Array; fingerprint: string }): Promise<void> {
  await db
    .updateTable('list_members')
    .set({ key_data: Buffer.from(key.keyData), fingerprint: key.fingerprint, status: 'active', paused_reason: null, checked_at: new Date() })
    .where('list_address', '=', m.listAddress)
    .where('member', '=', m.member)
    .execute();
}

/** Pauses a member; true when it was active until now (so the owner is told once). */
export async function pauseMember(tx: Tx, m: ListMember, reason: string): Promise<boolean> {
  const before = await tx
    .selectFrom('list_members')
    .select('status')
    .where('list_address', '=', m.listAddress)
    .where('member', '=', m.member)
    .forUpdate()
    .executeTakeFirst();
  if (!before) return false;
  await tx
    .updateTable('list_members')
    .set({ status: 'paused', paused_reason: reason.slice(0, 1000), checked_at: new Date() })
    .where('list_address', '=', m.listAddress)
    .where('member', '=', m.member)
    .execute();
  return before.status === 'active';
}

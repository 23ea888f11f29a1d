// What a list's administrator may do, apart from how the request arrived: `keypost list ...`
// (src/cli/commands/list.ts) and the owner API (list-routes.ts) both call these.
//
// A list is a published address like any other: its key goes through the one publish path
// (src/directory/publish.ts), so OPENPGPKEY, the `_keypost` TXT (ep, pow from the zone), PKA, the
// directory and the zone's transparency log all carry it, in the transaction that makes the list.
// Its next hop is LIST_HOP: the gateway accepts posts under the usual stamp rules and leaves them
// in the queue for the list worker.
import type { Db } from '../db/database.js';
import { KeypostError } from '../errors.js';
import { requireDomain } from '../directory/domains.js';
import { publishAddress, withdrawAddress } from '../directory/publish.js';
import { LIST_HOP } from '../gateway/next-hop.js';
import { checkKey, minimalKeyFor } from '../keys/key-policy.js';
import { parseAddress } from '../protocol/address.js';
import type { SealedBox } from '../secrets/sealed-box.js';
import { generateListKey } from './list-key.js';
import { deleteList, deleteMember, findList, insertList, membersOf, requireList, updateList, upsertMember, type ListChange, type ListMember, type MailingList } from './list-store.js';
import { ownerGivenKey, type MemberKeyFinder } from './member-keys.js';

export interface NewList {
  address: string;
  owner?: string | null;
  membersOnly?: boolean;
  encryptedOnly?: boolean;
}

/** A list as shown to its administrator (no secret). */
export interface ListView {
  address: string;
  owner: string | null;
  fingerprint: string;
  /** "members" (posts must be signed by a member) or "open". */
  posting: 'members' | 'open';
  /** "encrypted" (posts must be encrypted to the list key) or "any". */
  content: 'encrypted' | 'any';
}

export const viewOf = (list: MailingList): ListView => ({
  address: list.address,
  owner: list.owner,
  fingerprint: list.fingerprint,
  posting: list.membersOnly ? 'members' : 'open',
  content: list.encryptedOnly ? 'encrypted' : 'any',
});

export interface MemberView {
  address: string;
  fingerprint: string;
  key_source: 'dns' | 'owner';
  status: 'active' | 'paused';
  paused_reason: string | null;
  checked_at: string;
}

export const memberView = (m: ListMember): MemberView => ({
  address: m.member,
  fingerprint: m.fingerprint,
  key_source: m.keySource,
  status: m.status,
  paused_reason: m.pausedReason,
  checked_at: m.checkedAt.toISOString(),
});

const canonical = (text: string) => parseAddress(text).address;

/** Makes a list in a served zone: its key, its publication and its row, in one transaction. */
export async function createList(db: Db, deps: { box: SealedBox; now: Date }, input: NewList): Promise<ListView> {
  const { address, domain } = parseAddress(input.address);
  await requireDomain(db, domain);
  if (await findList(db, address)) throw new KeypostError('LIST_EXISTS', `${address} is already a list`);
  const published = await db.selectFrom('addresses').select('address').where('address', '=', address).where('status', '=', 'published').executeTakeFirst();
  if (published) throw new KeypostError('LIST_ADDRESS_PUBLISHED', `${address} is already published with a key of its own; withdraw it first`);
  const owner = input.owner ? canonical(input.owner) : null;

  const made = await generateListKey(deps.box, address, deps.now);
  const checked = await checkKey(made.publicKey, { now: deps.now });
  if (checked.status !== 'valid') throw new Error(`the generated list key did not pass the key policy: ${checked.status}`);
  const minimal = await minimalKeyFor(checked.key.stripped, address);
  const list: MailingList = {
    address,
    domain,
    owner,
    fingerprint: checked.key.fingerprint,
    membersOnly: input.membersOnly ?? true,
    encryptedOnly: input.encryptedOnly ?? true,
    secretKeySealed: made.sealed,
  };
  await db.transaction().execute(async (tx) => {
    await publishAddress(tx, { address, key: checked.key, minimal, source: 'owner', nextHop: LIST_HOP }, undefined, deps.now);
    await insertList(tx, list);
  });
  return viewOf(list);
}

/** Withdraws the list's address and forgets the list, its members and its key. */
export async function removeList(db: Db, address: string): Promise<void> {
  const list = await requireList(db, canonical(address));
  await db.transaction().execute(async (tx) => {
    // The list row goes first: the publish path refuses to withdraw a list's address.
    await deleteList(tx, list.address);
    await withdrawAddress(tx, list.address);
  });
}

export async function changeList(db: Db, address: string, change: ListChange): Promise<ListView> {
  const list = await requireList(db, canonical(address));
  const owner = change.owner ? canonical(change.owner) : change.owner;
  return viewOf(await updateList(db, list.address, { ...change, owner }));
}

export async function showList(db: Db, address: string): Promise<ListView> {
  return viewOf(await requireList(db, canonical(address)));
}

/**
 * Adds a member (or renews its key): with `keytext` the owner's key for it; without, the key DNS
 * publishes for the address, which must pass every `keypost lookup` check.
 */
export async function addMember(
  db: Db,
  deps: { findKey: MemberKeyFinder; now: Date },
  listAddress: string,
  memberAddress: string,
  keytext?: string | Uint8Array,
): Promise<MemberView> {
  const list = await requireList(db, canonical(listAddress));
  const member = canonical(memberAddress);
  if (member === list.address) throw new KeypostError('REQUEST_INVALID', 'a list cannot be its own member');
  let key: { keyData: Uint8Array; fingerprint: string };
  let keySource: 'dns' | 'owner';
  if (keytext !== undefined) {
    key = await ownerGivenKey(keytext, deps.now);
    keySource = 'owner';
  } else {
    const found = await deps.findKey(member, deps.now);
    if (!found.ok) throw new KeypostError(found.temporary ? 'CLIENT_DNS_FAILED' : 'LIST_MEMBER_KEY_UNVERIFIED', found.reason);
    key = found;
    keySource = 'dns';
  }
  await upsertMember(db, { listAddress: list.address, member, keySource, keyData: key.keyData, fingerprint: key.fingerprint });
  const members = await membersOf(db, list.address);
  return memberView(members.find((m) => m.member === member)!);
}

export async function removeMember(db: Db, listAddress: string, memberAddress: string): Promise<void> {
  const list = await requireList(db, canonical(listAddress));
  if (!(await deleteMember(db, list.address, canonical(memberAddress)))) {
    throw new KeypostError('LIST_MEMBER_NOT_FOUND', `${memberAddress} is not a member of ${list.address}`);
  }
}

export async function listMembers(db: Db, listAddress: string): Promise<MemberView[]> {
  const list = await requireList(db, canonical(listAddress));
  return (await membersOf(db, list.address)).map(memberView);
}

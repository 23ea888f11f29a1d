// The write side's one hook into the log: every writer that changes what is served for addresses
// ends its work on a zone with recordZoneChange(), in its transaction, instead of bumping the
// serial itself. The addresses the transaction changed are read from the change log its own
// trigger rows wrote (dns_address_changes, keyed by transaction id), so every path that touches an
// `addresses` row is covered without the writer naming them; each one whose served state differs
// from its latest leaf gets a new leaf, then the serial moves. Same transaction: nothing is served
// that is not logged, nothing rolled back stays logged.
//
// Lock order, per zone in name order: the log head (FOR UPDATE), then the zone row (the serial
// bump), both held to the commit. Writers of one zone take turns from the head lock on; the
// address and key rows they locked before are their own, so nobody waits in a circle.
import type { Tx } from '../db/database.js';
import { bumpZoneSerial } from '../db/change-feed.js';
import { openpgpkeyLabel } from '../protocol/address-hashes.js';
import { parseAddress } from '../protocol/address.js';
import { decodeLeaf, encodeLeaf, labelOctets, sameServedState, servedKeyHash, type LogLeaf } from './leaf.js';
import { addressesChangedInTransaction, appendLeaves, latestLeaves, lockLogHead, type NewLeaf, type ServedAddressRow } from './log-store.js';

type State = Omit<LogLeaf, 'sequence' | 'time'>;

/** Logs the changes `tx` made to the zone's addresses, then bumps the zone serial. */
export async function recordZoneChange(tx: Tx, zone: string, now = new Date()): Promise<number> {
  await logAddressChanges(tx, zone, now);
  return bumpZoneSerial(tx, zone);
}

/**
 * Appends a leaf for each address of `zone` changed in `tx` whose served state moved. Returns how
 * many. A zone whose log is off (`domains.transparency`) has no changed addresses here.
 */
export async function logAddressChanges(tx: Tx, zone: string, now = new Date()): Promise<number> {
  return logAddresses(tx, zone, await addressesChangedInTransaction(tx, zone), now);
}

/** Brings the log up to what every address of `zone` serves now (a log turned back on). Returns how many leaves. */
export async function logZoneAddresses(tx: Tx, zone: string, now = new Date()): Promise<number> {
  const rows = await tx
    .selectFrom('addresses')
    .select(['address', 'fingerprint', 'minimal_key', 'endpoint', 'pow_bits', 'status'])
    .where('domain', '=', zone)
    .orderBy('address')
    .execute();
  return logAddresses(tx, zone, rows, now);
}

async function logAddresses(tx: Tx, zone: string, changed: ServedAddressRow[], now: Date): Promise<number> {
  if (changed.length === 0) return 0;
  const head = await lockLogHead(tx, zone);
  // The address is the local part and the zone (src/protocol/address.ts), so its label follows.
  const labels = changed.map((row) => labelOctets(openpgpkeyLabel(parseAddress(row.address).localPart)));
  const latest = await latestLeaves(tx, zone, labels);
  const appended: NewLeaf[] = [];
  for (const [i, row] of changed.entries()) {
    const label = labels[i];
    const last = latest.get(label.toString('hex'));
    const before = last ? decodeLeaf(last.leaf) : undefined;
    let state: State | undefined;
    if (row.status === 'published') {
      state = {
        action: 'publish',
        zone,
        label,
        fingerprint: row.fingerprint!,
        keyHash: servedKeyHash(row.minimal_key!),
        endpoint: row.endpoint,
        powBits: row.pow_bits,
      };
    } else if (before?.action === 'publish') {
      // Withdrawn (or its row gone): the withdrawal names what was served until now.
      state = { ...before, action: 'withdraw' };
    }
    if (!state || (before && sameServedState(before, state))) continue;
    const leaf = encodeLeaf({ ...state, sequence: (before?.sequence ?? 0) + 1, time: now.getTime() });
    appended.push({ label, leaf });
  }
  await appendLeaves(tx, zone, head, appended);
  return appended.length;
}

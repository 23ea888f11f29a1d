// A zone's CSK rollover (RFC 6781 §4.1), timed as RFC 7583 §3.2.1 and §3.3.1 have it. With the
// same algorithm it is a pre-publication roll (§4.1.1.1 for the data, §4.1.2 for the DNSKEY RRset
// the parent's DS points into):
//
//   1. `keypost dns rollover`: a new key is published (in DNSKEY, signing DNSKEY/CDS/CDNSKEY only).
//   2. Ipub = Dprp + TTLkey later (RFC 7583 §3.2.1, §3.3.1) every cache that holds the DNSKEY RRset
//      holds it with the new key and its signature: the new key becomes active (signs all data, CDS
//      and CDNSKEY name it) and the old one retired (still in DNSKEY and signing it, so resolvers
//      that trust the zone through the old DS keep validating).
//   3. The owner puts the new DS at the registrar (or the parent takes it from CDS, RFC 7344 §4.1)
//      and says so: `keypost dns rollover <zone> --ds-published`. keypost cannot see the registrar,
//      and removing the old key before the parent stops naming it makes the zone bogus.
//   4. The old key is removed when both of these have passed (the later one):
//        - Iret = Dsgn + Dprp + TTLsig after it stopped signing data (RFC 7583 §3.2.1; Dsgn = 0:
//          a new signer signs every answer and transfer anew), so no cache holds data it signed;
//        - Dprp + TTLds after the parent's DS changed (RFC 7583 §3.3.1), so no cache holds the old DS.
//
// To another algorithm (RFC 6781 §4.1.4, conservative order) every key signs everything for the
// whole roll (key-states.ts), and the DNSKEY RRset changes only once the signatures are everywhere:
//
//   1. the new key is introduced: it signs everything but is not in DNSKEY yet;
//   2. Dprp + TTLsig later every cached RRset carries its signature: it is published;
//   3. Dprp + TTLkey later it becomes active and the old key retired, as above;
//   4. the owner's --ds-published, as above;
//   5. when both waits of step 4 above have passed, the old key is withdrawn from DNSKEY (still
//      signing);
//   6. Dprp + TTLkey later no cache holds a DNSKEY RRset with it: it is removed.
//
// TTLkey and TTLsig are the zone's TTL (every record and the DNSKEY RRset carry it, and negative
// answers live no longer: zone-records.ts); Dprp and TTLds are the operator's settings
// (KEYPOST_DNSSEC_PROPAGATION_DELAY, KEYPOST_DNSSEC_PARENT_DS_TTL). Each state change moves the
// serial in its transaction, so every DNS node and every secondary (through NOTIFY and a signed
// transfer) sees it. The waits are counted from the stored `state_since`, with the clock passed
// in: the background job passes the time, a test passes the time it wants to be.
import type { Db, Tx } from '../../db/database.js';
import { bumpZoneSerial } from '../../db/change-feed.js';
import { KeypostError } from '../../errors.js';
import type { SealedBox } from '../../secrets/sealed-box.js';
import { zoneSoa } from '../zone-records.js';
import type { DnssecAlgorithm } from './algorithms.js';
import { addSigningKey, zoneSigningKeys, type StoredKeyInfo } from './key-store.js';

export interface RolloverTiming {
  /** Dprp: the longest a change takes to reach every server of the zone (secondaries included). */
  propagationDelaySeconds: number;
  /** TTLds: the TTL of the DS record in the parent zone. */
  parentDsTtlSeconds: number;
}

/** What comes next for a zone's keys, and from when. */
export type RolloverStep =
  /** One active key and nothing under way. */
  | { kind: 'none' }
  /** Algorithm roll: the introduced key enters DNSKEY, at `earliest`. */
  | { kind: 'publish'; newKey: number; oldKey: number; earliest: Date }
  /** The published key becomes active and the active one retired, at `earliest`. */
  | { kind: 'activate'; newKey: number; oldKey: number; earliest: Date }
  /** The owner must put the new key's DS at the parent and run `--ds-published`. */
  | { kind: 'publish-ds'; newKey: number; oldKey: number }
  /** Algorithm roll: the retired key leaves DNSKEY and keeps signing, at `earliest`. */
  | { kind: 'withdraw'; newKey: number; oldKey: number; earliest: Date }
  /** The retired (or withdrawn) key is removed, at `earliest`. */
  | { kind: 'remove'; newKey: number; oldKey: number; earliest: Date };

/** The steps keypost takes on its own once their time has come. */
export type TimedStep = Extract<RolloverStep, { earliest: Date }>;

const after = (from: Date, seconds: number) => new Date(from.getTime() + seconds * 1000);
const later = (a: Date, b: Date) => (a > b ? a : b);

/** The next step for `keys` in a zone whose records live `zoneTtl` seconds. */
export function nextRolloverStep(keys: readonly StoredKeyInfo[], zoneTtl: number, timing: RolloverTiming): RolloverStep {
  const inState = (state: StoredKeyInfo['state']) => keys.find((k) => k.state === state);
  const active = inState('active');
  if (!active) return { kind: 'none' };
  const dprp = timing.propagationDelaySeconds;
  const introduced = inState('introduced');
  if (introduced) return { kind: 'publish', newKey: introduced.keyTag, oldKey: active.keyTag, earliest: after(introduced.stateSince, dprp + zoneTtl) };
  const published = inState('published');
  if (published) return { kind: 'activate', newKey: published.keyTag, oldKey: active.keyTag, earliest: after(published.stateSince, dprp + zoneTtl) };
  const retired = inState('retired');
  if (retired) {
    if (!retired.parentDsReplacedAt) return { kind: 'publish-ds', newKey: active.keyTag, oldKey: retired.keyTag };
    const noOldSignatures = after(retired.stateSince, dprp + zoneTtl);
    const noOldDs = after(retired.parentDsReplacedAt, dprp + timing.parentDsTtlSeconds);
    const kind = retired.algorithm !== active.algorithm ? 'withdraw' : 'remove';
    return { kind, newKey: active.keyTag, oldKey: retired.keyTag, earliest: later(noOldSignatures, noOldDs) };
  }
  const withdrawn = inState('withdrawn');
  if (withdrawn) return { kind: 'remove', newKey: active.keyTag, oldKey: withdrawn.keyTag, earliest: after(withdrawn.stateSince, dprp + zoneTtl) };
  return { kind: 'none' };
}

async function zoneTtl(db: Db | Tx, zone: string): Promise<number> {
  const row = await db.selectFrom('domains').select('dns').where('name', '=', zone).executeTakeFirst();
  if (!row) throw new KeypostError('DNS_ZONE_UNKNOWN', `keypost does not serve the zone "${zone}"`);
  return zoneSoa(typeof row.dns === 'string' ? JSON.parse(row.dns) : row.dns).ttl;
}

/** The zone's keys as stored, and its next step. */
export async function rolloverStatus(db: Db | Tx, zone: string, timing: RolloverTiming): Promise<{ keys: StoredKeyInfo[]; next: RolloverStep; zoneTtl: number }> {
  const ttl = await zoneTtl(db, zone);
  const keys = await zoneSigningKeys(db, zone);
  return { keys, next: nextRolloverStep(keys, ttl, timing), zoneTtl: ttl };
}

/** Takes the zone's key rows for this transaction, so that two nodes never move the same step. */
async function lockKeys(tx: Tx, zone: string): Promise<void> {
  await tx.selectFrom('dnssec_keys').select('id').where('domain', '=', zone).forUpdate().execute();
}

/**
 * Step 1: a new key beside the active one, of the active key's algorithm (published) or of
 * `algorithm` when that is another one (introduced); returns its key tag.
 */
export async function startRollover(tx: Tx, box: SealedBox, zone: string, now: Date, algorithm?: DnssecAlgorithm): Promise<number> {
  const ttl = await zoneTtl(tx, zone);
  await lockKeys(tx, zone);
  const keys = await zoneSigningKeys(tx, zone);
  const active = keys.find((k) => k.state === 'active');
  if (!active) throw new KeypostError('DNS_ZONE_UNSIGNED', `${zone} is not signed; turn signing on with: keypost domain set ${zone} --dnssec on`);
  const under = nextRolloverStep(keys, ttl, { propagationDelaySeconds: 0, parentDsTtlSeconds: 0 });
  if (under.kind !== 'none') {
    throw new KeypostError('DNS_ROLLOVER_IN_PROGRESS', `${zone} is already rolling from key ${under.oldKey} to key ${under.newKey}; see: keypost dns status ${zone}`);
  }
  const to = algorithm ?? (active.algorithm as DnssecAlgorithm);
  const tag = await addSigningKey(tx, box, zone, to, to === active.algorithm ? 'published' : 'introduced', now);
  await bumpZoneSerial(tx, zone);
  return tag;
}

/**
 * Step 3: records that the parent's DS now names the active key (and no longer the retired one).
 * Nothing the zone publishes changes, but the serial moves all the same: it is how every DNS node
 * hears of a change (and times the removal at once); a secondary transferring the same records
 * again is harmless.
 */
export async function confirmParentDs(tx: Tx, zone: string, timing: RolloverTiming, now: Date): Promise<RolloverStep> {
  const ttl = await zoneTtl(tx, zone);
  await lockKeys(tx, zone);
  const step = nextRolloverStep(await zoneSigningKeys(tx, zone), ttl, timing);
  if (step.kind !== 'publish-ds') {
    const why =
      step.kind === 'publish' || step.kind === 'activate'
        ? `the new key ${step.newKey} is not the one to trust yet (not before ${step.earliest.toISOString()}): keep the parent's DS as it is until then`
        : step.kind === 'withdraw' || step.kind === 'remove'
          ? `the parent's DS for key ${step.newKey} was already recorded`
          : 'no rollover is under way';
    throw new KeypostError('DNS_ROLLOVER_NOT_WAITING_FOR_DS', `${zone}: ${why}`);
  }
  await tx.updateTable('dnssec_keys').set({ parent_ds_replaced_at: now }).where('domain', '=', zone).where('state', '=', 'retired').execute();
  await bumpZoneSerial(tx, zone);
  return nextRolloverStep(await zoneSigningKeys(tx, zone), ttl, timing);
}

/** The step keypost takes on its own (publish, activate, withdraw, remove) when due at `now`; returns it, if taken. */
export async function advanceRollover(tx: Tx, zone: string, timing: RolloverTiming, now: Date): Promise<TimedStep | undefined> {
  const ttl = await zoneTtl(tx, zone);
  await lockKeys(tx, zone);
  const step = nextRolloverStep(await zoneSigningKeys(tx, zone), ttl, timing);
  if (!('earliest' in step) || step.earliest > now) return undefined;
  const keys = tx.updateTable('dnssec_keys').where('domain', '=', zone);
  switch (step.kind) {
    case 'publish':
      await keys.set({ state: 'published', state_since: now }).where('state', '=', 'introduced').execute();
      break;
    case 'activate':
      await keys.set({ state: 'retired', state_since: now }).where('state', '=', 'active').execute();
      await keys.set({ state: 'active', state_since: now }).where('state', '=', 'published').execute();
      break;
    case 'withdraw':
      await keys.set({ state: 'withdrawn', state_since: now }).where('state', '=', 'retired').execute();
      break;
    case 'remove':
      await tx.deleteFrom('dnssec_keys').where('domain', '=', zone).where('state', 'in', ['retired', 'withdrawn']).execute();
      break;
  }
  await bumpZoneSerial(tx, zone);
  return step;
}

export interface DueRollovers {
  /** The steps taken. */
  done: { zone: string; step: TimedStep }[];
  /** The earliest time a step keypost takes on its own falls due next, if any is pending. */
  nextAt?: Date;
}

/** Advances every zone whose rollover has a step due at `now`, and says when the next one is. */
export async function advanceDueRollovers(db: Db, timing: RolloverTiming, now: Date): Promise<DueRollovers> {
  const zones = await db.selectFrom('dnssec_keys').select('domain').distinct().where('state', '<>', 'active').execute();
  const done: DueRollovers['done'] = [];
  let nextAt: Date | undefined;
  for (const { domain } of zones) {
    const step = await db.transaction().execute((tx) => advanceRollover(tx, domain, timing, now));
    if (step) done.push({ zone: domain, step });
    const { next } = await rolloverStatus(db, domain, timing);
    if ('earliest' in next && (!nextAt || next.earliest < nextAt)) nextAt = next.earliest;
  }
  return { done, nextAt };
}

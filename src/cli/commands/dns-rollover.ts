// keypost dns rollover|status <domain>: the owner's side of a zone's key rollover
// (src/dns/dnssec/rollover.ts). `rollover` starts one, or with --ds-published records that the
// parent now holds the new DS; `status` shows the keys, their state, and the next step with the
// earliest time it can be taken (or what the owner must do for it).
import { KeypostError } from '../../errors.js';
import type { Config } from '../../config.js';
import type { Db } from '../../db/database.js';
import { isServedDomain } from '../../directory/domains.js';
import { openSecretBox } from '../../secrets/sealed-box.js';
import { algorithmName, zoneDelegation, type DelegationRecord } from '../../dns/dnssec/delegation.js';
import type { StoredKeyInfo } from '../../dns/dnssec/key-store.js';
import type { DnssecAlgorithm } from '../../dns/dnssec/algorithms.js';
import { confirmParentDs, rolloverStatus, startRollover, type RolloverStep } from '../../dns/dnssec/rollover.js';
import { withDatabase } from '../database.js';
import { writeJson, type CommandContext } from '../command.js';

async function requireZone(db: Db, zone: string): Promise<void> {
  if (!(await isServedDomain(db, zone))) throw new KeypostError('DNS_ZONE_UNKNOWN', `keypost does not serve the zone "${zone}"`);
}

/** One line saying what happens next, and when or on whose word. */
function describeStep(zone: string, step: RolloverStep, signed = true): string {
  switch (step.kind) {
    case 'none':
      return signed ? `no rollover under way; start one with: keypost dns rollover ${zone}` : `${zone} is not signed; turn signing on with: keypost domain set ${zone} --dnssec on`;
    case 'publish':
      return `key ${step.newKey} (a new algorithm, signing everything already) enters the DNSKEY RRset, not before ${step.earliest.toISOString()} (keypost does this on its own)`;
    case 'activate':
      return `key ${step.newKey} becomes active (signs the zone, CDS names it) and key ${step.oldKey} retired, not before ${step.earliest.toISOString()} (keypost does this on its own)`;
    case 'publish-ds':
      return `put the DS below at the registrar in place of key ${step.oldKey}'s (or let the parent take it from CDS), wait until the parent's servers answer with it, then run: keypost dns rollover ${zone} --ds-published`;
    case 'withdraw':
      return `retired key ${step.oldKey} leaves the DNSKEY RRset (its signatures stay a while longer, as an algorithm rollover needs), not before ${step.earliest.toISOString()} (keypost does this on its own)`;
    case 'remove':
      return `old key ${step.oldKey} is removed, not before ${step.earliest.toISOString()} (keypost does this on its own)`;
  }
}

function stepJson(zone: string, step: RolloverStep, ds: DelegationRecord[], signed: boolean) {
  return {
    step: step.kind,
    ...(step.kind !== 'none' ? { new_key: step.newKey, old_key: step.oldKey } : {}),
    ...('earliest' in step ? { earliest: step.earliest.toISOString() } : {}),
    ...(step.kind === 'publish-ds' ? { ds: ds.map((r) => r.ds), command: `keypost dns rollover ${zone} --ds-published` } : {}),
    text: describeStep(zone, step, signed),
  };
}

const keyJson = (k: StoredKeyInfo) => ({
  key_tag: k.keyTag,
  algorithm: k.algorithm,
  // Every key keypost makes is a combined signing key (flags 257, RFC 6781 §3.1.2).
  role: 'CSK',
  state: k.state,
  since: k.stateSince.toISOString(),
  ...(k.parentDsReplacedAt ? { parent_ds_replaced_at: k.parentDsReplacedAt.toISOString() } : {}),
});

async function printStatus(db: Db, config: Readonly<Config>, zone: string, json: boolean, ctx: CommandContext): Promise<void> {
  const timing = config.dns.rollover;
  const { keys, next, zoneTtl } = await rolloverStatus(db, zone, timing);
  const ds = next.kind === 'publish-ds' ? await zoneDelegation(db, zone) : [];
  if (json) {
    const waits = { zone_ttl: zoneTtl, propagation_delay: timing.propagationDelaySeconds, parent_ds_ttl: timing.parentDsTtlSeconds };
    writeJson(ctx.stdout, { zone, signed: keys.length > 0, keys: keys.map(keyJson), next: stepJson(zone, next, ds, keys.length > 0), waits });
    return;
  }
  if (!keys.length) {
    ctx.stdout.write(`${describeStep(zone, next, false)}\n`);
    return;
  }
  ctx.stdout.write(`KEY    ALGORITHM            ROLE  STATE       SINCE\n`);
  for (const k of keys) {
    const algorithm = `${k.algorithm} ${algorithmName(k.algorithm)}`;
    ctx.stdout.write(`${String(k.keyTag).padEnd(5)}  ${algorithm.padEnd(19)}  CSK   ${k.state.padEnd(10)}  ${k.stateSince.toISOString()}\n`);
  }
  ctx.stdout.write(`next: ${describeStep(zone, next)}\n`);
  for (const r of ds) ctx.stdout.write(`  ${r.ds}\n`);
  // The figures the waits are made of (RFC 7583 §2: TTLkey = TTLsig = the zone's TTL, Dprp, TTLds).
  ctx.stdout.write(`waits from: zone TTL ${zoneTtl} s, propagation delay ${timing.propagationDelaySeconds} s, parent DS TTL ${timing.parentDsTtlSeconds} s\n`);
}

export function status(zone: string, json: boolean, ctx: CommandContext): Promise<number> {
  return withDatabase(ctx.env, async ({ db }, config) => {
    await requireZone(db, zone);
    await printStatus(db, config, zone, json, ctx);
    return 0;
  });
}

export function rollover(zone: string, options: { dsPublished: boolean; algorithm?: DnssecAlgorithm }, json: boolean, ctx: CommandContext): Promise<number> {
  return withDatabase(ctx.env, async ({ db }, config) => {
    await requireZone(db, zone);
    const now = new Date();
    if (options.dsPublished) await db.transaction().execute((tx) => confirmParentDs(tx, zone, config.dns.rollover, now));
    else {
      const box = openSecretBox(config.secrets);
      await db.transaction().execute((tx) => startRollover(tx, box, zone, now, options.algorithm));
    }
    await printStatus(db, config, zone, json, ctx);
    return 0;
  });
}

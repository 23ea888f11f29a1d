// A key rollover driven to completion keeps every answer validating throughout (issue 9, "Keys").
// The owner's steps go through the CLI (`keypost dns rollover`, `dns status`); the waits keypost
// takes on its own are taken with an explicit clock (advanceRollover at the earliest time `dns
// status` names), so the test does not sleep through TTLs. At each step delv validates OPENPGPKEY,
// TXT and a denial from the trust anchors a resolver may hold at that moment: the DS of the old key
// until the new DS replaces it at the parent, the new key's DS from then on. The DNSKEY, CDS and
// RRSIG key tags are checked against the step, and the signed AXFR a secondary would take must be
// signed the same way and accepted by ldns-verify-zone.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { freePort } from '../support/ports.js';
import { openpgpkeyLabel } from '../../src/protocol/address-hashes.js';
import { loadConfig } from '../../src/config.js';
import type { Db } from '../../src/db/database.js';
import { advanceRollover } from '../../src/dns/dnssec/rollover.js';
import { addZone, makeKey, publish } from './support/fixtures.js';
import { dig, startDns, waitFor, type DnsServer } from './support/server.js';
import { delv, delvVerdict, signZone, writeDsAnchor } from './support/dnssec.js';

const skip = requireTool('delv', 'dig', 'ldns-verify-zone');
const run = promisify(execFile);
const ZONE = 'roll.test';
/** Small enough to read, large enough to tell the waits apart: Dprp 1 h and TTLds 1 d by default. */
const ZONE_TTL = 300;

let db: TestDatabase;
let server: DnsServer;
const timing = () => loadConfig(db.env).dns.rollover;
/** Takes the step keypost's background job would take if the clock said `now`. */
const advance = (now: Date) => (db.db as Db).transaction().execute((tx) => advanceRollover(tx, ZONE, timing(), now));

interface StatusJson {
  keys: { key_tag: number; state: string; since: string; parent_ds_replaced_at?: string }[];
  next: { step: string; new_key?: number; old_key?: number; earliest?: string; ds?: string[]; command?: string; text: string };
}

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['dist/src/cli/main.js', ...args], { env: { ...process.env, ...db.env, KEYPOST_LOG_LEVEL: 'warn' }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

async function status(): Promise<StatusJson> {
  const out = await cli('dns', 'status', ZONE, '--json');
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout) as StatusJson;
}

/** `<zone>. IN DS <tag> <alg> 2 <hex>` of the key the parent is asked for now. */
async function currentDs(): Promise<{ keyTag: number; ds: string }> {
  const out = await cli('dns', 'ds', ZONE, '--json');
  assert.equal(out.code, 0, out.stderr);
  const records = JSON.parse(out.stdout) as { key_tag: number; ds: string }[];
  assert.equal(records.length, 1, 'the parent is asked for one DS');
  return { keyTag: records[0].key_tag, ds: records[0].ds };
}

const dsAnchor = (name: string, ds: string) => writeDsAnchor(db.env.KEYPOST_DATA_DIR, name, ZONE, ds);

/** Waits until the server answers with the serial the database holds now. */
async function served(): Promise<void> {
  const row = await (db.db as Db).selectFrom('domains').select('serial').where('name', '=', ZONE).executeTakeFirstOrThrow();
  const want = Number(row.serial);
  await waitFor(`serial ${want}`, async () => (Number((await dig(server, '+short', ZONE, 'SOA')).split(' ')[2]) === want ? true : undefined), 10_000);
}

/** Key tags of the RRSIGs over `type` in a dig answer, and of the records themselves for key types. */
function rrsigTags(lines: string[], type: string): number[] {
  return lines
    .map((l) => l.split(/\s+/))
    .filter((f) => f[3] === 'RRSIG' && f[4] === type)
    .map((f) => Number(f[10]))
    .sort((a, b) => a - b);
}

async function answer(name: string, type: string): Promise<string[]> {
  const out = await dig(server, '+dnssec', '+nocmd', '+nostats', '+nocomments', '+noquestion', name, type);
  return out.split('\n').filter((l) => l.trim() && !l.startsWith(';'));
}

const sorted = (tags: number[]) => [...tags].sort((a, b) => a - b);
const alice = () => `${openpgpkeyLabel('alice')}._openpgpkey.${ZONE}`;

const verdict = delvVerdict;

/** What a step must look like: the keys in DNSKEY, the one signing data, the one CDS names. */
interface Expected {
  dnskeys: number[];
  dataSigner: number;
  cds: number;
  /** Trust anchors a resolver may hold at this step. */
  anchors: string[];
}

async function checkStep(label: string, want: Expected): Promise<void> {
  await served();
  const dnskey = await answer(ZONE, 'DNSKEY');
  const dnskeyTags = dnskey.filter((l) => l.split(/\s+/)[3] === 'DNSKEY').length;
  assert.equal(dnskeyTags, want.dnskeys.length, `${label}: DNSKEY count`);
  assert.deepEqual(rrsigTags(dnskey, 'DNSKEY'), sorted(want.dnskeys), `${label}: DNSKEY is signed by every key in it`);
  const cds = (await answer(ZONE, 'CDS')).filter((l) => l.split(/\s+/)[3] === 'CDS').map((l) => Number(l.split(/\s+/)[4]));
  assert.deepEqual(cds, [want.cds], `${label}: CDS names the key to trust`);
  assert.deepEqual(rrsigTags(await answer(alice(), 'OPENPGPKEY'), 'OPENPGPKEY'), [want.dataSigner], `${label}: data signed by the active key only`);

  for (const anchors of want.anchors) {
    for (const [name, type, expected] of [
      [alice(), 'OPENPGPKEY', '; fully validated'],
      [`_keypost.${ZONE}`, 'TXT', '; fully validated'],
      [`${openpgpkeyLabel('nobody')}._openpgpkey.${ZONE}`, 'OPENPGPKEY', '; negative response, fully validated'],
      [ZONE, 'CDS', '; fully validated'],
    ]) {
      assert.equal(verdict(await delv(server, anchors, ZONE, name, type)), expected, `${label}: ${type} ${name} with ${path.basename(anchors)}`);
    }
  }

  // The signed transfer a secondary takes follows the keys too, and verifies as a whole.
  const axfr = (await dig(server, '+nocmd', '+nostats', '+nocomments', '+onesoa', ZONE, 'AXFR')).split('\n').filter((l) => l.trim() && !l.startsWith(';'));
  for (const type of ['DNSKEY', 'CDS', 'CDNSKEY']) assert.deepEqual(rrsigTags(axfr, type), sorted(want.dnskeys), `${label}: AXFR ${type} RRSIGs`);
  for (const type of ['SOA', 'OPENPGPKEY', 'NSEC3', 'ZONEMD']) {
    assert.ok(rrsigTags(axfr, type).length > 0 && rrsigTags(axfr, type).every((t) => t === want.dataSigner), `${label}: AXFR ${type} signed by the active key only`);
  }
  const file = path.join(db.env.KEYPOST_DATA_DIR, 'transferred.zone');
  writeFileSync(file, `${axfr.join('\n')}\n`);
  assert.match(await run('ldns-verify-zone', ['-Z', file]).then((r) => r.stdout), /Zone is verified and complete/, `${label}: ldns-verify-zone`);
}

let oldKey: number;
let oldAnchor: string;
let newKey: number;
let newAnchor: string;

before(async () => {
  if (skip) return;
  db = await openTestDatabase();
  await addZone(db.db, ZONE, {
    dns: {
      nameservers: [{ name: `ns1.${ZONE}`, ipv4: ['192.0.2.53'] }],
      soa: { refresh: 3600, retry: 900, expire: 1_209_600, minimum: 60, ttl: ZONE_TTL },
      // The test's own address may transfer the zone, as a secondary would.
      secondaries: [{ address: '127.0.0.1', port: await freePort() }],
    },
  });
  await signZone(db, ZONE, 13);
  await publish(db.db, `alice@${ZONE}`, await makeKey(`alice@${ZONE}`));
  server = await startDns(db);
  const ds = await currentDs();
  oldKey = ds.keyTag;
  oldAnchor = dsAnchor('old-ds', ds.ds);
});
after(async () => {
  await server?.close();
  await db?.close();
});

test('before a rollover: one active key, the parent holds its DS', { skip }, async () => {
  const s = await status();
  assert.deepEqual(s.keys.map((k) => [k.key_tag, k.state]), [[oldKey, 'active']]);
  assert.equal(s.next.step, 'none');
  await checkStep('start', { dnskeys: [oldKey], dataSigner: oldKey, cds: oldKey, anchors: [oldAnchor] });
});

test('rollover publishes a new key that signs only the DNSKEY RRset; it takes over after Dprp + TTLkey', { skip }, async () => {
  const started = await cli('dns', 'rollover', ZONE);
  assert.equal(started.code, 0, started.stderr);
  assert.match(started.stdout, /published/);
  const s = await status();
  const fresh = s.keys.find((k) => k.state === 'published');
  assert.ok(fresh, 'a published key');
  newKey = fresh.key_tag;
  assert.notEqual(newKey, oldKey);
  assert.equal(s.next.step, 'activate');
  // RFC 7583 §3.2.1: Ipub = Dprp + TTLkey after the key was published.
  const { propagationDelaySeconds } = timing();
  assert.equal(Date.parse(s.next.earliest!) - Date.parse(fresh.since), (propagationDelaySeconds + ZONE_TTL) * 1000);
  await checkStep('published', { dnskeys: [oldKey, newKey], dataSigner: oldKey, cds: oldKey, anchors: [oldAnchor] });

  // The parent must not be told yet, and a second rollover cannot start.
  const early = await cli('dns', 'rollover', ZONE, '--ds-published');
  assert.equal(early.code, 1);
  assert.match(early.stderr, /DNS_ROLLOVER_NOT_WAITING_FOR_DS/);
  const again = await cli('dns', 'rollover', ZONE);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /DNS_ROLLOVER_IN_PROGRESS/);
});

test('at the earliest time the new key becomes active and CDS names it; both DS anchors validate', { skip }, async () => {
  const earliest = new Date((await status()).next.earliest!);
  assert.equal(await advance(new Date(earliest.getTime() - 1000)), undefined, 'not a second early');
  assert.equal((await advance(earliest))?.kind, 'activate');

  const ds = await currentDs();
  assert.equal(ds.keyTag, newKey, '`dns ds` now gives the new key');
  newAnchor = dsAnchor('new-ds', ds.ds);
  const s = await status();
  assert.deepEqual(
    s.keys.map((k) => [k.key_tag, k.state]).sort(),
    [
      [oldKey, 'retired'],
      [newKey, 'active'],
    ].sort(),
  );
  assert.equal(s.next.step, 'publish-ds');
  assert.deepEqual(s.next.ds, [ds.ds]);
  const text = await cli('dns', 'status', ZONE);
  assert.match(text.stdout, /put the DS below at the registrar/);
  assert.ok(text.stdout.includes(ds.ds), text.stdout);
  assert.ok(text.stdout.includes(`keypost dns rollover ${ZONE} --ds-published`), text.stdout);
  // Resolvers still holding the old DS, and those that already have the new one, both validate.
  await checkStep('new key active', { dnskeys: [oldKey, newKey], dataSigner: newKey, cds: newKey, anchors: [oldAnchor, newAnchor] });
});

test('after --ds-published the old key goes once the old DS and its signatures are out of every cache', { skip }, async () => {
  const confirmed = await cli('dns', 'rollover', ZONE, '--ds-published');
  assert.equal(confirmed.code, 0, confirmed.stderr);
  const s = await status();
  assert.equal(s.next.step, 'remove');
  const retired = s.keys.find((k) => k.state === 'retired')!;
  const { propagationDelaySeconds, parentDsTtlSeconds } = timing();
  // RFC 7583 §3.2.1 (Iret after the last data signature) and §3.3.1 (TTLds after the DS changed).
  const want = Math.max(Date.parse(retired.since) + (propagationDelaySeconds + ZONE_TTL) * 1000, Date.parse(retired.parent_ds_replaced_at!) + (propagationDelaySeconds + parentDsTtlSeconds) * 1000);
  assert.equal(Date.parse(s.next.earliest!), want);
  await checkStep('DS replaced', { dnskeys: [oldKey, newKey], dataSigner: newKey, cds: newKey, anchors: [oldAnchor, newAnchor] });

  const earliest = new Date(want);
  assert.equal(await advance(new Date(want - 1000)), undefined, 'not a second early');
  assert.equal((await advance(earliest))?.kind, 'remove');
  const done = await status();
  assert.deepEqual(done.keys.map((k) => [k.key_tag, k.state]), [[newKey, 'active']]);
  assert.equal(done.next.step, 'none');
  await checkStep('old key removed', { dnskeys: [newKey], dataSigner: newKey, cds: newKey, anchors: [newAnchor] });
  // The old DS alone no longer leads anywhere: that is why the owner had to replace it first.
  assert.notEqual(verdict(await delv(server, oldAnchor, ZONE, alice(), 'OPENPGPKEY')), '; fully validated');
});

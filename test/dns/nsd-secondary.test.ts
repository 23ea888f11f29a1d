// NSD as a secondary of keypost: AXFR signed with TSIG, NOTIFY after a publish, the same answers
// from both servers, and the zone NSD holds fully signed (zones are signed by default): the
// validators accept the transferred zone, and delv validates NSD's own answers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { openpgpkeyLabel, wkdHash } from '../../src/protocol/address-hashes.js';
import { makeKey, publish } from './support/fixtures.js';
import { dig, startDns, tool, waitFor, type DnsServer } from './support/server.js';
import { nsdServerConfig } from '../support/nsd.js';
import { freePort } from '../support/ports.js';
import { delv, writeAnchors } from './support/dnssec.js';
import { sql } from 'kysely';
import type { Db } from '../../src/db/database.js';
import { DEFAULT_UNCHANGED_SECONDS, refreshIdleSignedZones } from '../../src/dns/dnssec/transfer-refresh.js';

const skip = requireTool('nsd', 'dig', 'ldns-verify-zone', 'dnssec-verify', 'delv');
const ZONE = 'secondary.test';
const KEY_NAME = 'xfr-key';
const secret = randomBytes(32).toString('base64');

let db: TestDatabase;
let keypost: DnsServer;
let nsd: ChildProcess | undefined;
let nsdPort = 0;
let dir: string;

async function cli(args: string[]): Promise<string> {
  return tool(process.execPath, ['dist/src/cli/main.js', ...args], { env: { ...process.env, ...db.env, KEYPOST_LOG_LEVEL: 'warn' }, timeoutMs: 60_000 });
}

const nsdServer = () => ({ host: '127.0.0.1', port: nsdPort });
const serial = async (server: { host: string; port: number }) => Number((await dig(server, '+short', ZONE, 'SOA')).split(' ')[2]);

before(async () => {
  if (skip) return;
  db = await openTestDatabase();
  dir = mkdtempSync(path.join(tmpdir(), 'kp-nsd-'));
  nsdPort = await freePort();
  // The zone and its secondary are set up the way an operator does it, with the CLI.
  await cli(['domain', 'add', ZONE, '--ns', `ns1.${ZONE}=127.0.0.1`, '--endpoint', `smtp://mx.${ZONE}:25`]);
  await cli(['domain', 'set', ZONE, '--tsig-key', `${KEY_NAME}=${secret}`, '--secondary', `127.0.0.1:${nsdPort}/${KEY_NAME}`]);
  await publish(db.db, `alice@${ZONE}`, await makeKey(`alice@${ZONE}`));
  keypost = await startDns(db);
  writeFileSync(
    path.join(dir, 'nsd.conf'),
    `${nsdServerConfig(dir, nsdPort, { logfile: path.join(dir, 'nsd.log'), verbosity: 2 })}key:
  name: ${KEY_NAME}
  algorithm: hmac-sha256
  secret: "${secret}"
zone:
  name: ${ZONE}
  zonefile: ${ZONE}.zone
  request-xfr: AXFR 127.0.0.1@${keypost.port} ${KEY_NAME}
  allow-notify: 127.0.0.1 ${KEY_NAME}
  provide-xfr: 127.0.0.1 NOKEY
`,
  );
  nsd = spawn('nsd', ['-d', '-c', path.join(dir, 'nsd.conf')], { stdio: 'ignore' });
});

after(async () => {
  nsd?.kill('SIGTERM');
  await keypost?.close();
  await db?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function sameAnswers(names: [string, string][]): Promise<void> {
  for (const [name, type] of names) {
    const ours = (await dig(keypost, '+short', name, type)).trim();
    const theirs = (await dig(nsdServer(), '+short', name, type)).trim();
    assert.equal(theirs, ours, `${type} ${name}`);
    const status = (o: string) => /status: (\w+)/.exec(o)?.[1];
    assert.equal(status(await dig(nsdServer(), name, type)), status(await dig(keypost, name, type)), `status of ${type} ${name}`);
  }
}

const recordsOf = (local: string): [string, string][] => [
  [`${openpgpkeyLabel(local)}._openpgpkey.${ZONE}`, 'OPENPGPKEY'],
  [`${openpgpkeyLabel(local)}._keypost.${ZONE}`, 'TXT'],
  [`${wkdHash(local)}._pka.${ZONE}`, 'CERT'],
];

test('NSD transfers the zone with TSIG and answers the same records', { skip }, async () => {
  const expected = await serial(keypost);
  await waitFor('NSD to load the zone', async () => ((await serial(nsdServer()).catch(() => NaN)) === expected ? true : undefined), 20_000, 200);
  await sameAnswers([
    [ZONE, 'SOA'],
    [ZONE, 'NS'],
    [`ns1.${ZONE}`, 'A'],
    [`_keypost.${ZONE}`, 'TXT'],
    ...recordsOf('alice'),
    [`${openpgpkeyLabel('nobody')}._openpgpkey.${ZONE}`, 'OPENPGPKEY'],
    [`_openpgpkey.${ZONE}`, 'A'],
  ]);
  const log = readFileSync(path.join(dir, 'nsd.log'), 'utf8');
  assert.doesNotMatch(log, /bad tsig|BADSIG|BADKEY|BADTIME/i);
});

test('after a publish NSD is notified, transfers again and serves the new address', { skip }, async () => {
  const before = await serial(nsdServer());
  const started = Date.now();
  await publish(db.db, `bob@${ZONE}`, await makeKey(`bob@${ZONE}`));
  // NSD's refresh timer is an hour: only a NOTIFY makes it transfer this soon.
  await waitFor('NSD to serve bob', async () => ((await dig(nsdServer(), '+short', ...recordsOf('bob')[0])).trim() ? true : undefined), 15_000, 100);
  assert.ok(Date.now() - started < 15_000);
  assert.ok((await serial(nsdServer())) > before);
  // The tree head that covers bob moves the serial once more a moment later; NSD follows it too.
  // Wait for that head first: compared before it, both servers could agree on the serial just
  // before the head moves keypost's on, and the SOAs would then differ by one.
  const { leaves } = await db.db
    .selectFrom('log_leaves')
    .select((eb) => eb.fn.countAll<string>().as('leaves'))
    .where('zone', '=', ZONE)
    .executeTakeFirstOrThrow();
  await waitFor(`keypost's tree head to cover all ${leaves} leaves`, async () => {
    const text = (await dig(keypost, '+short', `_keypost-log.${ZONE}`, 'TXT')).trim();
    return /\bn=(\d+)/.exec(text)?.[1] === String(leaves) ? true : undefined;
  }, 15_000, 100);
  await waitFor('NSD to reach keypost\'s serial', async () => ((await serial(nsdServer())) === (await serial(keypost)) ? true : undefined), 15_000, 100);
  await sameAnswers([[ZONE, 'SOA'], ...recordsOf('alice'), ...recordsOf('bob')]);
  assert.match(readFileSync(path.join(dir, 'nsd.log'), 'utf8'), /notify/i);
});

test('the zone NSD transferred is fully signed: ldns-verify-zone and dnssec-verify accept it, ZONEMD included', { skip }, async () => {
  const axfr = await dig(nsdServer(), '+nocmd', '+nostats', '+nocomments', '+onesoa', ZONE, 'AXFR');
  const records = axfr.split('\n').filter((l) => l.trim() && !l.startsWith(';'));
  const ofType = (type: string) => records.filter((l) => l.split(/\s+/)[3] === type);
  assert.ok(ofType('OPENPGPKEY').length >= 2);
  assert.equal(ofType('ZONEMD').length, 1);
  // A secondary cannot sign: the transfer carries the keys, NSEC3PARAM with RFC 9276 parameters,
  // an NSEC3 chain and the signatures over every RRset.
  assert.equal(ofType('DNSKEY').length, 1);
  assert.equal(ofType('NSEC3PARAM').map((l) => l.split(/\s+/).slice(4).join(' '))[0], '1 0 0 -');
  assert.ok(ofType('NSEC3').length >= records.filter((l) => l.split(/\s+/)[3] === 'OPENPGPKEY').length);
  assert.ok(ofType('RRSIG').length > ofType('NSEC3').length);
  const file = path.join(dir, 'transferred.zone');
  writeFileSync(file, `${records.join('\n')}\n`);
  // -Z: the ZONEMD digest over every record, signatures included (RFC 8976 §3.3.1), besides the
  // DNSSEC chain of trust from the DNSKEY down.
  const out = await tool('ldns-verify-zone', ['-Z', file]).catch((err: Error) => {
    throw new Error(`ldns-verify-zone rejected the zone: ${err.message}`);
  });
  assert.match(out, /Zone is verified and complete/);
  // -z: keypost signs with one combined signing key (flags 257, RFC 6781 §3.1.2), so BIND is told
  // not to expect a separate key without the SEP flag to sign the other RRsets.
  const bind = await tool('dnssec-verify', ['-z', '-o', ZONE, file]).catch((err: Error) => {
    throw new Error(`dnssec-verify rejected the zone: ${err.message}`);
  });
  assert.match(bind, /Zone fully signed/);
});

test('delv validates the answers NSD gives from the transferred zone, existing and missing names alike', { skip }, async () => {
  // The trust anchor is the DNSKEY keypost publishes; NSD only serves what it transferred.
  const anchors = (await writeAnchors(keypost, ZONE, dir)).file;
  const verdict = async (name: string, type: string) => {
    const out = await delv(nsdServer(), anchors, ZONE, name, type);
    return out.split('\n').find((l) => /validated|validation|resolution failed/.test(l))?.trim() ?? out;
  };
  for (const [name, type] of [...recordsOf('alice'), [ZONE, 'SOA'], [ZONE, 'DNSKEY'], [`_keypost.${ZONE}`, 'TXT']] as [string, string][]) {
    assert.equal(await verdict(name, type), '; fully validated', `${type} ${name}`);
  }
  // NSEC3 from the secondary proves a missing name, a missing type and an empty non-terminal.
  for (const [name, type] of [
    [`${openpgpkeyLabel('nobody')}._openpgpkey.${ZONE}`, 'OPENPGPKEY'],
    [`${openpgpkeyLabel('alice')}._openpgpkey.${ZONE}`, 'TXT'],
    [`_openpgpkey.${ZONE}`, 'OPENPGPKEY'],
    [ZONE, 'A'],
  ]) {
    assert.equal(await verdict(name, type), '; negative response, fully validated', `${type} ${name}`);
  }
});

test('a signed zone left unchanged gets a new serial, and NSD transfers it with fresh signatures', { skip }, async () => {
  const before = await serial(nsdServer());
  const other = 'untouched-unsigned.test';
  await cli(['domain', 'add', other, '--ns', `ns1.${other}=127.0.0.1`, '--dnssec', 'off']);
  await cli(['domain', 'set', other, '--secondary', '127.0.0.1:1']);
  // Two days without a change, as far as the database can tell.
  await sql`update domains set updated_at = now() - interval '3 days'`.execute(db.db);
  assert.deepEqual(await refreshIdleSignedZones(db.db as Db, DEFAULT_UNCHANGED_SECONDS), [ZONE], 'only the signed zone with secondaries moves');
  await waitFor('NSD to transfer the new serial', async () => ((await serial(nsdServer())) === before + 1 ? true : undefined), 15_000, 100);
  // Just moved: the next check leaves it alone.
  assert.deepEqual(await refreshIdleSignedZones(db.db as Db, DEFAULT_UNCHANGED_SECONDS), []);
  const anchors = (await writeAnchors(keypost, ZONE, dir)).file;
  assert.match(await delv(nsdServer(), anchors, ZONE, ZONE, 'SOA'), /; fully validated/);
});

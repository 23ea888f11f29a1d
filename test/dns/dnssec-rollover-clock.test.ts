// The steps of a key rollover that keypost takes on its own are taken by the running DNS node on
// the real clock, once their waits have passed: with Dprp 0 s, TTLds 1 s and a zone TTL of 1 s the
// new key takes over about a second after `keypost dns rollover`, and the old key goes about a
// second after `--ds-published`. The test waits for each to show in the answers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { openpgpkeyLabel } from '../../src/protocol/address-hashes.js';
import { addZone, makeKey, publish } from './support/fixtures.js';
import { dig, startDns, waitFor, type DnsServer } from './support/server.js';
import { delv, delvVerdict, signZone, writeDsAnchor } from './support/dnssec.js';

const skip = requireTool('delv', 'dig');
const run = promisify(execFile);
const ZONE = 'clock.test';
const TIMING = { KEYPOST_DNSSEC_PROPAGATION_DELAY: '0s', KEYPOST_DNSSEC_PARENT_DS_TTL: '1s' };

let db: TestDatabase;
let server: DnsServer;

async function cli(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['dist/src/cli/main.js', ...args], { env: { ...process.env, ...db.env, ...TIMING, KEYPOST_LOG_LEVEL: 'warn' }, timeout: 60_000 });
  return stdout;
}

const dsOfCurrentKey = async () => (JSON.parse(await cli('dns', 'ds', ZONE, '--json')) as { key_tag: number; ds: string }[])[0];
/** Key tags in the answer's records of `type` (DNSKEY tags computed by dig's +rrcomments). */
async function tags(type: 'CDS' | 'DNSKEY'): Promise<number[]> {
  const out = await dig(server, '+noall', '+answer', '+rrcomments', ZONE, type);
  return out
    .split('\n')
    .filter((l) => l.split(/\s+/)[3] === type)
    .map((l) => Number(type === 'CDS' ? l.split(/\s+/)[4] : /id = (\d+)/.exec(l)?.[1]));
}

before(async () => {
  if (skip) return;
  db = await openTestDatabase();
  await addZone(db.db, ZONE, {
    dns: { nameservers: [{ name: `ns1.${ZONE}`, ipv4: ['192.0.2.53'] }], soa: { refresh: 3600, retry: 900, expire: 1_209_600, minimum: 1, ttl: 1 } },
  });
  await signZone(db, ZONE, 13);
  await publish(db.db, `alice@${ZONE}`, await makeKey(`alice@${ZONE}`));
  server = await startDns(db, TIMING);
});
after(async () => {
  await server?.close();
  await db?.close();
});

test('the DNS node activates the new key and later removes the old one when their waits have passed', { skip }, async () => {
  const old = await dsOfCurrentKey();
  assert.deepEqual(await tags('CDS'), [old.key_tag]);
  await cli('dns', 'rollover', ZONE);

  const activeNow = await waitFor('CDS to name the new key', async () => {
    const cds = await tags('CDS');
    return cds.length === 1 && cds[0] !== old.key_tag ? cds[0] : undefined;
  }, 15_000);
  const status = JSON.parse(await cli('dns', 'status', ZONE, '--json')) as { next: { step: string; new_key: number } };
  assert.deepEqual([status.next.step, status.next.new_key], ['publish-ds', activeNow]);
  assert.deepEqual((await tags('DNSKEY')).sort(), [old.key_tag, activeNow].sort(), 'the old key stays until the parent has the new DS');

  const fresh = await dsOfCurrentKey();
  assert.equal(fresh.key_tag, activeNow);
  await cli('dns', 'rollover', ZONE, '--ds-published');
  await waitFor('the old key to leave DNSKEY', async () => ((await tags('DNSKEY')).join() === String(activeNow) ? true : undefined), 15_000);

  const anchors = writeDsAnchor(db.env.KEYPOST_DATA_DIR, 'new-ds', ZONE, fresh.ds);
  const name = `${openpgpkeyLabel('alice')}._openpgpkey.${ZONE}`;
  assert.equal(delvVerdict(await delv(server, anchors, ZONE, name, 'OPENPGPKEY')), '; fully validated');
});

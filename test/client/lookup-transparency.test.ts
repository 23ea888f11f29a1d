// The `transparency` check of keypost lookup and send against a real keypost (DNS and API on port
// 0), run as the CLI with its own XDG state directory: a published key is proved by the zone's log;
// a key written into DNS behind the log's back fails the check (and send refuses it) while every
// other check passes; and history rewritten in the database, tree and head re-signed, is an
// inconsistency with its own exit code for a client holding the earlier head.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { bumpZoneSerial } from '../../src/db/change-feed.js';
import { checkKey } from '../../src/keys/key-policy.js';
import { minimalKeyFor } from '../../src/keys/minimal-key.js';
import { openSecretBox } from '../../src/secrets/sealed-box.js';
import { decodeLeaf, encodeLeaf } from '../../src/transparency/leaf.js';
import { parseTreeHeadText, type SignedTreeHead } from '../../src/transparency/sth.js';
import { signLatestTreeHead } from '../../src/transparency/tree-heads.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { runKeypost } from '../support/keypost-process.js';
import { requireTool } from '../support/tools.js';
import { dig, waitFor } from '../dns/support/server.js';
import { recomputeStoredTree, storedLeaf } from '../transparency/tamper.js';
import { addZone, makeKey, publish, startSite, type RunningSite, type TestKey, type Zone } from './support.js';

const skip = requireTool('dig');
const ZONE = 'tlog.example';
const AMY = `amy@${ZONE}`;
let testDb: TestDatabase;
let site: RunningSite;
let zone: Zone;
let amy: TestKey;
/** The XDG_STATE_HOME of the client that keeps the heads it saw. */
let stateHome: string;

before(async () => {
  if (skip) return;
  testDb = await openTestDatabase();
  site = await startSite(testDb);
  zone = await addZone(testDb, ZONE, { powBits: 10, endpoint: 'smtp://127.0.0.1:9', apiUrl: site.apiBase });
  amy = await makeKey(AMY);
  await publish(site, zone, AMY, amy);
  await publish(site, zone, `bob@${ZONE}`, await makeKey(`bob@${ZONE}`));
  await servedHead((h) => h.size === 2);
  stateHome = mkdtempSync(path.join(tmpdir(), 'kp-lookup-state-'));
}, { timeout: 90_000 });

after(async () => {
  await site?.close();
  await testDb?.close();
  if (stateHome) rmSync(stateHome, { recursive: true, force: true });
});

async function servedHead(ready: (head: SignedTreeHead) => boolean): Promise<SignedTreeHead> {
  return waitFor('the awaited log head in DNS', async () => {
    const text = (await dig(site.dns, '+short', `_keypost-log.${ZONE}`, 'TXT')).trim().replace(/^"|"$/g, '').replace(/" "/g, '');
    const head = text ? parseTreeHeadText(ZONE, text) : undefined;
    return head && ready(head) ? head : undefined;
  });
}

async function lookup(address: string, home = stateHome) {
  const result = await runKeypost(['lookup', address, '--dns', site.dnsAddress, '--json'], { XDG_STATE_HOME: home });
  return { code: result.code, body: result.stdout ? JSON.parse(result.stdout) : undefined, stderr: result.stderr };
}

async function send(to: string) {
  const result = await runKeypost(['send', '--from', 'dave@sender.example', '--to', to, '--dns', site.dnsAddress, '--json'], { XDG_STATE_HOME: stateHome }, 'hello\n');
  return { code: result.code, body: result.stdout ? JSON.parse(result.stdout) : undefined, stderr: result.stderr };
}

const check = (body: any) => body.checks.find((c: any) => c.name === 'transparency');

const leafRow = (index: number) => storedLeaf(testDb.db, ZONE, index);

/** What someone holding the database and the log key does after rewriting leaves: new tree, new head. */
async function resign(size: number): Promise<SignedTreeHead> {
  await recomputeStoredTree(testDb.db, ZONE);
  await testDb.db.updateTable('log_heads').set({ size, sth_size: null }).where('zone', '=', ZONE).execute();
  const head = await signLatestTreeHead(testDb.db, openSecretBox(loadConfig(testDb.env).secrets), ZONE, new Date());
  assert.equal(head?.size, size);
  return servedHead((h) => h.root.equals(head!.root));
}

describe('keypost lookup: transparency', { skip, timeout: 180_000 }, () => {
  test('a published key is proved by the log, and the head is remembered', async () => {
    const { code, body, stderr } = await lookup('Amy@TLog.Example');
    assert.equal(code, 0, stderr);
    assert.equal(body.transparency.status, 'ok', JSON.stringify(body.transparency));
    assert.equal(body.transparency.leafIndex, 0);
    assert.equal(body.transparency.treeSize, 2);
    assert.equal(check(body).status, 'pass');
    // The log head's answer counts in the DNSSEC status like the others (keypost's test DNS does not sign).
    assert.ok(body.unauthenticatedAnswers.includes(`_keypost-log.${ZONE} TXT`), JSON.stringify(body.unauthenticatedAnswers));
    const remembered = JSON.parse(readFileSync(path.join(stateHome, 'keypost', 'log-heads', `${ZONE}.json`), 'utf8'));
    assert.equal(remembered.size, 2);

    const text = await runKeypost(['lookup', AMY, '--dns', site.dnsAddress], { XDG_STATE_HOME: stateHome });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^transparency +ok \(leaf 0 of 2\)$/m);
    assert.match(text.stdout, /^ {2}pass {2}transparency /m);
  });

  test('a key served in DNS but not in the log fails the check, and send refuses it', async () => {
    // A second key for amy, written into the address row behind the log's back: DNS, the TXT
    // fingerprint and the directory API all agree on it, so only the log can tell.
    const rogue = await makeKey(AMY);
    const checked = await checkKey(rogue.publicKey, { now: new Date() });
    assert.equal(checked.status, 'valid');
    if (checked.status !== 'valid') return;
    const minimal = Buffer.from(await minimalKeyFor(checked.key.stripped, AMY));
    const row = await testDb.db.selectFrom('addresses').selectAll().where('address', '=', AMY).executeTakeFirstOrThrow();
    const amyKey = await testDb.db.selectFrom('keys').selectAll().where('fingerprint', '=', row.fingerprint).executeTakeFirstOrThrow();
    await testDb.db.insertInto('keys').values({ ...amyKey, fingerprint: rogue.fingerprint, key_ids: [], key_data: Buffer.from(checked.key.stripped) }).execute();
    const write = (fingerprint: string, minimalKey: Buffer) =>
      testDb.db.transaction().execute(async (tx) => {
        await tx.updateTable('addresses').set({ fingerprint, minimal_key: minimalKey }).where('address', '=', AMY).execute();
        await bumpZoneSerial(tx, ZONE);
      });
    await write(rogue.fingerprint, minimal);
    try {
      const label = decodeLeaf((await leafRow(0)).leaf).label.toString('hex');
      await waitFor('DNS to serve the unlogged key', async () => ((await dig(site.dns, '+short', `${label}._keypost.${ZONE}`, 'TXT')).includes(rogue.fingerprint) ? true : undefined));
      const { code, body, stderr } = await lookup(AMY);
      assert.equal(code, 1, stderr);
      assert.equal(body.fingerprint, rogue.fingerprint);
      assert.deepEqual(
        Object.fromEntries(body.checks.map((c: any) => [c.name, c.status])),
        { fingerprint: 'pass', pka: 'pass', 'user-id': 'pass', 'key-valid': 'pass', directory: 'pass', transparency: 'fail' },
      );
      assert.equal(body.transparency.status, 'failed');
      assert.match(check(body).detail, new RegExp(`DNS serves key ${rogue.fingerprint}; the log's latest leaf \\(0\\) names ${amy.fingerprint}`));
      assert.match(stderr, /CLIENT_TRANSPARENCY_FAILED/);

      const sent = await send(AMY);
      assert.equal(sent.code, 1, sent.stderr);
      assert.equal(sent.body.recipients[0].delivered, false);
      assert.equal(sent.body.recipients[0].stage, 'verify');
      assert.equal(sent.body.recipients[0].code, 'CLIENT_TRANSPARENCY_FAILED');
      assert.equal(sent.body.recipients[0].stamp, null, 'nothing is minted for a refused recipient');
    } finally {
      await write(row.fingerprint, row.minimal_key);
    }
    await waitFor('DNS to serve the logged key again', async () => ((await lookup(AMY)).code === 0 ? true : undefined));
  });

  test('a logged fingerprint rewritten, tree and head re-signed, is an inconsistency for a client holding the earlier head', async () => {
    const original = await leafRow(1);
    const forged = encodeLeaf({ ...decodeLeaf(original.leaf), fingerprint: 'E'.repeat(40) });
    await testDb.db.updateTable('log_leaves').set({ leaf: forged }).where('zone', '=', ZONE).where('idx', '=', '1').execute();
    try {
      await resign(2);
      const { code, body, stderr } = await lookup(AMY);
      assert.equal(code, 6, stderr);
      assert.equal(body.transparency.status, 'inconsistent');
      assert.match(body.transparency.detail, /does not extend the head seen before .*rewritten or forked/);
      assert.match(stderr, /CLIENT_LOG_INCONSISTENT/);
      // The rewritten log is consistent in itself: a client that saw no head before accepts it.
      const fresh = mkdtempSync(path.join(tmpdir(), 'kp-fresh-'));
      try {
        const first = await lookup(AMY, fresh);
        assert.equal(first.code, 0, first.stderr);
      } finally {
        rmSync(fresh, { recursive: true, force: true });
      }
    } finally {
      await testDb.db.updateTable('log_leaves').set({ leaf: original.leaf }).where('zone', '=', ZONE).where('idx', '=', '1').execute();
      await resign(2);
    }
    assert.equal((await lookup(AMY)).code, 0, 'the restored log is the one seen before');
  });

  test('a leaf deleted, tree and head re-signed, is a rollback: lookup exits 6 and send refuses with 7', async () => {
    const last = await leafRow(1);
    await testDb.db.deleteFrom('log_leaves').where('zone', '=', ZONE).where('idx', '=', '1').execute();
    try {
      await resign(1);
      const { code, body, stderr } = await lookup(AMY);
      assert.equal(code, 6, stderr);
      assert.equal(body.transparency.status, 'inconsistent');
      assert.match(body.transparency.detail, /fewer than the 2 of the head seen before: it was rolled back/);
      const sent = await send(AMY);
      assert.equal(sent.code, 7, sent.stderr);
      assert.equal(sent.body.recipients[0].code, 'CLIENT_LOG_INCONSISTENT');
      assert.equal(sent.body.recipients[0].delivered, false);
    } finally {
      await testDb.db.insertInto('log_leaves').values(last).execute();
      await resign(2);
    }
    assert.ok(existsSync(path.join(stateHome, 'keypost', 'log-heads', `${ZONE}.json`)));
    assert.equal((await lookup(AMY)).code, 0, 'the restored log extends the remembered head again');
  });
});

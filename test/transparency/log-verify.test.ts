// `keypost log verify` against a running keypost (DNS and API): a clean log verifies; history
// changed in the database (a logged fingerprint, a deleted leaf) is named; a key served by DNS and
// the directory behind the log's back is named; and a log rewritten by someone holding the database and the key
// file, tree and head included, still fails for an auditor that kept the head it saw before.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { sql } from 'kysely';
import { loadConfig } from '../../src/config.js';
import { bumpZoneSerial } from '../../src/db/change-feed.js';
import { startKeypost, type RunningKeypost } from '../../src/main.js';
import { openSecretBox } from '../../src/secrets/sealed-box.js';
import { decodeLeaf, encodeLeaf } from '../../src/transparency/leaf.js';
import { parseTreeHeadText } from '../../src/transparency/sth.js';
import { signLatestTreeHead } from '../../src/transparency/tree-heads.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { runKeypost } from '../support/keypost-process.js';
import { requireTool } from '../support/tools.js';
import { addDomain, makeKey, ownerPublish } from '../directory/write-side.js';
import { dig, waitFor } from '../dns/support/server.js';
import { recomputeStoredTree, storedLeaf } from './tamper.js';

const skip = requireTool('dig');
const ZONE = 'audit.example';
let testDb: TestDatabase;
let keypost: RunningKeypost;
let token: string;
let stateDir: string;

before(async () => {
  if (skip) return;
  testDb = await openTestDatabase();
  token = await addDomain(testDb.db, ZONE, { powBits: 20 });
  const config = loadConfig({ ...testDb.env, KEYPOST_DNS_LISTEN: '127.0.0.1:0', KEYPOST_HTTP_LISTEN: '127.0.0.1:0', KEYPOST_LOG_LEVEL: 'silent', KEYPOST_RATE_LIMIT_MAX: '10000' });
  keypost = await startKeypost({ config, log: pino({ level: 'silent' }), only: ['dns', 'api'] });
  stateDir = mkdtempSync(path.join(tmpdir(), 'kp-log-state-'));
  for (const local of ['amy', 'bob', 'cy']) {
    await ownerPublish(apiUrl(), ZONE, token, `${local}@${ZONE}`, (await makeKey([`${local}@${ZONE}`])).publicKey, local === 'cy' ? { pow: 24 } : {});
  }
  await servedHeadOf(3);
});

after(async () => {
  await keypost?.close();
  await testDb?.close();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

const apiUrl = () => `http://${keypost.addresses.api}`;
const dnsServer = () => {
  const a = keypost.addresses.dns!;
  return { host: '127.0.0.1', port: Number(a.slice(a.lastIndexOf(':') + 1)) };
};

async function servedHeadOf(size: number) {
  return waitFor(`a head of ${size} leaves in DNS`, async () => {
    const text = (await dig(dnsServer(), '+short', `_keypost-log.${ZONE}`, 'TXT')).trim().replace(/^"|"$/g, '').replace(/" "/g, '');
    const head = text ? parseTreeHeadText(ZONE, text) : undefined;
    return head && head.size === size ? head : undefined;
  });
}

/** Runs the auditor; `fresh` gives it an empty state directory (an auditor that saw no head before). */
async function verify(options: { fresh?: boolean } = {}) {
  const state = options.fresh ? mkdtempSync(path.join(tmpdir(), 'kp-fresh-')) : stateDir;
  const args = ['log', 'verify', ZONE, '--api', apiUrl(), '--dns', `127.0.0.1:${dnsServer().port}`, '--json', '--state-dir', state];
  const result = await runKeypost(args);
  if (options.fresh) rmSync(state, { recursive: true, force: true });
  return { code: result.code, body: result.stdout ? JSON.parse(result.stdout) : undefined, stderr: result.stderr };
}

const kinds = (body: any) => body.discrepancies.map((d: any) => d.kind);

const leafRow = (index: number) => storedLeaf(testDb.db, ZONE, index);
const recomputeTree = () => recomputeStoredTree(testDb.db, ZONE);

describe('keypost log verify', () => {
  test('a clean log verifies, and its head is remembered', { skip }, async () => {
    const { code, body, stderr } = await verify();
    assert.equal(code, 0, stderr);
    assert.deepEqual(body.discrepancies, []);
    assert.equal(body.treeSize, 3);
    assert.equal(body.labels, 3);
  });

  test('log watch lists every leaf of an address and exits 1 for a key not on the allow list', { skip }, async () => {
    const genuine = await makeKey([`dan@${ZONE}`]);
    const rogue = await makeKey([`dan@${ZONE}`]);
    await ownerPublish(apiUrl(), ZONE, token, `dan@${ZONE}`, genuine.publicKey);
    await ownerPublish(apiUrl(), ZONE, token, `dan@${ZONE}`, rogue.publicKey);
    await ownerPublish(apiUrl(), ZONE, token, `dan@${ZONE}`, genuine.publicKey);
    await servedHeadOf(6);
    const watch = (...allow: string[]) =>
      runKeypost(['log', 'watch', `Dan@${ZONE}`, '--api', apiUrl(), '--dns', `127.0.0.1:${dnsServer().port}`, '--json', ...allow.flatMap((f) => ['--allow', f])]);
    const flagged = await watch(genuine.fingerprint);
    assert.equal(flagged.code, 1, flagged.stderr);
    const body = JSON.parse(flagged.stdout);
    assert.deepEqual(body.problems, []);
    assert.deepEqual(
      body.entries.map((e: any) => [e.index, e.sequence, e.fingerprint, e.allowed]),
      [
        [3, 1, genuine.fingerprint, true],
        [4, 2, rogue.fingerprint, false],
        [5, 3, genuine.fingerprint, true],
      ],
    );
    assert.match(flagged.stderr, new RegExp(rogue.fingerprint));
    const both = await watch(genuine.fingerprint, rogue.fingerprint.toLowerCase());
    assert.equal(both.code, 0, both.stderr);
    const usage = await runKeypost(['log', 'watch', `dan@${ZONE}`, '--allow', 'nope']);
    assert.equal(usage.code, 2);
    // The auditor saw 3 leaves before; 6 now extend them.
    assert.equal((await verify()).code, 0);
  });

  test('a logged fingerprint changed in the database is named', { skip }, async () => {
    const original = await leafRow(1);
    const forged = encodeLeaf({ ...decodeLeaf(original.leaf), fingerprint: 'F'.repeat(40) });
    await testDb.db.updateTable('log_leaves').set({ leaf: forged }).where('zone', '=', ZONE).where('idx', '=', '1').execute();
    try {
      const { code, body } = await verify({ fresh: true });
      assert.equal(code, 1);
      assert.ok(kinds(body).includes('root-mismatch'), JSON.stringify(body));
      assert.ok(kinds(body).includes('dns-fingerprint'), JSON.stringify(body));
      // An auditor holding the earlier head reports the log inconsistent with it.
      const held = await verify();
      assert.equal(held.code, 6, JSON.stringify(held.body));
      assert.ok(kinds(held.body).includes('inconsistent-with-earlier-head'));
    } finally {
      await testDb.db.updateTable('log_leaves').set({ leaf: original.leaf }).where('zone', '=', ZONE).where('idx', '=', '1').execute();
    }
  });

  test('a deleted leaf is named', { skip }, async () => {
    const original = await leafRow(1);
    await testDb.db.deleteFrom('log_leaves').where('zone', '=', ZONE).where('idx', '=', '1').execute();
    try {
      const { code, body } = await verify({ fresh: true });
      assert.equal(code, 1);
      assert.deepEqual(body.discrepancies.map((d: any) => [d.kind, d.index]).slice(0, 1), [['entries-missing', 1]]);
      const held = await verify();
      assert.equal(held.code, 6, JSON.stringify(held.body));
      assert.ok(kinds(held.body).includes('inconsistent-with-earlier-head'));
    } finally {
      await testDb.db.insertInto('log_leaves').values(original).execute();
    }
  });

  test('a key written into DNS and the directory behind the log is named for both', { skip }, async () => {
    const row = await testDb.db.selectFrom('addresses').selectAll().where('address', '=', `amy@${ZONE}`).executeTakeFirstOrThrow();
    const other = await testDb.db.selectFrom('addresses').select(['fingerprint', 'minimal_key']).where('address', '=', `bob@${ZONE}`).executeTakeFirstOrThrow();
    await testDb.db.transaction().execute(async (tx) => {
      await tx.updateTable('addresses').set({ fingerprint: other.fingerprint, minimal_key: other.minimal_key }).where('address', '=', row.address).execute();
      await bumpZoneSerial(tx, ZONE);
    });
    try {
      await waitFor('DNS to serve the unlogged key', async () => ((await dig(dnsServer(), '+short', `${decodeLeaf((await leafRow(0)).leaf).label.toString('hex')}._keypost.${ZONE}`, 'TXT')).includes(other.fingerprint) ? true : undefined));
      const { code, body } = await verify({ fresh: true });
      assert.equal(code, 1);
      assert.deepEqual(new Set(kinds(body)), new Set(['dns-fingerprint', 'dns-key', 'directory-fingerprint', 'directory-key']), JSON.stringify(body));
      assert.ok(body.discrepancies.every((d: any) => d.index === 0));
    } finally {
      await testDb.db.transaction().execute(async (tx) => {
        await tx.updateTable('addresses').set({ fingerprint: row.fingerprint, minimal_key: row.minimal_key }).where('address', '=', row.address).execute();
        await bumpZoneSerial(tx, ZONE);
      });
    }
  });

  test('a leaf deleted with the tree and head recomputed and re-signed is a rollback for the auditor holding the earlier head', { skip }, async () => {
    const box = openSecretBox(loadConfig(testDb.env).secrets);
    const resign = async (size: number) => {
      await recomputeTree();
      await testDb.db.updateTable('log_heads').set({ size, sth_size: null }).where('zone', '=', ZONE).execute();
      return signLatestTreeHead(testDb.db, box, ZONE, new Date());
    };
    const size = Number((await testDb.db.selectFrom('log_heads').select('size').where('zone', '=', ZONE).executeTakeFirstOrThrow()).size);
    const last = await leafRow(size - 1);
    await testDb.db.deleteFrom('log_leaves').where('zone', '=', ZONE).where('idx', '=', String(size - 1)).execute();
    try {
      assert.equal((await resign(size - 1))?.size, size - 1);
      await servedHeadOf(size - 1);
      const { code, body } = await verify();
      assert.equal(code, 6, JSON.stringify(body));
      assert.ok(kinds(body).includes('inconsistent-with-earlier-head'));
      assert.match(body.discrepancies.find((d: any) => d.kind === 'inconsistent-with-earlier-head').message, /rolled back/);
    } finally {
      await testDb.db.insertInto('log_leaves').values(last).execute();
      await resign(size);
      await servedHeadOf(size);
    }
    assert.equal((await verify()).code, 0, 'the restored log extends the remembered head again');
  });

  test('history rewritten with the tree and head recomputed and re-signed fails for the auditor holding the earlier head', { skip }, async () => {
    const original = await leafRow(1);
    const forged = encodeLeaf({ ...decodeLeaf(original.leaf), fingerprint: 'E'.repeat(40) });
    await testDb.db.updateTable('log_leaves').set({ leaf: forged }).where('zone', '=', ZONE).where('idx', '=', '1').execute();
    await recomputeTree();
    await testDb.db.updateTable('log_heads').set({ sth_size: null }).where('zone', '=', ZONE).execute();
    const box = openSecretBox(loadConfig(testDb.env).secrets);
    const resigned = await signLatestTreeHead(testDb.db, box, ZONE, new Date());
    assert.equal(resigned?.size, 6);
    await waitFor('DNS to serve the re-signed head', async () => {
      const text = (await dig(dnsServer(), '+short', `_keypost-log.${ZONE}`, 'TXT')).trim().replace(/^"|"$/g, '');
      return parseTreeHeadText(ZONE, text)?.root.equals(resigned!.root) ? true : undefined;
    });
    const { code, body } = await verify();
    assert.equal(code, 6, JSON.stringify(body));
    assert.ok(kinds(body).includes('inconsistent-with-earlier-head'));
    // The rewritten log is consistent in itself: only the remembered head exposes it.
    assert.ok(!kinds(body).includes('root-mismatch'));
    const n = await sql<{ n: string }>`select count(*)::text as n from log_leaves where zone = ${ZONE}`.execute(testDb.db);
    assert.equal(Number(n.rows[0].n), 6);
  });
});

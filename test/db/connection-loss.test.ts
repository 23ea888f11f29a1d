// Issue 15 item 1: losing the database connection must not kill `keypost serve`. Work in flight
// fails with a temporary error (SMTP 4xx, HTTP 503 with a code), the process reconnects and serves
// again, /readyz follows the database, the change feed's LISTEN session comes back, the relay
// worker keeps delivering, and nothing acknowledged is lost.
//
// Both cases need a PostgreSQL server (backends to terminate, a server to restart); on embedded
// PGlite there is no connection to lose, so they skip with a reason there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { openDatabase } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { startServe, type ServingKeypost } from '../support/keypost-process.js';
import { startMixedLoad, subjectOf, type MixedLoad } from '../support/mixed-load.js';
import { requirePrivatePostgres, startPrivatePostgres } from '../support/private-postgres.js';
import { durableDatabase, seedAddress, seedDomain, startDownstream, type Downstream } from '../gateway/support.js';

const onPostgres = process.env.DATABASE_URL ? false : 'needs PostgreSQL (DATABASE_URL): embedded PGlite has no connection to lose';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const RECIPIENT = 'alice@example.org';
// A key lookup by fingerprint reads the database on every request (404: nothing has this one).
const UNCACHED_PATH = `/vks/v1/by-fingerprint/${'AB'.repeat(20)}`;

// Starting takes a second or two; on a machine shared by many test runs it can take far longer.
const STARTUP_TIMEOUT_MS = 90_000;

const SERVE_ENV = {
  KEYPOST_RELAY_LEASE: '3s',
  KEYPOST_RELAY_POLL_INTERVAL: '200ms',
  KEYPOST_RELAY_RETRY_MIN: '200ms',
  KEYPOST_RELAY_RETRY_MAX: '1s',
  KEYPOST_LOG_LEVEL: 'info',
};

async function seed(url: string | undefined, dataDir: string, downstream: Downstream): Promise<void> {
  const handle = await openDatabase({ url, dataDir }, { log: pino({ level: 'silent' }) });
  try {
    await migrateToLatest(handle.db);
    await seedDomain(handle, 'example.org', { powBits: 8, nextHop: downstream.hop });
    await seedAddress(handle, RECIPIENT);
  } finally {
    await handle.close();
  }
}

function loadAgainst(child: () => ServingKeypost | undefined): MixedLoad {
  return startMixedLoad({
    targets: { smtp: () => child()?.addresses.gateway, http: () => child()?.addresses.api, dns: () => child()?.addresses.dns },
    recipient: RECIPIENT,
    bits: 8,
    httpPaths: [`/v1/records/${RECIPIENT}`, UNCACHED_PATH],
    dnsName: '_keypost.example.org',
  });
}

async function readyz(child: ServingKeypost): Promise<{ status: number; code?: string }> {
  const res = await fetch(`http://${child.addresses.api}/readyz`, { signal: AbortSignal.timeout(5000) });
  const body = (await res.json()) as { code?: string };
  return { status: res.status, code: body.code };
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Every acknowledged message reached the downstream; returns how many arrived more than once. */
async function assertNothingLost(load: MixedLoad, downstream: Downstream): Promise<number> {
  const copies = () => {
    const seen = new Map<number, number>();
    for (const m of downstream.mails) {
      const n = subjectOf(m.raw);
      if (n !== undefined) seen.set(n, (seen.get(n) ?? 0) + 1);
    }
    return seen;
  };
  await until('every acknowledged message to arrive', () => [...load.stats.acked.keys()].every((n) => copies().has(n)), 60_000).catch(() => undefined);
  const got = copies();
  const lost = [...load.stats.acked.keys()].filter((n) => !got.has(n));
  assert.deepEqual(lost, [], 'every acknowledged message reached the downstream');
  return [...got.values()].filter((c) => c > 1).length;
}

test('keypost serve survives 10 backend terminations under mixed load, reconnects and loses nothing acknowledged', { skip: onPostgres, timeout: 180_000 }, async (t) => {
  const database = await durableDatabase();
  const downstream = await startDownstream();
  let child: ServingKeypost | undefined;
  let load: MixedLoad | undefined;
  const admin = new pg.Client({ connectionString: database.env.DATABASE_URL });
  try {
    await seed(database.env.DATABASE_URL, database.env.KEYPOST_DATA_DIR, downstream);
    child = await startServe([], { ...database.env, ...SERVE_ENV }, STARTUP_TIMEOUT_MS);
    await admin.connect();
    const dbName = new URL(database.env.DATABASE_URL).pathname.slice(1);
    const ours = async () =>
      (await admin.query(`select pid, query from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`, [dbName])).rows as { pid: number; query: string }[];
    const listening = async () => (await ours()).some((b) => /^LISTEN /i.test(b.query));
    await until('the change feed to LISTEN', listening);

    load = loadAgainst(() => child);
    await load.progress(3);
    for (let i = 1; i <= 10; i++) {
      // Each termination hits a keypost that has connected again: right after the last one its
      // pool may hold no backend yet (messages in flight were acknowledged without a new one).
      await until(`keypost to hold backends before termination ${i}`, async () => (await ours()).length > 0);
      const acked = load.stats.acked.size;
      const killed = await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`, [dbName]);
      assert.ok(killed.rowCount! > 0, `termination ${i} found keypost's backends`);
      // Serving again: new messages are acknowledged after the termination.
      await until(`a message acknowledged after termination ${i}`, () => child!.child.exitCode === null && load!.stats.acked.size > acked + 2);
      assert.equal(child.child.exitCode, null, `keypost serve still running after termination ${i}`);
    }
    await until('the change feed to LISTEN again', listening);
    await load.progress(2);
    await load.stop();
    assert.equal(child.child.exitCode, null, 'keypost serve still running');
    assert.deepEqual(await readyz(child), { status: 200, code: undefined });
    assert.deepEqual(load.stats.smtpPermanentFailures, [], 'no message was refused permanently');
    assert.deepEqual(load.stats.httpBad, [], 'HTTP answered 200/404 or 503 with a code, never a 500');
    const duplicated = await assertNothingLost(load, downstream);
    t.diagnostic(
      `acknowledged ${load.stats.acked.size}, 451s ${load.stats.smtpTempFailures}, duplicated ${duplicated}, http ${JSON.stringify([...load.stats.http])}, dns answers ${load.stats.dnsAnswers}`,
    );
  } finally {
    await load?.stop();
    await admin.end().catch(() => undefined);
    await child?.stop('SIGTERM');
    await downstream.close();
    await database.destroy();
  }
});

test('keypost serve survives a PostgreSQL restart under load: temporary errors, /readyz 503 then 200, nothing lost', { skip: onPostgres || requirePrivatePostgres(), timeout: 180_000 }, async (t) => {
  const server = await startPrivatePostgres();
  const downstream = await startDownstream();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kp-restart-'));
  let child: ServingKeypost | undefined;
  let load: MixedLoad | undefined;
  try {
    await seed(server.url, dataDir, downstream);
    child = await startServe([], { DATABASE_URL: server.url, KEYPOST_DATA_DIR: dataDir, ...SERVE_ENV }, STARTUP_TIMEOUT_MS);
    load = loadAgainst(() => child);
    await load.progress(3);

    await server.stop();
    // While the server is down: not ready, with the code; lookups that need it answer 503 with the code.
    await until('/readyz to say 503 DB_UNAVAILABLE', async () => JSON.stringify(await readyz(child!)) === JSON.stringify({ status: 503, code: 'DB_UNAVAILABLE' }));
    const res = await fetch(`http://${child.addresses.api}${UNCACHED_PATH}`);
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { code: string }).code, 'DB_UNAVAILABLE');
    const tempBefore = load.stats.smtpTempFailures;
    await until('an SMTP sender to get a temporary failure', () => load!.stats.smtpTempFailures > tempBefore);
    assert.equal(child.child.exitCode, null, 'keypost serve still running while the database is down');

    await server.start();
    await until('/readyz to say 200 again', async () => (await readyz(child!)).status === 200);
    const acked = load.stats.acked.size;
    await until('messages acknowledged after the restart', () => load!.stats.acked.size > acked + 5);
    await load.progress(2);
    await load.stop();
    assert.equal(child.child.exitCode, null, 'keypost serve still running');
    assert.deepEqual(load.stats.smtpPermanentFailures, [], 'no message was refused permanently');
    assert.deepEqual(load.stats.httpBad, [], 'HTTP answered 200/404 or 503 with a code, never a 500');
    const duplicated = await assertNothingLost(load, downstream);
    t.diagnostic(
      `acknowledged ${load.stats.acked.size}, 451s ${load.stats.smtpTempFailures}, duplicated ${duplicated}, http ${JSON.stringify([...load.stats.http])}, dns answers ${load.stats.dnsAnswers}`,
    );
  } finally {
    await load?.stop();
    await child?.stop('SIGTERM');
    await downstream.close();
    await server.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

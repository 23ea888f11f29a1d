// Signed-tree-head lag benchmark: publish at a steady rate (default 100 addresses/s for 20 s)
// through the owner API of a running `keypost serve --only api` on PostgreSQL, while a poller asks
// GET /v1/log/:zone/sth every 50 ms. For each publish, the lag is the time from its 200 answer to
// the first head seen whose tree_size covers its leaf (leaf indexes are read from the log after
// the run). Prints p50/p99/max of that lag (target: p99 ≤ 1.5 s) beside the publishes' own round
// trip in the same run, and the machine load. A publish answered 503 DIR_KEY_CHECK_BUSY is asked
// again after its Retry-After, as a client would, and the count of such answers is printed. The
// measured run follows WARM_UP publishes made one after another: a server just started checks its
// first keys in cold code, and an open loop of 100/s into it fills the key-check queue in its
// first second.
//
//   npm run bench:sth-lag [-- --rate 100 --seconds 20]
//
// Keys come from the benchmarks' cached keyring (bench/keyring.ts). PostgreSQL comes from
// DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres); a scratch database is
// created next to it and dropped at the end.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { openDatabase } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { createDomain } from '../src/directory/domains.js';
import { splitKeyringInput } from '../src/directory/key-import.js';
import { armor } from '../src/keys/key-policy.js';
import { openpgpkeyLabel } from '../src/protocol/address-hashes.js';
import { labelOctets } from '../src/transparency/leaf.js';
import { createScratchPostgres } from '../test/support/database.js';
import { parseJson as json, startChild } from './child-server.js';
import { benchKeyringFile } from './keyring.js';
import { keepAliveClient } from './keep-alive-client.js';

const { values } = parseArgs({ options: { rate: { type: 'string', default: '100' }, seconds: { type: 'string', default: '20' } } });
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const COUNT = RATE * SECONDS;
const WARM_UP = 50;
// The poller asks for the head every 50 ms: a lag it reports is at most that much over the true one,
// and 20 requests/s leave the 100 publishes/s the load under test. Asking every 5 ms was 200
// requests/s, more than the publishes, and took an eighth of the server's main thread here.
const POLL_INTERVAL_MS = 50;
const ZONE = 'lag.bench.example';
const here = path.dirname(fileURLToPath(import.meta.url));
const say = (text: string) => process.stderr.write(`${text}\n`);
const now = () => performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

// Key i is user<i>'s: the measured run publishes users 0..COUNT-1, the warm-up the ones after.
const keyring = splitKeyringInput(new Uint8Array(readFileSync(await benchKeyringFile(COUNT + WARM_UP, ZONE, say)))).map((bytes) => armor(bytes));
const keys = keyring.slice(0, COUNT);
const database = await createScratchPostgres(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const dataDir = mkdtempSync(path.join(tmpdir(), 'kp-bench-lag-'));
const handle = await openDatabase({ url: database.url, dataDir }, { log: pino({ level: 'warn' }) });
try {
  await migrateToLatest(handle.db);
  const { ownerToken } = await handle.db.transaction().execute((tx) => createDomain(tx, { name: ZONE, now: new Date() }));
  const serve = await startChild(
    [path.join(here, '../src/cli/main.js'), 'serve', '--only', 'api'],
    { DATABASE_URL: database.url, KEYPOST_HTTP_LISTEN: '127.0.0.1:0', KEYPOST_LOG_LEVEL: 'info', KEYPOST_DATA_DIR: dataDir, KEYPOST_RATE_LIMIT_MAX: '1000000' },
    'stderr',
    (line) => {
      const entry = json(line);
      return entry?.listener === 'api' && typeof entry.address === 'string' ? `http://${entry.address}` : undefined;
    },
  );
  try {
    const call = keepAliveClient(serve.base);
    const publish = (i: number) =>
      call('PUT', `/v1/domains/${ZONE}/addresses/user${i}@${ZONE}`, {
        headers: { authorization: `Bearer ${ownerToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ keytext: keyring[i] }),
      });
    const warmUpStarted = now();
    for (let i = COUNT; i < COUNT + WARM_UP; i++) {
      const response = await publish(i);
      if (response.status !== 200) throw new Error(`warm-up publish user${i}: ${response.status} ${response.body}`);
    }
    say(`warm-up: ${WARM_UP} publishes one after another in ${((now() - warmUpStarted) / 1000).toFixed(1)} s`);
    // The poller: every head it sees, with the time its answer arrived.
    const seen: { at: number; size: number }[] = [];
    const pollErrors: string[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        try {
          const response = await call('GET', `/v1/log/${ZONE}/sth`);
          const size = json(response.body)?.tree_size;
          if (response.status === 200 && typeof size === 'number') seen.push({ at: now(), size });
        } catch (err) {
          // A reset keep-alive connection costs one poll, not the run; reported with the figures.
          pollErrors.push(String((err as Error).cause ?? err));
        }
        await sleep(POLL_INTERVAL_MS);
      }
    })();

    const loadBefore = load();
    const done: number[] = new Array(COUNT);
    const roundTrips: number[] = [];
    const failures: string[] = [];
    let retried = 0;
    const started = now();
    await Promise.all(
      keys.map(async (_, i) => {
        // Open loop: publish i is sent at its slot whatever the earlier ones are doing.
        await sleep(started + (i * 1000) / RATE - now());
        const sent = now();
        try {
          let response = await publish(i);
          // As a client does: a 503 with Retry-After (the key-check queue is full) is asked again
          // after it; the lag is then measured from the 200, and the retries are reported.
          for (let attempt = 1; response.status === 503 && attempt < 10; attempt++) {
            retried++;
            await sleep(Number(response.headers['retry-after'] ?? 1) * 1000);
            response = await publish(i);
          }
          if (response.status !== 200) failures.push(`user${i}: ${response.status} ${response.body.slice(0, 200)}`);
        } catch (err) {
          failures.push(`user${i}: ${String((err as Error).cause ?? err)}`);
        }
        done[i] = now();
        roundTrips.push(done[i] - sent);
      }),
    );
    const publishSeconds = (now() - started) / 1000;
    if (failures.length) throw new Error(`${failures.length} publishes failed, e.g. ${failures.slice(0, 3).join('; ')}`);
    // Wait (positively) for a head that covers every publish.
    const waitStarted = now();
    while (!seen.length || seen.at(-1)!.size < COUNT + WARM_UP) {
      if (now() - waitStarted > 30_000) throw new Error(`no head covers all ${COUNT} publishes 30 s after the last`);
      await sleep(20);
    }
    polling = false;
    await poller;

    const leaves = await handle.db.selectFrom('log_leaves').select(['label', 'idx']).where('zone', '=', ZONE).execute();
    const indexOf = new Map(leaves.map((l) => [l.label.toString('hex'), Number(l.idx)]));
    const lags = keys.map((_, i) => {
      const index = indexOf.get(labelOctets(openpgpkeyLabel(`user${i}`)).toString('hex'));
      if (index === undefined) throw new Error(`user${i} has no leaf`);
      const first = seen.find((s) => s.size > index)!;
      return Math.max(0, first.at - done[i]);
    });
    const ms = (x: number) => `${Math.round(x)} ms`;
    console.log(
      `${COUNT} publishes in ${publishSeconds.toFixed(1)} s (${(COUNT / publishSeconds).toFixed(0)}/s, offered ${RATE}/s; ${retried} answered 503 and asked again); ${seen.length} head polls` +
        `${pollErrors.length ? `, ${pollErrors.length} failed (${pollErrors[0]})` : ''}`,
    );
    console.log(
      `STH lag (200 answer → GET /sth covers the leaf): p50 ${ms(percentile(lags, 50))}, p99 ${ms(percentile(lags, 99))}, max ${ms(Math.max(...lags))} (target p99 ≤ 1500 ms); ` +
        `publish round trip in the same run: p50 ${ms(percentile(roundTrips, 50))}, p99 ${ms(percentile(roundTrips, 99))}; ` +
        `p99 lag / p99 round trip ${(percentile(lags, 99) / percentile(roundTrips, 99)).toFixed(2)}; load ${loadBefore} before, ${load()} after`,
    );
  } finally {
    await serve.stop();
  }
} finally {
  await handle.close();
  await database.drop();
  rmSync(dataDir, { recursive: true, force: true });
}

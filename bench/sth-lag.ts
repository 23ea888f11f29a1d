// Signed-tree-head lag benchmark: publish at a steady rate (default 100 addresses/s for 20 s)
// through the owner API of a running `keypost serve --only api` on PostgreSQL, while a poller asks
// GET /v1/log/:zone/sth back to back. For each publish, the lag is the time from its 200 answer to
// the first head seen whose tree_size covers its leaf (leaf indexes are read from the log after
// the run). Prints p50/p99/max of that lag (target: p99 ≤ 1.5 s) beside the publishes' own round
// trip in the same run, and the machine load.
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

const { values } = parseArgs({ options: { rate: { type: 'string', default: '100' }, seconds: { type: 'string', default: '20' } } });
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const COUNT = RATE * SECONDS;
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

const keys = splitKeyringInput(new Uint8Array(readFileSync(await benchKeyringFile(COUNT, ZONE, say)))).map((bytes) => armor(bytes));
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
    // The poller: every head it sees, with the time its answer arrived.
    const seen: { at: number; size: number }[] = [];
    const pollErrors: string[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        try {
          const response = await fetch(`${serve.base}/v1/log/${ZONE}/sth`);
          const body = (await response.json()) as { tree_size?: number };
          if (response.status === 200 && typeof body.tree_size === 'number') seen.push({ at: now(), size: body.tree_size });
        } catch (err) {
          // A reset keep-alive connection costs one poll, not the run; reported with the figures.
          pollErrors.push(String((err as Error).cause ?? err));
        }
        await sleep(5);
      }
    })();

    const loadBefore = load();
    const done: number[] = new Array(COUNT);
    const roundTrips: number[] = [];
    const failures: string[] = [];
    const started = now();
    await Promise.all(
      keys.map(async (keytext, i) => {
        // Open loop: publish i is sent at its slot whatever the earlier ones are doing.
        await sleep(started + (i * 1000) / RATE - now());
        const sent = now();
        try {
          const response = await fetch(`${serve.base}/v1/domains/${ZONE}/addresses/user${i}@${ZONE}`, {
            method: 'PUT',
            headers: { authorization: `Bearer ${ownerToken}`, 'content-type': 'application/json' },
            body: JSON.stringify({ keytext }),
          });
          const answer = await response.text();
          if (response.status !== 200) failures.push(`user${i}: ${response.status} ${answer.slice(0, 200)}`);
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
    while (!seen.length || seen.at(-1)!.size < COUNT) {
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
      `${COUNT} publishes in ${publishSeconds.toFixed(1)} s (${(COUNT / publishSeconds).toFixed(0)}/s, offered ${RATE}/s); ${seen.length} head polls` +
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

// Stamp engine benchmark: mint rate next to hashcash 1.22's own speed test on this machine,
// verify rate (parse + SHA-1, one core), and spend rate on PostgreSQL with 32 concurrent spenders.
//
//   npm run bench:stamps [-- --seconds 3 --spends 20000 --json]
//
// PostgreSQL: a scratch database is created on the server of DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres) and dropped afterwards.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import type { Db } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { MAX_MINT_BITS, mintStamp } from '../src/pow/mint.js';
import { spendStamp } from '../src/pow/spent-store.js';
import { StampError, formatStampDate } from '../src/pow/stamp.js';
import { verifyStamp } from '../src/pow/verify.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    spends: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '32' },
    json: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const SPENDS = Number(values.spends);
const CONCURRENCY = Number(values.concurrency);
const RESOURCE = 'bench@example.org';
const DAY = 86_400;

interface MintRate {
  /** Hashes per second of wall-clock time: the best one-second window of the run. */
  wall: number;
  /** Hashes per CPU-second of this process, over the whole run: the rate per busy core. */
  perCpuSecond: number;
}

/**
 * keypost's minting rate over a SECONDS-long run. hashcash -s measures with CPU time (clock()), so
 * other load on the machine does not lower its figure; the like-for-like keypost figure is hashes
 * per CPU-second. The wall-clock rate is what a user waits for.
 */
async function keypostMintRate(workers: number): Promise<MintRate> {
  const controller = new AbortController();
  const samples: { t: number; cpu: number; hashes: number }[] = [];
  const cpuSeconds = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const minting = mintStamp(RESOURCE, MAX_MINT_BITS, {
    workers,
    signal: controller.signal,
    onProgress: (hashes) => samples.push({ t: performance.now(), cpu: cpuSeconds(), hashes }),
  });
  const timer = setTimeout(() => controller.abort(), SECONDS * 1000);
  try {
    await minting;
  } catch (err) {
    if (!(err instanceof StampError && err.code === 'POW_MINT_ABORTED')) throw err;
  } finally {
    clearTimeout(timer);
  }
  // Skip the first reports: threads start at different moments.
  let wall = 0;
  for (let i = workers, j = workers; i < samples.length; i++) {
    while (j < samples.length && samples[j].t - samples[i].t < 1000) j++;
    if (j === samples.length) break;
    wall = Math.max(wall, ((samples[j].hashes - samples[i].hashes) / (samples[j].t - samples[i].t)) * 1000);
  }
  const first = samples[workers];
  const last = samples[samples.length - 1];
  if (wall === 0 || !first || last.cpu <= first.cpu) throw new Error('too few progress reports to measure a rate; raise --seconds');
  // CPU time adds up every thread's, so hashes per CPU-second is the rate of one busy core.
  return { wall, perCpuSecond: (last.hashes - first.hashes) / (last.cpu - first.cpu) };
}

/** hashcash -s: the reference tool's preimage tests per CPU-second on one core (best of 3 runs). */
function hashcashSpeed(): number | undefined {
  let best: number | undefined;
  for (let i = 0; i < 3; i++) {
    const run = spawnSync('hashcash', ['-s', '-q'], { encoding: 'utf8', timeout: 120_000 });
    if (run.error || run.status !== 0) return undefined;
    const rate = Number(run.stdout.trim());
    if (Number.isFinite(rate)) best = Math.max(best ?? 0, rate);
  }
  return best;
}

/** Stamps verified per second on this thread: parse, date, resource, SHA-1, window. */
async function verifyRate(): Promise<number> {
  const stamps: string[] = [];
  for (let i = 0; i < 1000; i++) stamps.push((await mintStamp(RESOURCE, 8)).stamp);
  const options = { resource: RESOURCE, bits: 8, now: new Date(), validitySeconds: 28 * DAY, graceSeconds: 2 * DAY };
  for (const s of stamps) if (!verifyStamp(s, options).ok) throw new Error(`bench stamp refused: ${s}`);
  let done = 0;
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  while (performance.now() < deadline) {
    for (const s of stamps) verifyStamp(s, options);
    done += stamps.length;
  }
  return (done / (performance.now() - started)) * 1000;
}

/** Spends per second with CONCURRENCY connections each spending distinct stamps in a loop. */
async function spendRate(): Promise<{ rate: number; server: string } | { skipped: string }> {
  const config = loadConfig(process.env);
  const base = config.database.url ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `keypost_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  try {
    await admin.connect();
  } catch (err) {
    return { skipped: `PostgreSQL unreachable at ${new URL(base).host}: ${(err as Error).message}` };
  }
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: CONCURRENCY });
  // DROP ... WITH (FORCE) below ends connections that are still closing; that is expected.
  pool.on('error', () => {});
  const db = new Kysely({ dialect: new PostgresDialect({ pool }) }) as Db;
  try {
    await migrateToLatest(db);
    // Distinct stamp texts; spending hashes the text, so work-free stamps measure the database.
    const date = formatStampDate(new Date());
    const stamps = Array.from({ length: SPENDS }, (_, i) => `1:20:${date}:${RESOURCE}::${randomBytes(9).toString('base64')}:${i}`);
    const expiresAt = new Date(Date.now() + 30 * DAY * 1000);
    // Open every connection before the clock starts.
    await Promise.all(Array.from({ length: CONCURRENCY }, () => pool.query('select 1')));
    let next = 0;
    let won = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < stamps.length) if (await spendStamp(db, stamps[next++], expiresAt)) won++;
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    if (won !== stamps.length) throw new Error(`only ${won} of ${stamps.length} distinct stamps were spent`);
    const version = await pool.query<{ server_version: string }>('show server_version');
    return { rate: stamps.length / seconds, server: `PostgreSQL ${version.rows[0].server_version}` };
  } finally {
    await db.destroy();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const mhs = (n: number) => `${(n / 1e6).toFixed(2)} Mhash/s`;

async function main(): Promise<void> {
  const cores = availableParallelism();
  const reference = hashcashSpeed();
  const oneWorker = await keypostMintRate(1);
  const allWorkers = await keypostMintRate(cores);
  const verify = await verifyRate();
  const spend = await spendRate();

  const perCore = oneWorker.perCpuSecond;
  const result = {
    cores,
    node: process.version,
    mint: {
      keypostPerCore: perCore,
      keypostOneWorkerWall: oneWorker.wall,
      keypostAllWorkersWall: allWorkers.wall,
      hashcashPerCore: reference ?? null,
      ratioPerCore: reference ? perCore / reference : null,
    },
    verifyPerSecond: verify,
    spend: 'rate' in spend ? { perSecond: spend.rate, concurrency: CONCURRENCY, server: spend.server } : { skipped: spend.skipped },
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const rows: [string, string, string][] = [
    [
      'mint, per core (CPU time)',
      `keypost ${mhs(perCore)}`,
      reference ? `hashcash -s ${mhs(reference)}  ratio ${(perCore / reference).toFixed(3)}` : 'hashcash not installed',
    ],
    ['mint, 1 worker (wall clock)', `keypost ${mhs(oneWorker.wall)}`, ''],
    [`mint, ${cores} workers (wall clock)`, `keypost ${mhs(allWorkers.wall)}`, reference ? `hashcash mints on one core` : ''],
    ['verify, 1 core', `${fmt(verify)} stamps/s`, `target >= 100,000: ${verify >= 100_000 ? 'met' : 'MISSED'}`],
    [
      `spend, ${CONCURRENCY} concurrent`,
      'rate' in spend ? `${fmt(spend.rate)} spends/s` : 'skipped',
      'rate' in spend ? `target >= 2,000: ${spend.rate >= 2000 ? 'met' : 'MISSED'} (${spend.server})` : spend.skipped,
    ],
  ];
  process.stdout.write(`keypost stamp benchmark: ${cores} cores, node ${process.version}\n`);
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  for (const [a, b, c] of rows) process.stdout.write(`  ${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench:stamps failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});

// Directory lookup benchmark: 100,000 published addresses on PostgreSQL, then wrk against VKS
// by-email and /v1/records of a running `keypost serve --only api`, side by side in the same run
// with a bare fastify route (the ceiling on this machine). Prints each run, the medians of the
// runs, the ratio to the bare route, and keypost's RSS holding the 100,000-address zone.
//
//   npm run bench:directory [-- --addresses 100000 --runs 3 --seconds 10 --connections 64 --keep]
//
// The keyring (ed25519 keys, generated on worker threads) is cached in the temp directory. The
// addresses are published through `key import` (importKeyring), whose rate is printed. With
// --keep the database keypost_bench_directory stays and a later run with as many addresses
// skips the import. Needs wrk (Debian package `wrk`) and PostgreSQL at DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres; a scratch database is created next to it).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import { openDatabase } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { createDomain } from '../src/directory/domains.js';
import { importKeyring } from '../src/directory/key-import.js';
import { benchKeyringFile } from './keyring.js';

const { values } = parseArgs({
  options: {
    addresses: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '64' },
    keep: { type: 'boolean', default: false },
  },
});
const ADDRESSES = Number(values.addresses);
const RUNS = Number(values.runs);
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const DOMAIN = 'bench.example';
const KEPT_DB = 'keypost_bench_directory';
const here = path.dirname(fileURLToPath(import.meta.url));
const log = pino({ level: 'warn' });

function say(text: string): void {
  process.stderr.write(text + '\n');
}

function requireWrk(): void {
  if (spawnSync('wrk', ['--version']).error) {
    throw new Error('wrk is not installed (Debian: apt-get install -y wrk)');
  }
}

/** The binary keyring of ADDRESSES keys (shared with bench:import through its cache file). */
async function keyring(): Promise<Uint8Array> {
  return readFileSync(await benchKeyringFile(ADDRESSES, DOMAIN, say));
}

async function prepareDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = values.keep ? KEPT_DB : `keypost_bench_dir_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const exists = (await admin.query('select 1 from pg_database where datname = $1', [name])).rowCount;
  if (!exists) await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      if (values.keep) return;
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Publishes the keyring through `key import` unless the kept database already has it. */
async function publish(url: string): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kpb-'));
  const handle = await openDatabase({ url, dataDir }, { log });
  try {
    await migrateToLatest(handle.db);
    const published = await handle.db
      .selectFrom('addresses')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('domain', '=', DOMAIN)
      .where('status', '=', 'published')
      .executeTakeFirstOrThrow();
    if (Number(published.n) >= ADDRESSES) {
      say(`database already holds ${published.n} published addresses in ${DOMAIN}; skipping the import`);
      return;
    }
    const ring = await keyring();
    await handle.db.transaction().execute(async (tx) => {
      const exists = await tx.selectFrom('domains').select('name').where('name', '=', DOMAIN).executeTakeFirst();
      if (!exists) await createDomain(tx, { name: DOMAIN, policy: { powBits: 22, endpoint: `smtp://mx.${DOMAIN}:25` }, now: new Date() });
    });
    let reported = 0;
    const summary = await importKeyring(handle.db, ring, {
      domain: DOMAIN,
      onProgress: (done, total) => {
        if (done - reported >= total / 10 || done === total) {
          reported = done;
          say(`  imported ${done}/${total}`);
        }
      },
    });
    console.log(
      `import: ${summary.published} addresses published in ${summary.seconds.toFixed(1)} s ` +
        `(${Math.round(summary.published / summary.seconds)} addresses/s), ${summary.skipped.length} skipped`,
    );
    if (summary.published < ADDRESSES) throw new Error(`only ${summary.published} of ${ADDRESSES} addresses were published`);
  } finally {
    await handle.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

interface Server {
  child: ChildProcess;
  base: string;
  stop(): Promise<void>;
}

/**
 * Starts a child and waits for `find` to pull the base URL out of a line of `stream` (keypost logs
 * on stderr, the bare server prints on stdout). The stream keeps being drained afterwards so the
 * child never blocks on a full pipe; a child that does not come up is killed.
 */
function startChild(args: string[], env: NodeJS.ProcessEnv, stream: 'stdout' | 'stderr', find: (line: string) => string | undefined): Promise<Server> {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', stream === 'stdout' ? 'pipe' : 'inherit', stream === 'stderr' ? 'pipe' : 'inherit'],
  });
  const stop = () =>
    new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.removeAllListeners('exit');
      child.once('exit', () => done());
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    let buffer = '';
    let found = false;
    const timer = setTimeout(() => void stop().then(() => reject(new Error(`${args.join(' ')} did not start`))), 60_000);
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
    child[stream]!.on('data', (chunk: Buffer) => {
      if (found) return;
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        const base = find(line);
        if (!base) continue;
        found = true;
        clearTimeout(timer);
        resolve({ child, base, stop });
        return;
      }
    });
  });
}

function parseJson(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function rssMiB(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

interface WrkResult {
  rps: number;
  latency: string;
  errors: number;
  requests: number;
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
function cpuSeconds(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // After "pid (comm) ", utime and stime are fields 12 and 13 (proc(5)), in clock ticks of 1/100 s.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** wrk with a Lua script that spreads requests uniformly over all addresses. */
function wrk(base: string, target: 'bare' | 'by-email' | 'records', seconds: number, scriptDir: string): WrkResult {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`];
  if (target !== 'bare') {
    const prefix = target === 'by-email' ? '/vks/v1/by-email/user' : '/v1/records/user';
    const script = path.join(scriptDir, `${target}.lua`);
    writeFileSync(
      script,
      `math.randomseed(${Date.now() % 100000})\n` +
        `request = function()\n  return wrk.format("GET", "${prefix}" .. math.random(0, ${ADDRESSES - 1}) .. "%40${DOMAIN}")\nend\n`,
    );
    args.push('-s', script);
  }
  args.push(target === 'bare' ? `${base}/hello` : base);
  const run = spawnSync('wrk', args, { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`wrk failed: ${run.stderr}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(run.stdout)?.[1]);
  const latency = /Latency\s+(\S+)/.exec(run.stdout)?.[1] ?? '?';
  const requests = Number(/(\d+) requests in/.exec(run.stdout)?.[1] ?? 0);
  const errors = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(run.stdout)?.[1] ?? 0) + Number(/Socket errors:.*?(\d+)/.exec(run.stdout)?.[1] ?? 0);
  return { rps, latency, errors, requests };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** GET on a fresh connection (the server closes idle keep-alive sockets during long runs). */
function getText(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

async function lookupSources(base: string): Promise<{ cache: number; database: number }> {
  const text = (await getText(`${base}/metrics`)).body;
  const count = (source: string) => Number(new RegExp(`keypost_directory_address_lookups_total\\{source="${source}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  return { cache: count('cache'), database: count('database') };
}

/** Waits until lookups are answered from the zone snapshot (its load runs behind the first one). */
async function waitForSnapshot(base: string): Promise<void> {
  const started = Date.now();
  for (;;) {
    const before = await lookupSources(base);
    await getText(`${base}/v1/records/user1%40${DOMAIN}`);
    if ((await lookupSources(base)).cache > before.cache) break;
    if (Date.now() - started > 120_000) throw new Error('the zone snapshot did not load within 2 minutes');
    await new Promise((r) => setTimeout(r, 200));
  }
  say(`zone snapshot loaded ${((Date.now() - started) / 1000).toFixed(1)} s after the first lookup`);
}

async function main(): Promise<void> {
  requireWrk();
  const database = await prepareDatabase();
  const scratch = mkdtempSync(path.join(tmpdir(), 'kpb-run-'));
  const servers: Server[] = [];
  try {
    await publish(database.url);
    const keypost = await startChild(
      [path.join(here, '../src/cli/main.js'), 'serve', '--only', 'api'],
      { DATABASE_URL: database.url, KEYPOST_HTTP_LISTEN: '127.0.0.1:0', KEYPOST_LOG_LEVEL: 'info', KEYPOST_DATA_DIR: scratch },
      'stderr',
      (line) => {
        const entry = parseJson(line);
        return entry?.listener === 'api' && typeof entry.address === 'string' ? `http://${entry.address}` : undefined;
      },
    );
    servers.push(keypost);
    const bare = await startChild([path.join(here, 'bare-fastify.js')], {}, 'stdout', (line) => {
      const port = parseJson(line)?.port;
      return typeof port === 'number' ? `http://127.0.0.1:${port}` : undefined;
    });
    servers.push(bare);
    say(`keypost at ${keypost.base} (pid ${keypost.child.pid}), bare fastify at ${bare.base} (pid ${bare.child.pid})`);
    const idleRss = rssMiB(keypost.child.pid);

    // Warm-up: the first lookup loads the zone snapshot; both servers get JIT-warm.
    const check = await getText(`${keypost.base}/v1/records/user0%40${DOMAIN}`);
    if (check.status !== 200) throw new Error(`/v1/records answered ${check.status}`);
    await waitForSnapshot(keypost.base);
    for (const target of ['bare', 'by-email', 'records'] as const) wrk(target === 'bare' ? bare.base : keypost.base, target, 3, scratch);
    const warmRss = rssMiB(keypost.child.pid);
    const sourcesBefore = await lookupSources(keypost.base);

    const results: Record<'bare' | 'by-email' | 'records', number[]> = { bare: [], 'by-email': [], records: [] };
    // Server CPU per request as well as requests per second: this machine is shared, and the CPU
    // a server spends per answer is far less sensitive to other load than its throughput is.
    const cpu: Record<'bare' | 'by-email' | 'records', number[]> = { bare: [], 'by-email': [], records: [] };
    console.log(
      `wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, ${ADDRESSES} addresses picked uniformly at random, ${availableParallelism()} cores, ` +
        `load average ${loadavg()[0].toFixed(1)} at start`,
    );
    for (let run = 1; run <= RUNS; run++) {
      for (const target of ['bare', 'by-email', 'records'] as const) {
        const server = target === 'bare' ? bare : keypost;
        const cpuBefore = cpuSeconds(server.child.pid);
        const result = wrk(server.base, target, SECONDS, scratch);
        const cpuPerRequest = ((cpuSeconds(server.child.pid) - cpuBefore) / result.requests) * 1e6;
        if (result.errors) throw new Error(`${target}: ${result.errors} failed requests`);
        results[target].push(result.rps);
        cpu[target].push(cpuPerRequest);
        console.log(
          `  run ${run}  ${target.padEnd(9)} ${result.rps.toFixed(0).padStart(7)} req/s  ` +
            `${cpuPerRequest.toFixed(1).padStart(5)} µs server CPU per request  (mean latency ${result.latency})`,
        );
      }
    }
    const sourcesAfter = await lookupSources(keypost.base);
    console.log(`load average ${loadavg()[0].toFixed(1)} at the end (other work on the machine moves the req/s figures)`);
    const bareMedian = median(results.bare);
    console.log(`median of ${RUNS} runs:`);
    const bareCpu = median(cpu.bare);
    console.log(`  bare fastify route          ${bareMedian.toFixed(0).padStart(7)} req/s  ${bareCpu.toFixed(1).padStart(5)} µs CPU/request`);
    for (const target of ['by-email', 'records'] as const) {
      const m = median(results[target]);
      const c = median(cpu[target]);
      const label = target === 'by-email' ? 'VKS /vks/v1/by-email' : '/v1/records';
      console.log(
        `  ${label.padEnd(27)} ${m.toFixed(0).padStart(7)} req/s  ${c.toFixed(1).padStart(5)} µs CPU/request  = ` +
          `${((m / bareMedian) * 100).toFixed(0)}% of bare by throughput, ${((bareCpu / c) * 100).toFixed(0)}% by CPU per request`,
      );
    }
    console.log(
      `lookups during the runs: ${sourcesAfter.cache - sourcesBefore.cache} from the zone snapshot, ` +
        `${sourcesAfter.database - sourcesBefore.database} from PostgreSQL`,
    );
    console.log(
      `keypost RSS: ${idleRss.toFixed(0)} MiB before the first lookup, ${warmRss.toFixed(0)} MiB with the ${ADDRESSES}-address ` +
        `zone loaded, ${rssMiB(keypost.child.pid).toFixed(0)} MiB after the runs (bare fastify: ${rssMiB(bare.child.pid).toFixed(0)} MiB)`,
    );
  } finally {
    for (const server of servers.reverse()) await server.stop();
    rmSync(scratch, { recursive: true, force: true });
    await database.drop();
  }
}

await main();

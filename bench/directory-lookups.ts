// Directory lookup benchmark: 100,000 published addresses on PostgreSQL, then wrk against VKS
// by-email and /v1/records of a running `keypost serve --only api`, side by side in the same run
// with a bare fastify route (the ceiling on this machine). Prints each run, the medians of the
// runs, the ratio to the bare route, and keypost's RSS holding the 100,000-address zone.
//
//   npm run bench:directory [-- --addresses 100000 --runs 3 --seconds 10 --connections 64 --keep --baseline DIR]
//
// With --baseline DIR (the root of another build's dist/, e.g. a worktree of an older commit after
// `npx tsc`), that build gets its own database, published with its own import code, and its own
// server; every run then measures keypost, the baseline and the bare route one after the other,
// and the medians are compared (this machine is shared, so only same-run figures compare).
//
// The keyring (ed25519 keys, generated on worker threads) is cached in the temp directory. The
// addresses are published through `key import` (importKeyring), whose rate is printed. With
// --keep the database keypost_bench_directory stays and a later run with as many addresses
// skips the import. Needs wrk (Debian package `wrk`) and PostgreSQL at DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres; a scratch database is created next to it).
import { spawnSync } from 'node:child_process';
import { parseJson, startChild, type ChildServer } from './child-server.js';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import * as connectModule from '../src/db/connect.js';
import * as migrateModule from '../src/db/migrate.js';
import * as domainsModule from '../src/directory/domains.js';
import * as importModule from '../src/directory/key-import.js';
import { benchKeyringFile } from './keyring.js';

const { values } = parseArgs({
  options: {
    addresses: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '64' },
    keep: { type: 'boolean', default: false },
    baseline: { type: 'string' },
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

/** One build under test: its CLI and the modules that migrate and publish its database. */
interface Build {
  label: string;
  cli: string;
  database: string;
  openDatabase: typeof connectModule.openDatabase;
  migrateToLatest: typeof migrateModule.migrateToLatest;
  createDomain: typeof domainsModule.createDomain;
  importKeyring: typeof importModule.importKeyring;
}

const thisBuild: Build = {
  label: 'keypost',
  cli: path.join(here, '../src/cli/main.js'),
  database: KEPT_DB,
  ...connectModule,
  ...migrateModule,
  ...domainsModule,
  ...importModule,
};

/** The same entry points from another build's dist/ (their signatures have not changed). */
async function baselineBuild(dir: string): Promise<Build> {
  const root = path.resolve(dir);
  const load = (file: string) => import(path.join(root, file));
  return {
    label: 'baseline',
    cli: path.join(root, 'src/cli/main.js'),
    database: `${KEPT_DB}_baseline`,
    openDatabase: (await load('src/db/connect.js')).openDatabase,
    migrateToLatest: (await load('src/db/migrate.js')).migrateToLatest,
    createDomain: (await load('src/directory/domains.js')).createDomain,
    importKeyring: (await load('src/directory/key-import.js')).importKeyring,
  };
}

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

async function prepareDatabase(build: Build): Promise<{ url: string; drop(): Promise<void> }> {
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = values.keep ? build.database : `keypost_bench_dir_${randomBytes(4).toString('hex')}`;
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
async function publish(build: Build, url: string): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kpb-'));
  const handle = await build.openDatabase({ url, dataDir }, { log });
  try {
    await build.migrateToLatest(handle.db);
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
      if (!exists) await build.createDomain(tx, { name: DOMAIN, policy: { powBits: 22, endpoint: `smtp://mx.${DOMAIN}:25` }, now: new Date() });
    });
    let reported = 0;
    const summary = await build.importKeyring(handle.db, ring, {
      domain: DOMAIN,
      onProgress: (done, total) => {
        if (done - reported >= total / 10 || done === total) {
          reported = done;
          say(`  imported ${done}/${total}`);
        }
      },
    });
    console.log(
      `${build.label} import: ${summary.published} addresses published in ${summary.seconds.toFixed(1)} s ` +
        `(${Math.round(summary.published / summary.seconds)} addresses/s), ${summary.skipped.length} skipped`,
    );
    if (summary.published < ADDRESSES) throw new Error(`only ${summary.published} of ${ADDRESSES} addresses were published`);
  } finally {
    await handle.close();
    rmSync(dataDir, { recursive: true, force: true });
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

/** A build's server on its own published database. */
interface Served {
  build: Build;
  server: ChildServer;
  idleRss: number;
  warmRss: number;
}

async function serveBuild(build: Build, scratch: string, databases: Array<{ drop(): Promise<void> }>, servers: ChildServer[]): Promise<Served> {
  const database = await prepareDatabase(build);
  databases.push(database);
  await publish(build, database.url);
  const dataDir = mkdtempSync(path.join(scratch, `${build.label}-`));
  const server = await startChild(
    [build.cli, 'serve', '--only', 'api'],
    { DATABASE_URL: database.url, KEYPOST_HTTP_LISTEN: '127.0.0.1:0', KEYPOST_LOG_LEVEL: 'info', KEYPOST_DATA_DIR: dataDir },
    'stderr',
    (line) => {
      const entry = parseJson(line);
      return entry?.listener === 'api' && typeof entry.address === 'string' ? `http://${entry.address}` : undefined;
    },
  );
  servers.push(server);
  say(`${build.label} at ${server.base} (pid ${server.child.pid}, ${build.cli})`);
  const idleRss = rssMiB(server.child.pid);
  // Warm-up: the first lookup loads the zone snapshot; the server gets JIT-warm.
  const check = await getText(`${server.base}/v1/records/user0%40${DOMAIN}`);
  if (check.status !== 200) throw new Error(`${build.label}: /v1/records answered ${check.status}`);
  await waitForSnapshot(server.base);
  for (const target of ['by-email', 'records'] as const) wrk(server.base, target, 3, scratch);
  return { build, server, idleRss, warmRss: rssMiB(server.child.pid) };
}

type Target = 'by-email' | 'records';
const TARGET_LABEL: Record<Target, string> = { 'by-email': 'VKS /vks/v1/by-email', records: '/v1/records' };

async function main(): Promise<void> {
  requireWrk();
  const builds = [thisBuild, ...(values.baseline ? [await baselineBuild(values.baseline)] : [])];
  const scratch = mkdtempSync(path.join(tmpdir(), 'kpb-run-'));
  const servers: ChildServer[] = [];
  const databases: Array<{ drop(): Promise<void> }> = [];
  try {
    const served: Served[] = [];
    for (const build of builds) served.push(await serveBuild(build, scratch, databases, servers));
    const bare = await startChild([path.join(here, 'bare-fastify.js')], {}, 'stdout', (line) => {
      const port = parseJson(line)?.port;
      return typeof port === 'number' ? `http://127.0.0.1:${port}` : undefined;
    });
    servers.push(bare);
    say(`bare fastify at ${bare.base} (pid ${bare.child.pid})`);
    wrk(bare.base, 'bare', 3, scratch);
    const sourcesBefore = await lookupSources(served[0].server.base);

    // Requests per second and server CPU per request: this machine is shared, and the CPU a
    // server spends per answer is far less sensitive to other load than its throughput is.
    type Sample = { rps: number[]; cpu: number[] };
    const samples = new Map<string, Sample>();
    const sample = (key: string): Sample => samples.get(key) ?? (samples.set(key, { rps: [], cpu: [] }).get(key) as Sample);
    const measure = (key: string, server: ChildServer, target: Target | 'bare', run: number) => {
      const cpuBefore = cpuSeconds(server.child.pid);
      const result = wrk(server.base, target, SECONDS, scratch);
      const cpuPerRequest = ((cpuSeconds(server.child.pid) - cpuBefore) / result.requests) * 1e6;
      if (result.errors) throw new Error(`${key}: ${result.errors} failed requests`);
      sample(key).rps.push(result.rps);
      sample(key).cpu.push(cpuPerRequest);
      console.log(
        `  run ${run}  ${key.padEnd(20)} ${result.rps.toFixed(0).padStart(7)} req/s  ` +
          `${cpuPerRequest.toFixed(1).padStart(5)} µs server CPU per request  (mean latency ${result.latency})`,
      );
    };
    console.log(
      `wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, ${ADDRESSES} addresses picked uniformly at random, ${availableParallelism()} cores, ` +
        `load average ${loadavg()[0].toFixed(1)} at start`,
    );
    for (let run = 1; run <= RUNS; run++) {
      measure('bare', bare, 'bare', run);
      for (const target of ['by-email', 'records'] as const) {
        for (const { build, server } of served) measure(`${build.label} ${target}`, server, target, run);
      }
    }
    const sourcesAfter = await lookupSources(served[0].server.base);
    console.log(`load average ${loadavg()[0].toFixed(1)} at the end (other work on the machine moves the req/s figures)`);
    const bareRps = median(sample('bare').rps);
    const bareCpu = median(sample('bare').cpu);
    console.log(`median of ${RUNS} runs:`);
    console.log(`  ${'bare fastify route'.padEnd(36)} ${bareRps.toFixed(0).padStart(7)} req/s  ${bareCpu.toFixed(1).padStart(5)} µs CPU/request`);
    for (const target of ['by-email', 'records'] as const) {
      for (const { build } of served) {
        const rps = median(sample(`${build.label} ${target}`).rps);
        const cpu = median(sample(`${build.label} ${target}`).cpu);
        console.log(
          `  ${`${build.label} ${TARGET_LABEL[target]}`.padEnd(36)} ${rps.toFixed(0).padStart(7)} req/s  ${cpu.toFixed(1).padStart(5)} µs CPU/request  = ` +
            `${((rps / bareRps) * 100).toFixed(0)}% of bare by throughput, ${((bareCpu / cpu) * 100).toFixed(0)}% by CPU per request`,
        );
      }
      if (served.length === 2) {
        const [ours, base] = served.map(({ build }) => sample(`${build.label} ${target}`));
        console.log(
          `  ${TARGET_LABEL[target]}: keypost/baseline ${(median(ours.rps) / median(base.rps)).toFixed(2)} by throughput, ` +
            `${(median(base.cpu) / median(ours.cpu)).toFixed(2)} by CPU per request (1.00 = the same; above is faster)`,
        );
      }
    }
    console.log(
      `keypost lookups during the runs: ${sourcesAfter.cache - sourcesBefore.cache} from the zone snapshot, ` +
        `${sourcesAfter.database - sourcesBefore.database} from PostgreSQL`,
    );
    for (const { build, server, idleRss, warmRss } of served) {
      console.log(
        `${build.label} RSS: ${idleRss.toFixed(0)} MiB before the first lookup, ${warmRss.toFixed(0)} MiB with the ${ADDRESSES}-address ` +
          `zone loaded, ${rssMiB(server.child.pid).toFixed(0)} MiB after the runs`,
      );
    }
    console.log(`bare fastify RSS: ${rssMiB(bare.child.pid).toFixed(0)} MiB`);
  } finally {
    for (const server of servers.reverse()) await server.stop();
    rmSync(scratch, { recursive: true, force: true });
    for (const database of databases) await database.drop();
  }
}

await main();

// DNS benchmark: keypost's `serve --only dns` against NSD serving the same zone, on PostgreSQL.
//
//   npm run bench:dns            (DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/test;
//                                 a scratch database is created next to it and dropped afterwards)
//   npm run bench:dns -- --workers   keypost with KEYPOST_DNS_WORKERS=N against NSD with
//                                 server-count N, N = 1 and the number of cores (workerScaling)
//
// Zone: 100,000 published addresses. Every row carries the same real minimal key (an ed25519 key
// with one user ID and an encryption subkey, about 450 octets): publishing 100,000 distinct keys
// would measure key generation, not DNS, and the server does the same work per row either way.
// Load: dnsperf -e, 90% existing names (half _keypost TXT, half OPENPGPKEY), 10% missing.
// Figures are the median of BENCH_RUNS runs (default 3). The publishing figure runs 100 publishes a
// second (each a transaction that writes an address and bumps the serial, as the API does) from
// this process against the same PostgreSQL, on the same two cores; NSD is measured under the same
// publishes as a control for the share of that load which is not keypost's own.
//
//   npm run bench:dns -- --signed   (issue 9) the same zone signed (algorithm 13) against NSD serving
//                                   it signed by `ldns-signzone -n` (NSEC3, no extra iterations), DO
//                                   on every query; see signedBench() below.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import * as openpgp from 'openpgp';
import { pino } from 'pino';
import { openDatabase } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { bumpZoneSerial } from '../src/db/change-feed.js';
import { openpgpkeyLabel } from '../src/protocol/address-hashes.js';
import { loadConfig } from '../src/config.js';
import { openSecretBox } from '../src/secrets/sealed-box.js';
import { applyDnssecChange } from '../src/dns/dnssec/signing-change.js';
import { createScratchPostgres } from '../test/support/database.js';
import { nsdServerConfig } from '../test/support/nsd.js';
import { freePort } from '../test/support/ports.js';

const run = promisify(execFile);
const ZONE = 'bench.test';
const ADDRESSES = Number(process.env.BENCH_ADDRESSES ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const MANY_SOURCES = Number(process.env.BENCH_SOURCES ?? 8);
const PUBLISH_RATE = 100;
const CLI = path.resolve('dist/src/cli/main.js');

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function makeMinimalKey(): Promise<{ binary: Buffer; fingerprint: string; keyIds: string[] }> {
  const { publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ email: `user@${ZONE}` }], format: 'object' });
  return {
    binary: Buffer.from(publicKey.write()),
    fingerprint: publicKey.getFingerprint().toUpperCase(),
    keyIds: [publicKey, ...publicKey.subkeys].map((k) => k.getKeyID().toHex().toUpperCase()),
  };
}

/** `missingTag` names the missing names, so that a file made for another run repeats none. */
function queryFile(dir: string, missingShare = 0.1, name = 'queries.txt', missingTag = 'missing'): string {
  const lines: string[] = [];
  for (let i = 0; i < 200_000; i++) {
    const r = Math.random();
    if (r < missingShare) {
      lines.push(`${openpgpkeyLabel(`${missingTag}${i}`)}._openpgpkey.${ZONE} OPENPGPKEY`);
    } else {
      const local = `user${Math.floor(Math.random() * ADDRESSES)}`;
      lines.push(r < 0.55 ? `${openpgpkeyLabel(local)}._keypost.${ZONE} TXT` : `${openpgpkeyLabel(local)}._openpgpkey.${ZONE} OPENPGPKEY`);
    }
  }
  const file = path.join(dir, name);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

interface PerfResult {
  qps: number;
  lost: number;
  latencies?: number[];
}

async function dnsperf(port: number, file: string, args: string[], verboseTo?: string): Promise<PerfResult> {
  const argv = ['-s', '127.0.0.1', '-p', String(port), '-d', file, '-e', '-l', String(SECONDS), ...args];
  if (!verboseTo) {
    const { stdout } = await run('dnsperf', argv, { maxBuffer: 64 * 1024 * 1024, timeout: (SECONDS + 30) * 1000 });
    return parsePerf(stdout);
  }
  // -v prints a line per answer; into a file, so a slow pipe reader cannot hold dnsperf back and
  // inflate the very latencies it measures.
  const out = openSync(verboseTo, 'w');
  await new Promise<void>((resolve, reject) => {
    const child = spawn('dnsperf', [...argv, '-v'], { stdio: ['ignore', out, 'ignore'] });
    child.once('error', reject);
    child.once('exit', () => resolve());
  });
  closeSync(out);
  const stdout = readFileSync(verboseTo, 'utf8');
  const latencies: number[] = [];
  // "> NOERROR <name> <type> <latency in seconds>"
  for (const line of stdout.split('\n')) {
    const m = /^> \S+ \S+ \S+ ([\d.]+)$/.exec(line);
    if (m) latencies.push(Number(m[1]) * 1000);
  }
  return { ...parsePerf(stdout), latencies };
}

/**
 * dnsperf from `sources` client addresses at once, each in its own /24 (127.0.N.1), summed: what
 * response-rate limiting must leave alone. Only existing names, so no one answer repeats often.
 */
async function dnsperfFromMany(port: number, file: string, sources: number): Promise<PerfResult> {
  const results = await Promise.all(
    Array.from({ length: sources }, (_, i) => dnsperf(port, file, ['-a', `127.0.${i + 10}.1`, '-c', '2'])),
  );
  return { qps: results.reduce((n, r) => n + r.qps, 0), lost: results.reduce((n, r) => n + r.lost, 0) };
}

function parsePerf(stdout: string): PerfResult {
  return {
    qps: Number(/Queries per second:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN),
    lost: Number(/Queries lost:\s+(\d+)/.exec(stdout)?.[1] ?? NaN),
  };
}

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
}

function rssMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function startKeypostDns(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; port: number; log: () => string }> {
  // serve logs JSON lines on stderr, including the address each listener bound.
  // BENCH_NODE_ARGS (e.g. "--cpu-prof") goes to the keypost process only.
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, CLI, 'serve', '--only', 'dns'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  // keypost logs events, not queries, so what it says over a run is small enough to keep.
  let buffer = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('keypost did not start within 120 s')), 120_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const m = /"listener":"dns","address":"[^"]*:(\d+)"/.exec(buffer);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`keypost exited with ${code}`)));
  });
  return { child, port, log: () => buffer };
}

/**
 * The zone as `keypost dns records` prints it, for NSD. Checked to hold every address: a CLI that
 * exited before its pipe drained once left NSD serving a few dozen of them, so it answered
 * NXDOMAIN, cheaply, to nearly every query.
 */
async function zoneRecords(env: NodeJS.ProcessEnv): Promise<string> {
  const { stdout } = await run(process.execPath, [CLI, 'dns', 'records', ZONE], { env, maxBuffer: 1024 * 1024 * 1024 });
  const keys = stdout.split('\n').filter((line) => /\sOPENPGPKEY\s/.test(line)).length;
  if (keys !== ADDRESSES) throw new Error(`keypost dns records printed ${keys} OPENPGPKEY records for ${ADDRESSES} addresses`);
  return stdout;
}

async function startNsd(dir: string, zoneText: string, serverCount = 1): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  writeFileSync(path.join(dir, `${ZONE}.zone`), zoneText);
  writeFileSync(
    path.join(dir, 'nsd.conf'),
    `${nsdServerConfig(dir, port, { logfile: path.join(dir, 'nsd.log'), verbosity: 0, serverCount })}zone:
  name: ${ZONE}
  zonefile: ${ZONE}.zone
`,
  );
  const child = spawn('nsd', ['-d', '-c', path.join(dir, 'nsd.conf')], { stdio: 'ignore' });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(port), '+short', '+time=1', '+tries=1', ZONE, 'SOA']);
      if (stdout.trim()) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error('nsd did not start');
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, port };
}

/** Waits for a process to exit after SIGTERM (so the next one measured has the cores to itself). */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await exited;
}

/** RSS of a process and its children (NSD forks one server process per server-count). */
function treeRssMb(pid: number): number {
  return processTree(pid).reduce((mb, p) => mb + rssMb(p).rss, 0);
}

/**
 * `--workers`: keypost with KEYPOST_DNS_WORKERS=N against NSD with server-count N, for N = 1 and N
 * = the number of cores, unsigned, RRL off on both; dnsperf runs N threads against each. Also the
 * RSS of keypost after the load at each N: the zone is shared by the workers, not held N times.
 */
async function workerScaling(dir: string, env: NodeJS.ProcessEnv, zoneText: string, queries: string): Promise<void> {
  const cores = availableParallelism();
  const counts = [...new Set([1, cores])];
  const pass = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  const summary: string[] = [];
  // The RSS of answering on the main thread alone (KEYPOST_DNS_WORKERS=0), for what workers add.
  const alone = await startKeypostDns({ ...env, KEYPOST_DNS_WORKERS: '0' });
  await new Promise((r) => setTimeout(r, 3000));
  summary.push(`  N=0 (main thread answers) RSS after load: keypost ${rssMb(alone.child.pid!).rss.toFixed(0)} MB`);
  await stop(alone.child);
  for (const n of counts) {
    const kp = await startKeypostDns({ ...env, KEYPOST_DNS_WORKERS: String(n) });
    // Let the load's garbage be collected before reading RSS.
    await new Promise((r) => setTimeout(r, 3000));
    const rss = rssMb(kp.child.pid!).rss;
    const rows: Record<string, number>[] = [];
    const nsdDir = mkdtempSync(path.join(dir, `nsd-${n}-`));
    const nsd = await startNsd(nsdDir, zoneText, n);
    const nsdRss = treeRssMb(nsd.child.pid!);
    try {
      for (let i = 0; i < RUNS; i++) {
        const r: Record<string, number> = {};
        for (const c of ['10', '100']) {
          r[`kp${c}`] = (await dnsperf(kp.port, queries, ['-c', c, '-T', String(n)])).qps;
          r[`nsd${c}`] = (await dnsperf(nsd.port, queries, ['-c', c, '-T', String(n)])).qps;
        }
        rows.push(r);
        console.log(`workers=${n} run ${i + 1}: ${JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round(v)])))}`);
      }
    } finally {
      await stop(kp.child);
      await stop(nsd.child);
    }
    const m = (k: string) => median(rows.map((r) => r[k]));
    for (const c of ['10', '100']) {
      const ratio = m(`kp${c}`) / m(`nsd${c}`);
      summary.push(`  N=${n} -c ${c.padEnd(3)}  keypost ${m(`kp${c}`).toFixed(0)} qps   NSD ${m(`nsd${c}`).toFixed(0)} qps   ratio ${ratio.toFixed(2)}  ${pass(ratio >= 0.6)} (≥ 0.60)`);
    }
    summary.push(`  N=${n} RSS after load: keypost ${rss.toFixed(0)} MB, NSD ${nsdRss.toFixed(0)} MB (all its processes)`);
  }
  console.log(`\nworkers: medians of ${RUNS} runs, ${SECONDS} s each, zone of ${ADDRESSES} addresses, load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  for (const line of summary) console.log(line);
}

// ---- Signed mode (issue 9, "Benchmark"): `npm run bench:dns -- --signed` -------------------------
// keypost serves the zone signed with algorithm 13 (signatures made in the background at start,
// denials online per RFC 9824), NSD the same records signed by `ldns-signzone -n -t 0` (NSEC3,
// RFC 9276 parameters). Every query has DO set. Both run with rate limiting off (one dnsperf
// source would otherwise be limited), keypost with the default server-wide denial budget, which
// is what a flood meets; the all-missing run is repeated on a keypost without that budget to show
// what online signing alone sustains.
const SIGNED = process.argv.includes('--signed');

/** Sums a Prometheus counter (all label sets) from an ops listener's /metrics. */
async function scrape(ops: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://${ops}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}${labels}`) && /^[a-z_]+(\{[^}]*\})? /.test(line)) sum += Number(line.split(' ').pop());
  return sum;
}

/** `pid` and its descendants (NSD forks its server processes). */
function processTree(pid: number): number[] {
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const ppid = Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
        if (ppid === pids[i]) pids.push(Number(entry));
      } catch {
        // gone meanwhile
      }
    }
  }
  return pids;
}

/** Proportional set size (shared pages split between sharers) of `pid` and its descendants, in MB. */
function treePssMb(pid: number): number {
  return processTree(pid).reduce((mb, p) => mb + Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'))?.[1] ?? 0) / 1024, 0);
}

/** CPU seconds used by `pid` and its descendants. */
function treeCpuSeconds(pid: number): number {
  return processTree(pid).reduce((n, p) => n + cpuSeconds(p), 0);
}

/** Starts keypost on the signed zone and waits until the background has signed it whole. */
async function startSignedKeypost(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; port: number; ops: string; signMs: number }> {
  const started = await startKeypostDns(env);
  for (const deadline = Date.now() + 600_000; ; ) {
    const signed = /"names":(\d+),"ms":(\d+),"msg":"zone signed in the background"/.exec(started.log());
    const ops = /"listener":"ops","address":"([^"]+)"/.exec(started.log());
    if (signed && ops) return { child: started.child, port: started.port, ops: ops[1], signMs: Number(signed[2]) };
    if (Date.now() > deadline) throw new Error('keypost did not finish signing the zone within 600 s');
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function signedBench(handle: Awaited<ReturnType<typeof openDatabase>>, url: string, dir: string, children: ChildProcess[]): Promise<void> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: url,
    KEYPOST_DNS_LISTEN: '127.0.0.1:0',
    KEYPOST_HTTP_LISTEN: '127.0.0.1:0',
    KEYPOST_LOG_LEVEL: 'info',
    KEYPOST_DATA_DIR: dir,
    KEYPOST_DNS_RRL_RATE: '0',
    KEYPOST_DNS_DENIAL_RATE: '0',
  };
  // NSD's copy: the records keypost serves, before keypost's own key exists, signed by ldns.
  const zoneText = await zoneRecords(env);
  const nsdDir = path.join(dir, 'nsd-signed');
  mkdirSync(nsdDir);
  writeFileSync(path.join(nsdDir, 'unsigned.zone'), zoneText);
  const { stdout: keyBase } = await run('ldns-keygen', ['-a', 'ECDSAP256SHA256', '-k', ZONE], { cwd: nsdDir });
  let t0 = Date.now();
  await run('ldns-signzone', ['-n', '-t', '0', '-o', ZONE, '-f', 'signed.zone', 'unsigned.zone', keyBase.trim()], { cwd: nsdDir, maxBuffer: 64 * 1024 * 1024 });
  const ldnsSeconds = (Date.now() - t0) / 1000;
  const nsd = await startNsd(nsdDir, readFileSync(path.join(nsdDir, 'signed.zone'), 'utf8'));
  children.push(nsd.child);

  // keypost's key, as `keypost domain set --dnssec on` makes it.
  const box = openSecretBox(loadConfig(env).secrets);
  await handle.db.transaction().execute((tx) => applyDnssecChange(tx, box, ZONE, { enabled: true, algorithm: 13 }));
  t0 = Date.now();
  const kp = await startSignedKeypost(env);
  children.push(kp.child);
  console.log(`keypost signed the zone in ${(kp.signMs / 1000).toFixed(1)} s in the background (ready ${((Date.now() - t0) / 1000).toFixed(1)} s after start); ldns-signzone -n took ${ldnsSeconds.toFixed(1)} s`);
  const kpFree = await startSignedKeypost({ ...env, KEYPOST_DATA_DIR: path.join(dir, 'unbudgeted'), KEYPOST_SECRET_KEY_FILE: path.join(dir, 'secret.key'), KEYPOST_DNS_DENIAL_BUDGET: '0' });
  children.push(kpFree.child);

  const positive = queryFile(dir, 0, 'signed-positive.txt');
  const rows: Record<string, number>[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r: Record<string, number> = {};
    // Missing names new to this run, so none is a cached denial from the run before.
    const mixed = queryFile(dir, 0.1, `signed-mixed-${i}.txt`, `r${i}m`);
    // CPU per answer too, for both servers: what the qps of either is worth on a shared machine.
    for (const [name, port, pid] of [['kp', kp.port, kp.child.pid!], ['nsd', nsd.port, nsd.child.pid!]] as const) {
      const cpu = treeCpuSeconds(pid);
      r[name] = (await dnsperf(port, mixed, ['-c', '10', '-D'])).qps;
      r[`${name}Cpu`] = ((treeCpuSeconds(pid) - cpu) / (r[name] * SECONDS)) * 10_000;
    }
    // CPU per answer as well as qps: on a shared machine the second is what others leave over.
    const cpuPer10k = async (run: () => Promise<PerfResult>): Promise<[number, number]> => {
      const cpu = cpuSeconds(kp.child.pid!);
      const { qps } = await run();
      return [qps, ((cpuSeconds(kp.child.pid!) - cpu) / (qps * SECONDS)) * 10_000];
    };
    // With and without DO in turn, first one then the other on alternate runs.
    const withDo = async () => {
      const signedBefore = await scrape(kp.ops, 'keypost_dns_query_signatures_total');
      [r.kpPositiveDo, r.kpPositiveDoCpu] = await cpuPer10k(() => dnsperf(kp.port, positive, ['-c', '10', '-D']));
      r.kpPositiveDoSignedOnQuery = (await scrape(kp.ops, 'keypost_dns_query_signatures_total')) - signedBefore;
    };
    const withoutDo = async () => {
      [r.kpPositivePlain, r.kpPositivePlainCpu] = await cpuPer10k(() => dnsperf(kp.port, positive, ['-c', '10']));
    };
    for (const measure of i % 2 === 0 ? [withDo, withoutDo] : [withoutDo, withDo]) await measure();
    for (const [tag, server] of [['budget', kp], ['free', kpFree]] as const) {
      const missing = queryFile(dir, 1, `signed-missing-${tag}-${i}.txt`, `r${i}${tag}`);
      const refusedBefore = await scrape(server.ops, 'keypost_dns_denials_refused_total');
      const result = await dnsperf(server.port, missing, ['-c', '10', '-D'], path.join(dir, `dnsperf-missing-${tag}.log`));
      r[`${tag}Missing`] = result.qps;
      r[`${tag}MissingP99`] = percentile(result.latencies!, 0.99);
      r[`${tag}MissingTc`] = (await scrape(server.ops, 'keypost_dns_denials_refused_total')) - refusedBefore;
      r[`${tag}MissingTcShare`] = r[`${tag}MissingTc`] / (result.qps * SECONDS);
    }
    r.kpRss = rssMb(kp.child.pid!).rss;
    r.kpPss = treePssMb(kp.child.pid!);
    r.nsdPss = treePssMb(nsd.child.pid!);
    r.load = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
    rows.push(r);
    console.log(`run ${i + 1}: ${JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round(v * 1000) / 1000])))}`);
  }
  const m = (k: string) => median(rows.map((r) => r[k]));
  const pass = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  const vsNsd = m('kp') / m('nsd');
  const vsUnsigned = m('kpPositiveDo') / m('kpPositivePlain');
  const missingShare = m('budgetMissing') / m('kp');
  const memory = m('kpPss') / m('nsdPss');
  console.log(`\nsigned zone, medians of ${RUNS} runs, ${SECONDS} s each, ${ADDRESSES} addresses, DO on every query, -c 10`);
  console.log(`  mixed (10% missing)  keypost ${m('kp').toFixed(0)} qps   NSD ${m('nsd').toFixed(0)} qps   ratio ${vsNsd.toFixed(2)}  ${pass(vsNsd >= 0.5)} (≥ 0.5)`);
  console.log(`                       CPU per 10k answers keypost ${m('kpCpu').toFixed(3)} s, NSD ${m('nsdCpu').toFixed(3)} s (NSD/keypost ${(m('nsdCpu') / m('kpCpu')).toFixed(2)}×)`);
  console.log(`  existing names       DO ${m('kpPositiveDo').toFixed(0)} qps   without DO (today's answers) ${m('kpPositivePlain').toFixed(0)} qps   ratio ${vsUnsigned.toFixed(2)}  ${pass(vsUnsigned >= 0.8)} (≥ 0.8)`);
  console.log(`                       CPU per 10k answers DO ${m('kpPositiveDoCpu').toFixed(3)} s, without ${m('kpPositivePlainCpu').toFixed(3)} s (${(m('kpPositivePlainCpu') / m('kpPositiveDoCpu')).toFixed(2)}×); signatures made on the query path ${m('kpPositiveDoSignedOnQuery')}`);
  console.log(
    `  all missing          ${m('budgetMissing').toFixed(0)} qps, p99 ${m('budgetMissingP99').toFixed(2)} ms, TC share ${(m('budgetMissingTcShare') * 100).toFixed(0)}% (default budget), ${(missingShare).toFixed(2)}× mixed  ${pass(missingShare >= 0.25)} (≥ 0.25)`,
  );
  console.log(`                       without the budget: ${m('freeMissing').toFixed(0)} qps, p99 ${m('freeMissingP99').toFixed(2)} ms (every answer signed online), ${(m('freeMissing') / m('kp')).toFixed(2)}× mixed`);
  console.log(`  memory               keypost ${m('kpPss').toFixed(0)} MB (RSS ${m('kpRss').toFixed(0)} MB)   NSD ${m('nsdPss').toFixed(0)} MB (PSS, all its processes)   ratio ${memory.toFixed(2)}  ${pass(memory <= 1.6)} (≤ 1.6)`);
  console.log(`  signing from scratch keypost ${(kp.signMs / 1000).toFixed(1)} s (background, serving meanwhile)   ldns-signzone -n ${ldnsSeconds.toFixed(1)} s   load ${m('load').toFixed(2)}`);
}

async function main(): Promise<void> {
  const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const scratch = await createScratchPostgres(base);
  const dir = mkdtempSync(path.join(tmpdir(), 'kp-bench-dns-'));
  const children: ChildProcess[] = [];
  const handle = await openDatabase({ url: scratch.url, dataDir: dir }, { log: pino({ level: 'warn' }) });
  try {
    await migrateToLatest(handle.db);
    const key = await makeMinimalKey();
    console.log(`zone ${ZONE}: ${ADDRESSES} addresses, minimal key ${key.binary.length} octets (one real key's bytes reused per row)`);
    await handle.db
      .insertInto('domains')
      .values({ name: ZONE, serial: 1, pow_bits: 20, endpoint: `smtp://mx.${ZONE}:25`, next_hop: null, api_url: `https://keys.${ZONE}`, owner_token_hash: Buffer.alloc(32), dns: JSON.stringify({ nameservers: [{ name: `ns1.${ZONE}`, ipv4: ['127.0.0.1'] }] }) })
      .execute();
    await handle.db.insertInto('keys').values({ fingerprint: key.fingerprint, key_ids: key.keyIds, key_data: key.binary, algorithm: 'ed25519', bits: null, created_at: new Date() }).execute();
    const started = Date.now();
    for (let from = 0; from < ADDRESSES; from += 20_000) {
      const to = Math.min(ADDRESSES, from + 20_000) - 1;
      await sql`
        insert into addresses (address, domain, local_part, fingerprint, minimal_key, user_id, status, source)
        select 'user' || i || '@' || ${ZONE}, ${ZONE}, 'user' || i, ${key.fingerprint}, ${key.binary}, '<user' || i || '@' || ${ZONE} || '>', 'published', 'owner'
        from generate_series(${from}::int, ${to}::int) as i`.execute(handle.db);
    }
    await sql`delete from dns_address_changes`.execute(handle.db);
    console.log(`inserted in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (SIGNED) {
      await signedBench(handle, scratch.url, dir, children);
      return;
    }

    // The NSD peer runs with rrl-ratelimit 0, so the figures compared with it run keypost with
    // RRL off too; a second keypost with the default RRL serves the many-sources comparison.
    const env = { ...process.env, DATABASE_URL: scratch.url, KEYPOST_DNS_LISTEN: '127.0.0.1:0', KEYPOST_HTTP_LISTEN: '127.0.0.1:0', KEYPOST_LOG_LEVEL: 'info', KEYPOST_DATA_DIR: dir, KEYPOST_DNS_RRL_RATE: '0' };
    if (process.argv.includes('--workers')) {
      await workerScaling(dir, env, await zoneRecords(env), queryFile(dir));
      return;
    }
    const loadStart = Date.now();
    const kp = await startKeypostDns(env);
    children.push(kp.child);
    console.log(`keypost loaded the zone and listens on ${kp.port} after ${((Date.now() - loadStart) / 1000).toFixed(1)} s, RSS ${rssMb(kp.child.pid!).rss.toFixed(0)} MB`);
    const zoneText = await zoneRecords(env);
    const nsd = await startNsd(dir, zoneText);
    children.push(nsd.child);
    const queries = queryFile(dir);
    const positiveQueries = queryFile(dir, 0, 'positive-queries.txt');
    const rrlEnv: NodeJS.ProcessEnv = { ...env, KEYPOST_DATA_DIR: path.join(dir, 'rrl') };
    delete rrlEnv.KEYPOST_DNS_RRL_RATE;
    const kpRrl = await startKeypostDns(rrlEnv);
    children.push(kpRrl.child);

    const rows: Record<string, number>[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r: Record<string, number> = {};
      let cpu = cpuSeconds(kp.child.pid!);
      const base10 = await dnsperf(kp.port, queries, ['-c', '10']);
      r.kp10 = base10.qps;
      r.kpLost10 = base10.lost;
      r.kpCpuPer10k = ((cpuSeconds(kp.child.pid!) - cpu) / (r.kp10 * SECONDS)) * 10_000;
      r.nsd10 = (await dnsperf(nsd.port, queries, ['-c', '10'])).qps;
      // The two servers are measured in turn, first one then the other on alternate runs, so the
      // drift of a shared machine between the two measurements does not fall on one side.
      // CPU per answer as well: on a shared machine qps is partly what the neighbours leave over.
      const many: { off?: PerfResult; on?: PerfResult } = {};
      const measureOff = async () => {
        const cpu = cpuSeconds(kp.child.pid!);
        many.off = await dnsperfFromMany(kp.port, positiveQueries, MANY_SOURCES);
        r.manyRrlOffCpuPer10k = ((cpuSeconds(kp.child.pid!) - cpu) / (many.off.qps * SECONDS)) * 10_000;
      };
      const measureOn = async () => {
        const cpu = cpuSeconds(kpRrl.child.pid!);
        many.on = await dnsperfFromMany(kpRrl.port, positiveQueries, MANY_SOURCES);
        r.manyRrlOnCpuPer10k = ((cpuSeconds(kpRrl.child.pid!) - cpu) / (many.on.qps * SECONDS)) * 10_000;
      };
      for (const measure of i % 2 === 0 ? [measureOff, measureOn] : [measureOn, measureOff]) await measure();
      const manyOff = many.off!;
      const manyOn = many.on!;
      r.manyRrlOff = manyOff.qps;
      r.manyRrlOn = manyOn.qps;
      r.manyRrlOnLost = manyOn.lost;
      r.kp100 = (await dnsperf(kp.port, queries, ['-c', '100'])).qps;
      r.nsd100 = (await dnsperf(nsd.port, queries, ['-c', '100'])).qps;
      const fixed = (await dnsperf(kp.port, queries, ['-c', '10', '-Q', '5000'], path.join(dir, 'dnsperf-keypost.log'))).latencies!;
      r.p50 = percentile(fixed, 0.5);
      r.p99 = percentile(fixed, 0.99);
      const peer = (await dnsperf(nsd.port, queries, ['-c', '10', '-Q', '5000'], path.join(dir, 'dnsperf-nsd.log'))).latencies!;
      r.nsdP50 = percentile(peer, 0.5);
      r.nsdP99 = percentile(peer, 0.99);
      const mem = rssMb(kp.child.pid!);
      r.rss = mem.rss;
      r.peak = mem.peak;
      // Paired measurement: the same load just before, then with 100 publishes per second alongside
      // (each a transaction that writes an address and bumps the serial, as a publish through the API
      // commits). Pairs taken seconds apart cancel most of the drift between runs on a shared machine.
      r.kpQuiet10 = (await dnsperf(kp.port, queries, ['-c', '10'])).qps;
      let published = 0;
      let stop = false;
      const publishOne = async (n: number) => {
        await handle.db.transaction().execute(async (tx) => {
          await tx
            .insertInto('addresses')
            .values({ address: `pub${i}x${n}@${ZONE}`, domain: ZONE, local_part: `pub${i}x${n}`, fingerprint: key.fingerprint, minimal_key: key.binary, user_id: `<pub${i}x${n}@${ZONE}>`, status: 'published', source: 'owner' })
            .execute();
          await bumpZoneSerial(tx, ZONE);
        });
      };
      const publisher = (async () => {
        // Started on schedule, not one after another, so a slow commit does not lower the rate.
        const t0 = Date.now();
        const inFlight = new Set<Promise<void>>();
        while (!stop) {
          const p: Promise<void> = publishOne(published++).finally(() => inFlight.delete(p));
          inFlight.add(p);
          if (inFlight.size >= 16) await Promise.race(inFlight);
          const due = t0 + (published * 1000) / PUBLISH_RATE;
          if (due > Date.now()) await new Promise((res) => setTimeout(res, due - Date.now()));
        }
        await Promise.all(inFlight);
        return published / ((Date.now() - t0) / 1000);
      })();
      cpu = cpuSeconds(kp.child.pid!);
      const publishing10 = await dnsperf(kp.port, queries, ['-c', '10']);
      r.kpPublishing10 = publishing10.qps;
      r.kpPublishingLost10 = publishing10.lost;
      r.kpPublishingCpuPer10k = ((cpuSeconds(kp.child.pid!) - cpu) / (r.kpPublishing10 * SECONDS)) * 10_000;
      r.drop = 1 - r.kpPublishing10 / r.kpQuiet10;
      // The same publishes also load PostgreSQL and this process; NSD under them shows that share.
      r.nsdPublishing10 = (await dnsperf(nsd.port, queries, ['-c', '10'])).qps;
      stop = true;
      r.publishRate = await publisher;
      const serial = await run('dig', ['@127.0.0.1', '-p', String(kp.port), '+short', ZONE, 'SOA']);
      r.servedSerial = Number(serial.stdout.split(' ')[2]);
      rows.push(r);
      console.log(`run ${i + 1}: ${JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round(v * 100) / 100])))}`);
    }
    const m = (k: string) => median(rows.map((r) => r[k]));
    const ratio10 = m('kp10') / m('nsd10');
    const ratio100 = m('kp100') / m('nsd100');
    const drop = m('drop');
    const pass = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
    console.log(`\nmedians of ${RUNS} runs, ${SECONDS} s each, zone of ${ADDRESSES} addresses`);
    console.log(`  -c 10   keypost ${m('kp10').toFixed(0)} qps   NSD ${m('nsd10').toFixed(0)} qps   ratio ${ratio10.toFixed(2)}  ${pass(ratio10 >= 0.35)} (≥ 0.35)`);
    console.log(`  -c 100  keypost ${m('kp100').toFixed(0)} qps   NSD ${m('nsd100').toFixed(0)} qps   ratio ${ratio100.toFixed(2)}  ${pass(ratio100 >= 0.35)} (≥ 0.35)`);
    console.log(`  latency at 5,000 qps: keypost p50 ${m('p50').toFixed(3)} ms p99 ${m('p99').toFixed(3)} ms; NSD p50 ${m('nsdP50').toFixed(3)} ms p99 ${m('nsdP99').toFixed(3)} ms`);
    const rrlRatio = m('manyRrlOn') / m('manyRrlOff');
    console.log(
      `  ${MANY_SOURCES} sources (one /24 each): RRL on ${m('manyRrlOn').toFixed(0)} qps, off ${m('manyRrlOff').toFixed(0)} qps, ratio ${rrlRatio.toFixed(2)}  ${pass(rrlRatio >= 0.9)} (≥ 0.90), lost with RRL on ${m('manyRrlOnLost')}`,
    );
    console.log(`    CPU per 10k answers RRL on ${m('manyRrlOnCpuPer10k').toFixed(3)} s, off ${m('manyRrlOffCpuPer10k').toFixed(3)} s (off/on ${(m('manyRrlOffCpuPer10k') / m('manyRrlOnCpuPer10k')).toFixed(2)}×)`);
    console.log(`  keypost RSS ${m('rss').toFixed(0)} MB (peak ${m('peak').toFixed(0)} MB)  ${pass(m('peak') <= 400)} (≤ 400 MB)`);
    const nsdDrop = median(rows.map((r) => 1 - r.nsdPublishing10 / r.nsd10));
    console.log(
      `  with ${m('publishRate').toFixed(0)} publishes/s: ${m('kpPublishing10').toFixed(0)} qps at -c 10 against ${m('kpQuiet10').toFixed(0)} just before; drop ${(drop * 100).toFixed(1)}% (median of the per-run pairs)  ${pass(drop < 0.2)} (< 20%), lost queries ${m('kpPublishingLost10')}`,
    );
    console.log(`    keypost CPU per 10k answers ${m('kpCpuPer10k').toFixed(3)} s idle zone, ${m('kpPublishingCpuPer10k').toFixed(3)} s while publishing; NSD drops ${(nsdDrop * 100).toFixed(1)}% under the same publishes (${m('nsdPublishing10').toFixed(0)} qps)`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    await handle.close();
    await scratch.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

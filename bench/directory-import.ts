// Import benchmark: publish 100,000 addresses on PostgreSQL through `keypost key import` (the real
// CLI, as an operator runs it), each address with its own freshly generated key, and print the
// import rate with the importer's peak RSS; once into a zone whose transparency log is on and once
// into one whose log is off (`domain set --transparency off`), alternating which goes first, each
// into a fresh database, `--runs` times after one unmeasured warm-up, then the medians and their ratio (target: the log costs
// at most 10%, on ≥ 0.9× off) with the machine load. Then, for comparison, publish a sample
// through the owner API (PUT /v1/domains/:domain/addresses/:address) of a running
// `keypost serve --only api`.
//
//   npm run bench:import [-- --addresses 100000 --runs 3 --api-sample 5000 --api-concurrency 16]
//
// The keyring (ed25519 + cv25519 per key, one user ID user<i>@bench.example each) is generated on
// worker threads by bench/directory-keygen-worker.ts and cached in the temp directory, shared with
// bench:directory. Key generation is not part of the measured time. PostgreSQL comes from
// DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres); a scratch database is
// created next to it and dropped at the end.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { openDatabase } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { createDomain } from '../src/directory/domains.js';
import { splitKeyringInput } from '../src/directory/key-import.js';
import { armor } from '../src/keys/key-policy.js';
import { createScratchPostgres } from '../test/support/database.js';
import { benchKeyringFile } from './keyring.js';

const { values } = parseArgs({
  options: {
    addresses: { type: 'string', default: '100000' },
    'api-sample': { type: 'string', default: '5000' },
    'api-concurrency': { type: 'string', default: '16' },
    runs: { type: 'string', default: '3' },
  },
});
const ADDRESSES = Number(values.addresses);
const API_SAMPLE = Math.min(Number(values['api-sample']), ADDRESSES);
const API_CONCURRENCY = Number(values['api-concurrency']);
const RUNS = Number(values.runs);
const BASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DOMAIN = 'bench.example';
const API_DOMAIN = 'api.bench.example';
const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.join(here, '../src/cli/main.js');

function say(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** Runs a command to completion, collecting output; /usr/bin/time -f reports the peak RSS (KiB). */
function runTimed(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string; seconds: number; maxRssKiB?: number }> {
  const timed = existsSync('/usr/bin/time');
  const command = timed ? '/usr/bin/time' : process.execPath;
  const argv = timed ? ['-f', 'KP_MAXRSS=%M', process.execPath, ...args] : args;
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const rss = /KP_MAXRSS=(\d+)/.exec(stderr);
      resolve({ code, stdout, stderr, seconds: Number(process.hrtime.bigint() - started) / 1e9, maxRssKiB: rss ? Number(rss[1]) : undefined });
    });
  });
}

async function startServe(env: NodeJS.ProcessEnv): Promise<{ base: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [cli, 'serve', '--only', 'api'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk;
      const match = /"listener":"api","address":"([^"]+)"/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(`http://${match[1]}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`serve exited ${code}:\n${output}`)));
  });
  return {
    base,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function ownerApiSample(env: NodeJS.ProcessEnv, ownerToken: string): Promise<void> {
  // Its own keyring for its own zone: every PUT carries a key whose user ID names the address.
  const sampleFile = await benchKeyringFile(API_SAMPLE, API_DOMAIN, say);
  const keys = splitKeyringInput(new Uint8Array(readFileSync(sampleFile))).map((bytes) => armor(bytes));
  const serve = await startServe(env);
  try {
    let next = 0;
    let failures = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: API_CONCURRENCY }, async () => {
        while (next < keys.length) {
          const i = next++;
          const response = await fetch(`${serve.base}/v1/domains/${API_DOMAIN}/addresses/user${i}@${API_DOMAIN}`, {
            method: 'PUT',
            headers: { authorization: `Bearer ${ownerToken}`, 'content-type': 'application/json' },
            body: JSON.stringify({ keytext: keys[i] }),
          });
          await response.arrayBuffer();
          if (response.status !== 200) failures++;
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(
      `owner API: ${keys.length - failures} addresses published in ${seconds.toFixed(1)} s = ${Math.round((keys.length - failures) / seconds)} addresses/s ` +
        `(${API_CONCURRENCY} concurrent PUTs, one transaction each${failures ? `, ${failures} failed` : ''})`,
    );
  } finally {
    await serve.stop();
  }
}

/** One import into a fresh database whose zone keeps its transparency log or not; addresses/s (wall). */
async function importOnce(transparency: boolean): Promise<{ rate: number; line: string }> {
  const database = await createScratchPostgres(BASE_URL);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kpbi-'));
  const env = serveEnv(database.url, dataDir);
  try {
    const handle = await openDatabase({ url: database.url, dataDir }, { log: pino({ level: 'warn' }) });
    try {
      await migrateToLatest(handle.db);
      await handle.db.transaction().execute((tx) => createDomain(tx, { name: DOMAIN, policy: { transparency }, now: new Date() }));
    } finally {
      await handle.close();
    }
    const result = await runTimed([cli, 'key', 'import', '--domain', DOMAIN, ringFile, '--json'], env);
    if (result.code !== 0) throw new Error(`key import failed (${result.code}):\n${result.stderr}`);
    const summary = JSON.parse(result.stdout);
    const rate = summary.published / result.seconds;
    return {
      rate,
      line:
        `key import, log ${transparency ? 'on ' : 'off'}: ${summary.published} addresses published in ${result.seconds.toFixed(1)} s wall ` +
        `(${summary.seconds.toFixed(1)} s inside the import) = ${Math.round(rate)} addresses/s` +
        `${result.maxRssKiB ? `; importer peak RSS ${(result.maxRssKiB / 1024).toFixed(0)} MiB` : ''}; skipped ${summary.skipped.length}`,
    };
  } finally {
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function serveEnv(url: string, dataDir: string): NodeJS.ProcessEnv {
  return { ...process.env, DATABASE_URL: url, KEYPOST_DATA_DIR: dataDir, KEYPOST_HTTP_LISTEN: '127.0.0.1:0', KEYPOST_LOG_LEVEL: 'info' };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

const ringFile = await benchKeyringFile(ADDRESSES, DOMAIN, say);
// The log's cost: the same import with the zone's log on and off, alternating which goes first so
// that drift in the machine's load falls on both alike.
const rates: Record<'on' | 'off', number[]> = { on: [], off: [] };
// The first import of a session runs slower whatever the setting (cold page cache for the keyring
// and PostgreSQL's catalogs, an unwarmed JIT): one unmeasured import first, so it falls on neither.
say(`warm-up: importing ${ADDRESSES} keys (log off, not counted) ...`);
console.log(`warm-up (not counted): ${(await importOnce(false)).line}`);
const loadBefore = load();
for (let run = 0; run < RUNS; run++) {
  for (const transparency of run % 2 === 0 ? [true, false] : [false, true]) {
    say(`run ${run + 1}/${RUNS}: importing ${ADDRESSES} keys into ${DOMAIN} (log ${transparency ? 'on' : 'off'}) with keypost key import ...`);
    const { rate, line } = await importOnce(transparency);
    console.log(line);
    rates[transparency ? 'on' : 'off'].push(rate);
  }
}
const on = median(rates.on);
const off = median(rates.off);
console.log(
  `key import medians of ${RUNS}: log on ${Math.round(on)} addresses/s, log off ${Math.round(off)} addresses/s, ratio ${(on / off).toFixed(2)}× ` +
    `(target ≥ 0.9×); load ${loadBefore} before, ${load()} after`,
);

if (API_SAMPLE > 0) {
  const database = await createScratchPostgres(BASE_URL);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kpbi-'));
  try {
    const handle = await openDatabase({ url: database.url, dataDir }, { log: pino({ level: 'warn' }) });
    let apiToken: string;
    try {
      await migrateToLatest(handle.db);
      apiToken = (await handle.db.transaction().execute((tx) => createDomain(tx, { name: API_DOMAIN, now: new Date() }))).ownerToken;
    } finally {
      await handle.close();
    }
    await ownerApiSample(serveEnv(database.url, dataDir), apiToken);
  } finally {
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

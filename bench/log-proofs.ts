// Transparency log proof benchmark: a zone log of 100,000 leaves (one per address user<i>) on
// PostgreSQL, then wrk against GET /v1/log/:zone/proof/inclusion?address= of a running
// `keypost serve --only api`, alternating in the same run with a bare fastify route (the ceiling
// on this machine). Both servers get the same request script (a random address per request), so
// the client's own cost per request is the same on both sides. Each round starts both servers
// afresh and takes the medians of its runs; the ratio printed is the median of the rounds' ratios
// (target ≥ 0.5).
//
//   npm run bench:log-proofs [-- --leaves 100000 --rounds 3 --runs 3 --seconds 10 --connections 64]
//
// The leaves are appended through the log's own store (src/transparency/log-store.ts), as a
// publication appends them, without the key checks a real publication costs: this measures the
// proof route, not publishing. Needs wrk and PostgreSQL at DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres; a scratch database is created next to it).
import { spawnSync } from 'node:child_process';
import { parseJson as json, startChild, type ChildServer } from './child-server.js';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { openDatabase } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { createDomain } from '../src/directory/domains.js';
import { openpgpkeyLabel } from '../src/protocol/address-hashes.js';
import { SealedBox } from '../src/secrets/sealed-box.js';
import { encodeLeaf, labelOctets } from '../src/transparency/leaf.js';
import { appendLeaves, lockLogHead } from '../src/transparency/log-store.js';
import { signLatestTreeHead } from '../src/transparency/tree-heads.js';
import { createScratchPostgres } from '../test/support/database.js';

const { values } = parseArgs({
  options: {
    leaves: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '3' },
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '64' },
  },
});
const LEAVES = Number(values.leaves);
const ROUNDS = Number(values.rounds);
const RUNS = Number(values.runs);
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const ZONE = 'log.bench.example';
const here = path.dirname(fileURLToPath(import.meta.url));
const say = (text: string) => process.stderr.write(`${text}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function wrk(url: string, script: string | undefined, seconds: number): { rps: number; latency: string; errors: number } {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, ...(script ? ['-s', script] : []), url];
  const run = spawnSync('wrk', args, { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`wrk failed: ${run.stderr}`);
  const errors = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(run.stdout)?.[1] ?? 0);
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(run.stdout)?.[1]), latency: /Latency\s+(\S+)/.exec(run.stdout)?.[1] ?? '?', errors };
}

async function main(): Promise<void> {
  if (spawnSync('wrk', ['--version']).error) throw new Error('wrk is not installed (Debian: apt-get install -y wrk)');
  const scratch = mkdtempSync(path.join(tmpdir(), 'kp-bench-log-'));
  const database = await createScratchPostgres(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  const children: ChildServer[] = [];
  try {
    const handle = await openDatabase({ url: database.url, dataDir: scratch }, { log: pino({ level: 'warn' }) });
    await migrateToLatest(handle.db);
    await handle.db.transaction().execute((tx) => createDomain(tx, { name: ZONE, policy: {}, now: new Date() }));
    const started = Date.now();
    for (let at = 0; at < LEAVES; at += 5000) {
      await handle.db.transaction().execute(async (tx) => {
        const size = await lockLogHead(tx, ZONE);
        const batch = Array.from({ length: Math.min(5000, LEAVES - at) }, (_, i) => {
          const label = labelOctets(openpgpkeyLabel(`user${at + i}`));
          const leaf = encodeLeaf({ action: 'publish', sequence: 1, time: Date.now(), zone: ZONE, label, fingerprint: randomBytes(20).toString('hex').toUpperCase(), keyHash: randomBytes(32), endpoint: null, powBits: null });
          return { label, leaf };
        });
        await appendLeaves(tx, ZONE, size, batch);
      });
    }
    say(`${LEAVES} leaves appended in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const head = await signLatestTreeHead(handle.db, new SealedBox(randomBytes(32)), ZONE, new Date());
    say(`signed head of ${head?.size} leaves`);
    await handle.close();

    const script = path.join(scratch, 'inclusion.lua');
    writeFileSync(script, `math.randomseed(${Date.now() % 100000})\nrequest = function()\n  return wrk.format("GET", "/v1/log/${ZONE}/proof/inclusion?address=user" .. math.random(0, ${LEAVES - 1}) .. "%40${ZONE}")\nend\n`);
    // Each round starts both servers afresh: one process can settle at a speed that differs by
    // a quarter from the next start of the same build, so one pair of processes is one sample.
    const rounds: { ours: number; peer: number }[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const keypost = await startChild([path.join(here, '../src/cli/main.js'), 'serve', '--only', 'api'], { DATABASE_URL: database.url, KEYPOST_HTTP_LISTEN: '127.0.0.1:0', KEYPOST_LOG_LEVEL: 'info', KEYPOST_DATA_DIR: scratch, KEYPOST_RATE_LIMIT_MAX: '1000000' }, 'stderr', (line) => {
        const entry = json(line);
        return entry?.listener === 'api' && typeof entry.address === 'string' ? `http://${entry.address}` : undefined;
      });
      children.push(keypost);
      const bare = await startChild([path.join(here, 'bare-fastify.js')], {}, 'stdout', (line) => {
        const port = json(line)?.port;
        return typeof port === 'number' ? `http://127.0.0.1:${port}` : undefined;
      });
      children.push(bare);
      const check = await fetch(`${keypost.base}/v1/log/${ZONE}/proof/inclusion?address=user1%40${ZONE}`);
      if (check.status !== 200) throw new Error(`the inclusion proof answered ${check.status}: ${await check.text()}`);
      wrk(`${keypost.base}/`, script, 3);
      wrk(`${bare.base}/`, script, 3);
      const ours: number[] = [];
      const peer: number[] = [];
      for (let run = 1; run <= RUNS; run++) {
        const a = wrk(`${keypost.base}/`, script, SECONDS);
        const b = wrk(`${bare.base}/`, script, SECONDS);
        if (a.errors || b.errors) throw new Error(`non-2xx answers: inclusion ${a.errors}, bare ${b.errors}`);
        ours.push(a.rps);
        peer.push(b.rps);
        say(`round ${round} run ${run}: inclusion proofs ${a.rps.toFixed(0)} req/s (latency ${a.latency}), bare fastify ${b.rps.toFixed(0)} req/s (latency ${b.latency})`);
      }
      rounds.push({ ours: median(ours), peer: median(peer) });
      say(`round ${round}: ${median(ours).toFixed(0)} against ${median(peer).toFixed(0)} req/s (${(median(ours) / median(peer)).toFixed(3)}×)`);
      for (const c of children.splice(0)) await c.stop();
    }
    const ratio = median(rounds.map((r) => r.ours / r.peer));
    process.stdout.write(
      `${JSON.stringify({ leaves: LEAVES, rounds: ROUNDS, runs: RUNS, seconds: SECONDS, connections: CONNECTIONS, inclusionRps: median(rounds.map((r) => r.ours)), bareRps: median(rounds.map((r) => r.peer)), roundRatios: rounds.map((r) => Number((r.ours / r.peer).toFixed(3))), ratio: Number(ratio.toFixed(3)), target: 0.5, load: loadavg()[0] })}\n`,
    );
  } finally {
    for (const c of children) await c.stop();
    await database.drop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();

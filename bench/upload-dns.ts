// Upload storm benchmark (issue 15 item 4): DNS latency while the directory judges flooded keys.
//
//   npm run bench:upload-dns
//
// Starts `keypost serve` (embedded database, or DATABASE_URL's server in a scratch database), then
// sends real DNS queries over UDP at a steady rate and records each round trip:
// - idle: no uploads, the baseline;
// - storm: 30 concurrent VKS uploads of a certificate-flooded key (~1 MB armoured, as many
//   third-party certifications as fit the 1 MiB upload limit), until every upload is answered.
// Prints p50/p99/max per phase, lost queries, and what the uploads got (200, or 503 when the
// key-check queue is full). Target: storm p99 < 20 ms.
//
// KEYPOST_BENCH_BIN=/path/to/dist/src/cli/main.js runs another build (e.g. the commit before key
// checks moved to worker threads) for a before/after pair on the same machine.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createScratchPostgres } from '../test/support/database.js';
import { floodedKey } from '../test/support/flooded-key.js';
import { KEYPOST_BIN, runKeypost, startServe } from '../test/support/keypost-process.js';
import type { PhaseResult, ProberData } from './dns-prober-worker.js';

const here = path.dirname(fileURLToPath(import.meta.url));

const DOMAIN = 'storm.example';
const UPLOADS = Number(process.env.BENCH_UPLOADS ?? 30);
const CERTIFICATIONS = Number(process.env.BENCH_CERTIFICATIONS ?? 3800);
const QUERY_INTERVAL_MS = 5;
const IDLE_MS = 5000;
const QUERY_TIMEOUT_MS = 2000;
const bin = process.env.KEYPOST_BENCH_BIN ?? KEYPOST_BIN;

const say = (text: string) => process.stdout.write(`${text}\n`);

interface Prober {
  /** Ends the current phase: its round trips (ms) and lost queries. */
  phase(): Promise<PhaseResult>;
  stop(): Promise<PhaseResult>;
}

/** Starts the prober thread; it queries every QUERY_INTERVAL_MS until stopped. */
function startProber(host: string, port: number): Prober {
  const data: ProberData = { host, port, name: `_keypost.${DOMAIN}`, intervalMs: QUERY_INTERVAL_MS, timeoutMs: QUERY_TIMEOUT_MS };
  const worker = new Worker(path.join(here, 'dns-prober-worker.js'), { workerData: data });
  const ask = (message: 'phase' | 'stop') =>
    new Promise<PhaseResult>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.postMessage(message);
    });
  return {
    phase: () => ask('phase'),
    async stop() {
      const last = await ask('stop');
      await worker.terminate();
      return last;
    },
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summary(label: string, rtts: number[], lost: number): { p50: number; p99: number; max: number } {
  const sorted = [...rtts].sort((a, b) => a - b);
  const figures = { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? NaN };
  say(
    `${label.padEnd(6)} DNS ${String(rtts.length).padStart(6)} answers, ${lost} lost: ` +
      `p50 ${figures.p50.toFixed(2)} ms, p99 ${figures.p99.toFixed(2)} ms, max ${figures.max.toFixed(1)} ms`,
  );
  return figures;
}

async function main(): Promise<void> {
  say(`load before: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (1/5/15 min)`);
  say(`build: ${bin}`);
  const flooded = await floodedKey(`flood@${DOMAIN}`, CERTIFICATIONS);
  say(`flooded key: ${CERTIFICATIONS} certifications, ${flooded.armored.length} bytes armoured`);

  const dataDir = mkdtempSync(path.join(tmpdir(), 'kpb-'));
  const env: Record<string, string> = { KEYPOST_DATA_DIR: dataDir, KEYPOST_LOG_LEVEL: 'warn', KEYPOST_RATE_LIMIT_MAX: '100000' };
  const scratch = process.env.DATABASE_URL ? await createScratchPostgres(process.env.DATABASE_URL) : undefined;
  if (scratch) env.DATABASE_URL = scratch.url;
  // Only serve and migrate create a database; the zone is added before the server starts.
  const migrated = await runKeypost(['migrate', 'up'], env);
  if (migrated.code !== 0) throw new Error(`migrate up failed: ${migrated.stderr}`);
  const added = await runKeypost(['domain', 'add', DOMAIN, '--ns', `ns1.${DOMAIN}=192.0.2.1`], env);
  if (added.code !== 0) throw new Error(`domain add failed: ${added.stderr}`);

  const serving = await startServe([], { ...env, KEYPOST_LOG_LEVEL: 'info' }, 120_000, bin);
  try {
    const [dnsHost, dnsPort] = serving.addresses.dns.split(/:(?=\d+$)/);
    const api = `http://${serving.addresses.api}`;
    const prober = startProber(dnsHost, Number(dnsPort));
    await new Promise((resolve) => setTimeout(resolve, 500));
    await prober.phase(); // warm-up, discarded
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const idle = await prober.phase();
    const idleFigures = summary('idle', idle.rtts, idle.lost);

    const body = JSON.stringify({ keytext: flooded.armored });
    const started = Date.now();
    const statuses = await Promise.all(
      Array.from({ length: UPLOADS }, () =>
        fetch(`${api}/vks/v1/upload`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        }).then(async (response) => {
          await response.arrayBuffer();
          return response.status;
        }),
      ),
    );
    const stormSeconds = (Date.now() - started) / 1000;
    const storm = await prober.stop();
    const stormFigures = summary('storm', storm.rtts, storm.lost);

    const counts = new Map<number, number>();
    for (const status of statuses) counts.set(status, (counts.get(status) ?? 0) + 1);
    say(`uploads: ${UPLOADS} concurrent, answered in ${stormSeconds.toFixed(1)} s: ${[...counts].map(([s, n]) => `${n}x ${s}`).join(', ')}`);
    say(
      `storm/idle p99: ${(stormFigures.p99 / idleFigures.p99).toFixed(1)}x; target storm p99 < 20 ms: ` +
        `${stormFigures.p99 < 20 ? 'met' : 'NOT met'}`,
    );
    say(`load after: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (1/5/15 min)`);
  } finally {
    await serving.stop();
    await scratch?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

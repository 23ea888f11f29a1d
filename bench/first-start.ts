// First start on the embedded database: `keypost serve` on an empty data directory, until it logs
// "keypost ready". Reports, as the median of BENCH_RUNS runs (default 3), the wall time the log
// gives for creating the database, the time to ready, and the whole process's CPU time (user +
// system, from /proc), which a loaded machine disturbs less than wall time.
//
//   npm run bench:first-start
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServe } from '../test/support/keypost-process.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU seconds (user + system) the process has used so far (proc(5), fields 14 and 15). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const created: number[] = [];
const ready: number[] = [];
const cpu: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const dir = mkdtempSync(path.join(tmpdir(), 'kp-first-start-'));
  const started = performance.now();
  const serve = await startServe([], { DATABASE_URL: '', KEYPOST_DATA_DIR: path.join(dir, 'data'), KEYPOST_SMTP_LISTEN: '127.0.0.1:0' }, 120_000);
  ready.push(performance.now() - started);
  cpu.push(cpuSeconds(serve.child.pid!));
  const line = serve.log().split('\n').find((l) => l.includes('"embedded database created"'));
  created.push(line ? (JSON.parse(line) as { ms: number }).ms : NaN);
  await serve.stop();
  rmSync(dir, { recursive: true, force: true });
  console.log(`run ${i + 1}: database created in ${created[i]} ms, ready in ${Math.round(ready[i])} ms, ${cpu[i].toFixed(2)} CPU s`);
}
console.log(`median of ${RUNS}: database created in ${median(created)} ms, ready in ${Math.round(median(ready))} ms, ${median(cpu).toFixed(2)} CPU s`);

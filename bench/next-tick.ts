// process.nextTick after major collections, with and without keypost's kept tick object
// (src/tick-object-shape.ts), side by side in one run: each side is a fresh Node process that runs
// `--collections` forced major collections with a tick queued before each (as a server's start-up
// does while it loads), then times rounds of 1,000,000 chained nextTick calls. A third process
// that never collected is the ceiling. Prints the medians and the ratios.
//
//   npm run bench:next-tick [-- --collections 20 --rounds 7]
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { keepTickObjectShape } from '../src/tick-object-shape.js';

const TICKS = 1_000_000;

/** One side, run in a child process: prints the median nanoseconds per nextTick. */
async function side(keep: boolean, collections: number, rounds: number): Promise<void> {
  if (keep) keepTickObjectShape();
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  for (let k = 0; k < collections; k++) {
    process.nextTick(() => {});
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  const round = () =>
    new Promise<number>((resolve) => {
      let left = TICKS;
      const started = process.hrtime.bigint();
      const step = () => (--left === 0 ? resolve(Number(process.hrtime.bigint() - started) / TICKS) : process.nextTick(step));
      process.nextTick(step);
    });
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) times.push(await round());
  times.sort((a, b) => a - b);
  process.stdout.write(`${times[Math.floor(times.length / 2)]}\n`);
}

function runSide(keep: boolean, collections: number, rounds: number): number {
  const run = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--side', keep ? 'keep' : 'plain', '--collections', String(collections), '--rounds', String(rounds)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`the ${keep ? 'keeping' : 'plain'} side failed: ${run.stderr}`);
  return Number(run.stdout.trim());
}

const { values } = parseArgs({ options: { side: { type: 'string' }, collections: { type: 'string', default: '20' }, rounds: { type: 'string', default: '7' } } });
const collections = Number(values.collections);
const rounds = Number(values.rounds);
if (values.side) {
  await side(values.side === 'keep', collections, rounds);
} else {
  const keeping = runSide(true, collections, rounds);
  const plain = runSide(false, collections, rounds);
  const fresh = runSide(false, 0, rounds);
  process.stderr.write(
    `after ${collections} major collections: ${keeping.toFixed(1)} ns per nextTick with a kept tick object, ${plain.toFixed(1)} ns without (${(plain / keeping).toFixed(2)}× slower); ` +
      `a process that never collected: ${fresh.toFixed(1)} ns\n`,
  );
  process.stdout.write(`${JSON.stringify({ collections, rounds, keepingNs: Number(keeping.toFixed(1)), plainNs: Number(plain.toFixed(1)), freshNs: Number(fresh.toFixed(1)), plainOverKeeping: Number((plain / keeping).toFixed(2)), load: loadavg()[0] })}\n`);
}

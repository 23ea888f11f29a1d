// `keypost stamp mint` as a person at a terminal sees it (on a pseudo-terminal through script(1)):
// a long mint draws a progress line with its rate and ETA, redrawn in place with nothing stale
// left behind; a mint expected to take over a minute is announced; one expected to take over a
// hour needs --yes at a terminal. Without a terminal nothing is drawn or asked. Timings are never
// asserted: --bits 40 is a day's work or more on any machine these tests run on.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { KEYPOST_BIN } from '../support/keypost-process.js';
import { runKeypostOnTerminal } from '../support/pty.js';
import { requireTool } from '../support/tools.js';

const skip = requireTool('script');
// Minting needs no database: a data dir that does not exist proves none is opened or created.
const env = { DATABASE_URL: '', KEYPOST_DATA_DIR: '/nonexistent/keypost-data' };
// A test that fails or times out still ends the mint it started (minutes of every core otherwise).
const cleanup: (() => unknown)[] = [];
after(() => Promise.all(cleanup.map((stop) => stop())));

test('at a terminal, a mint that would take a day or more is refused without --yes: exit 2, saying how long', { skip, timeout: 60_000 }, async () => {
  const run = runKeypostOnTerminal(['stamp', 'mint', 'alice@example.org', '--bits', '40'], env);
  cleanup.push(() => run.stop());
  const code = await run.exited;
  const output = run.output();
  assert.equal(code, 2, JSON.stringify(output));
  assert.match(output, /keypost: minting 40 bits would take about \d+ (h|days|months|years) at [\d.]+[kMG]? hashes\/s on this machine; run again with --yes to mint anyway/);
  assert.doesNotMatch(output, /1:40:/, 'no stamp');
  assert.doesNotMatch(output, /\n\s+at /, 'no stack trace');
});

test('at a terminal with --yes, a long mint is announced, then shows rate and ETA on a line redrawn cleanly', { skip, timeout: 60_000 }, async () => {
  const run = runKeypostOnTerminal(['stamp', 'mint', 'alice@example.org', '--bits', '40', '--yes'], env);
  cleanup.push(() => run.stop());
  try {
    // Two redraws of the progress line, so that one overwrote another.
    await run.waitFor(/(\rminting 40 bits for alice@example\.org: [^\r\n]*){2}/);
  } finally {
    await run.stop();
  }
  const output = run.output();
  assert.match(output, /keypost: warning: minting 40 bits will take about \d+ (h|days|months|years) at [\d.]+[kMG]? hashes\/s on this machine/);
  const redraws = [...output.matchAll(/\rminting 40 bits[^\r\n]*/g)].map((m) => m[0]);
  assert.ok(redraws.length >= 2);
  for (const line of redraws) {
    assert.match(line, /: [\d.]+[kMG]? of ~1\.1T hashes, [\d.]+[kMG]?\/s, ETA ~\d+ (h|days|months|years)/, JSON.stringify(line));
    // Each redraw clears to the end of the line (ECMA-48 EL, CSI K): a shorter line leaves nothing
    // of the longer one before it.
    assert.ok(line.endsWith('\x1b[K'), JSON.stringify(line));
  }
  // The warning was written on a line of its own, not over a progress line.
  assert.doesNotMatch(output, /\rminting[^\r\n]*keypost: warning/);
});

test('at a terminal, a short mint prints its stamp and exits 0', { skip, timeout: 60_000 }, async () => {
  const run = runKeypostOnTerminal(['stamp', 'mint', 'alice@example.org', '--bits', '8'], env);
  assert.equal(await run.exited, 0, run.output());
  assert.match(run.output(), /^1:8:\d{6}:alice@example\.org::/m);
});

test('without a terminal, a mint that would take a day or more is announced on stderr and not refused', { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, [KEYPOST_BIN, 'stamp', 'mint', 'alice@example.org', '--bits', '40'], {
    env: { ...process.env, KEYPOST_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanup.push(() => child.kill('SIGTERM'));
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
        if (/warning: minting 40 bits will take about/.test(stderr)) resolve();
      });
      void exited.then(({ code }) => reject(new Error(`exited ${code} before warning: ${stderr}`)));
    });
  } finally {
    child.kill('SIGTERM');
  }
  // Still minting when stopped: it was not refused (that would have been exit 2).
  assert.deepEqual(await exited, { code: null, signal: 'SIGTERM' });
  assert.doesNotMatch(stderr, /--yes|\rminting/);
});

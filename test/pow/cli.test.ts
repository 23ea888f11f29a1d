// `keypost stamp mint|check` end to end: the compiled CLI as a child process, against the test
// database, with hashcash 1.22 on the other side.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isSpent, spendStamp } from '../../src/pow/spent-store.js';
import { formatStampDate, parseStamp } from '../../src/pow/stamp.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { craftStamp } from './craft.js';
import { hashcashCheck, hashcashMint } from './hashcash-tool.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const skip = requireTool('hashcash');
let db: TestDatabase;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

// Asynchronous on purpose: on PGlite this process serves the database the child connects to.
function keypost(...args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...db.env, KEYPOST_LOG_LEVEL: 'warn' };
  if (!db.env.DATABASE_URL) delete env.DATABASE_URL;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const oneLine = (text: string) => text.trimEnd().split('\n').length === 1 && !/\n\s+at /.test(text);

before(async () => {
  db = await openTestDatabase();
});
after(async () => {
  await db?.close();
});

describe('keypost stamp mint', () => {
  it('mints a 20-bit stamp that hashcash -c -y -b 20 -r x@example.org accepts', { skip }, async () => {
    const run = await keypost('stamp', 'mint', 'x@example.org', '--bits', '20');
    assert.equal(run.code, 0, run.stderr);
    const stamp = run.stdout.trim();
    assert.equal(run.stdout, `${stamp}\n`, 'only the stamp on stdout');
    assert.match(run.stderr, /hash/i, 'the rate goes to stderr');
    assert.equal(parseStamp(stamp).bits, 20);
    const theirs = hashcashCheck(stamp, { resource: 'x@example.org', bits: 20 });
    assert.equal(theirs.exitCode, 0, theirs.stderr);
  });

  it('prints an X-Hashcash header line with --header', { skip }, async () => {
    const run = await keypost('stamp', 'mint', 'x@example.org', '--bits', '14', '--header', '--workers', '1');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^X-Hashcash: 1:14:\d{6}:x@example\.org::[A-Za-z0-9+/]+:[A-Za-z0-9+/]+\n$/);
    assert.equal(hashcashCheck(run.stdout.trim(), { resource: 'x@example.org', bits: 14, header: true }).verdict, 'ok');
  });

  it('prints the stamp and its cost as JSON with --json', async () => {
    const run = await keypost('stamp', 'mint', 'x@example.org', '--bits', '12', '--json');
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as { stamp: string; bits: number; hashes: number; seconds: number; hashesPerSecond: number };
    assert.equal(out.bits, 12);
    assert.equal(parseStamp(out.stamp).bits, 12);
    assert.ok(out.hashes > 0);
    assert.equal(typeof out.hashesPerSecond, 'number');
  });

  it('reports the engine and the mint\'s own time, without process start-up, with --engine and --json', async () => {
    for (const engine of ['wasm', 'js']) {
      const started = performance.now();
      const run = await keypost('stamp', 'mint', 'x@example.org', '--bits', '16', '--workers', '2', '--engine', engine, '--json');
      const wall = (performance.now() - started) / 1000;
      assert.equal(run.code, 0, run.stderr);
      const out = JSON.parse(run.stdout) as { stamp: string; hashes: number; seconds: number; engine: string };
      assert.equal(out.engine, engine);
      assert.equal(parseStamp(out.stamp).bits, 16);
      assert.ok(out.seconds > 0 && out.seconds < wall, `${out.seconds} s of ${wall} s`);
    }
    const bad = await keypost('stamp', 'mint', 'x@example.org', '--engine', 'gpu');
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--engine is one of auto, wasm, js/);
  });
});

describe('keypost stamp check', () => {
  it('accepts a hashcash-minted stamp once with --spend and refuses it the second time', { skip }, async () => {
    const stamp = hashcashMint('x@example.org', 20);
    const first = await keypost('stamp', 'check', stamp, '--resource', 'x@example.org', '--bits', '20', '--spend');
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^valid: 20 bits for x@example\.org/);
    assert.equal(await isSpent(db.db, stamp), true, 'recorded in the shared database');

    const second = await keypost('stamp', 'check', stamp, '--resource', 'x@example.org', '--bits', '20', '--spend');
    assert.equal(second.code, 1);
    assert.match(second.stderr, /POW_STAMP_SPENT/);
    assert.ok(oneLine(second.stderr), second.stderr);
  });

  it('does not record anything without --spend', async () => {
    const stamp = craftStamp({ bits: 8, date: today(), resource: 'x@example.org', rand: 'nospend' });
    for (let i = 0; i < 2; i++) {
      const run = await keypost('stamp', 'check', stamp, '--resource', 'x@example.org', '--bits', '8');
      assert.equal(run.code, 0, run.stderr);
    }
    assert.equal(await isSpent(db.db, stamp), false);
  });

  it('accepts a pasted header line', async () => {
    const stamp = craftStamp({ bits: 8, date: today(), resource: 'x@example.org', rand: 'pasted' });
    const run = await keypost('stamp', 'check', `X-Hashcash: ${stamp}`, '--resource', 'X@example.org', '--bits', '8');
    assert.equal(run.code, 0, run.stderr);
  });

  const refusals: [string, () => string, string[], string][] = [
    ['the wrong resource', () => craftStamp({ bits: 8, date: today(), resource: 'y@example.org' }), ['--bits', '8'], 'POW_RESOURCE_MISMATCH'],
    ['too few bits', () => craftStamp({ bits: 8, date: today(), resource: 'x@example.org' }), ['--bits', '9'], 'POW_INSUFFICIENT_BITS'],
    ['an expired stamp', () => craftStamp({ bits: 8, date: '000101', resource: 'x@example.org' }), ['--bits', '8'], 'POW_STAMP_EXPIRED'],
    ['a future stamp', () => craftStamp({ bits: 8, date: daysAhead(10), resource: 'x@example.org' }), ['--bits', '8'], 'POW_STAMP_FUTURE'],
    ['a malformed stamp', () => '1:8:261127:x@example.org::a_b:c', ['--bits', '8'], 'POW_STAMP_MALFORMED'],
  ];
  for (const [name, make, extra, code] of refusals) {
    it(`exits 1 with ${code} for ${name}`, async () => {
      const stamp = make();
      const run = await keypost('stamp', 'check', stamp, '--resource', 'x@example.org', ...extra, '--spend');
      assert.equal(run.code, 1, run.stdout);
      assert.match(run.stderr, new RegExp(`\\(${code}\\)`));
      assert.ok(oneLine(run.stderr), run.stderr);
      assert.equal(await isSpent(db.db, stamp), false, 'an invalid stamp is never recorded');
      const json = await keypost('stamp', 'check', stamp, '--resource', 'x@example.org', ...extra, '--json');
      assert.equal(json.code, 1);
      assert.deepEqual(Object.keys(JSON.parse(json.stdout)).sort(), ['code', 'reason', 'valid']);
      assert.equal(JSON.parse(json.stdout).code, code);
    });
  }
});

describe('keypost stamp purge', () => {
  it('deletes the records of expired stamps and reports how many', async () => {
    const expired = craftStamp({ bits: 0, date: '000101', resource: 'x@example.org', rand: 'purgecli' });
    const current = craftStamp({ bits: 0, date: today(), resource: 'x@example.org', rand: 'keepcli' });
    assert.equal(await spendStamp(db.db, expired, new Date(Date.now() - 1000)), true);
    assert.equal(await spendStamp(db.db, current, new Date(Date.now() + 86_400_000)), true);
    const run = await keypost('stamp', 'purge', '--json');
    assert.equal(run.code, 0, run.stderr);
    assert.ok((JSON.parse(run.stdout) as { removed: number }).removed >= 1);
    assert.equal(await isSpent(db.db, expired), false);
    assert.equal(await isSpent(db.db, current), true);
    const again = await keypost('stamp', 'purge');
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, 'purged 0 expired spent stamps\n');
  });
});

describe('keypost stamp usage', () => {
  it('prints help with --help', async () => {
    const run = await keypost('stamp', '--help');
    assert.equal(run.code, 0);
    assert.match(run.stdout, /keypost stamp mint <resource>/);
    assert.match(run.stdout, /keypost stamp check <stamp>/);
  });

  const mistakes: [string, string[]][] = [
    ['no action', ['stamp']],
    ['an unknown action', ['stamp', 'spend', 'x']],
    ['mint without a resource', ['stamp', 'mint']],
    ['mint of a resource with a colon', ['stamp', 'mint', 'a:b']],
    ['mint of 41 bits', ['stamp', 'mint', 'x@example.org', '--bits', '41']],
    ['mint with a word for bits', ['stamp', 'mint', 'x@example.org', '--bits', 'many']],
    ['mint with 0 workers', ['stamp', 'mint', 'x@example.org', '--workers', '0']],
    ['check without --resource', ['stamp', 'check', '1:8:261127:x::r:c']],
    ['check without a stamp', ['stamp', 'check', '--resource', 'x']],
    ['purge with an argument', ['stamp', 'purge', 'now']],
    ['an unknown option', ['stamp', 'check', '1:8:261127:x::r:c', '--resource', 'x', '--bogus']],
  ];
  for (const [name, args] of mistakes) {
    it(`exits 2 on ${name}, with one line`, async () => {
      const run = await keypost(...args);
      assert.equal(run.code, 2, run.stderr);
      assert.ok(oneLine(run.stderr), run.stderr);
      assert.match(run.stderr, /^keypost: /);
    });
  }
});

function today(): string {
  return formatStampDate(new Date());
}
function daysAhead(days: number): string {
  return formatStampDate(new Date(Date.now() + days * 86_400_000));
}

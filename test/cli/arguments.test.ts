// Mistakes in how keypost is called are answered in our words, naming what was typed: exit 2, one
// line, no parser jargon or system error codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runKeypost } from '../support/keypost-process.js';

// No database is needed to find these mistakes; a directory without one proves none is opened.
const env = { DATABASE_URL: '', KEYPOST_DATA_DIR: path.join(mkdtempSync(path.join(tmpdir(), 'kp-args-')), 'data') };

const CASES: [string[], string][] = [
  [['domain', 'add', '-example.org'], 'keypost: unknown option "-example.org" (a name or value cannot start with "-")'],
  [['stamp', 'mint', 'a@b.example', '--bits', '-1'], 'keypost: --bits must be a whole number from 0 to 40, got "-1"'],
  [['stamp', 'mint', 'a@b.example', '--bits'], 'keypost: --bits needs a value'],
  [['dns', 'records', 'bad domain'], 'keypost: not a valid domain name: "bad domain" (only letters, digits, hyphens and dots)'],
  [['key', 'import', '--domain', 'example.org', '/nonexistent.asc'], 'keypost: cannot read /nonexistent.asc: no such file'],
  [['migrate', 'status', '--json=yes'], 'keypost: --json takes no value'],
];

for (const [args, expected] of CASES) {
  test(`keypost ${args.join(' ')} is a usage error in our words`, async () => {
    const result = await runKeypost(args, env);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stderr, `${expected}\n`);
  });
}

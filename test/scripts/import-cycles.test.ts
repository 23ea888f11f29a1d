// scripts/check-import-cycles.mjs, which CI runs after the type check: it must find a cycle when
// there is one (value or type-only import), and find none in src/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = join(REPO, 'scripts', 'check-import-cycles.mjs');

function check(dir: string) {
  return spawnSync(process.execPath, [SCRIPT, dir], { encoding: 'utf8', cwd: REPO });
}

test('src/ has no import cycles', () => {
  const result = check(join(REPO, 'src'));
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /no import cycles among \d+ modules/);
});

test('a cycle through a type-only import across directories is found and named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keypost-cycles-'));
  try {
    mkdirSync(join(dir, 'gateway'));
    writeFileSync(join(dir, 'gateway', 'verdicts.ts'), "import { statusFor } from './replies.js';\nexport const x = statusFor;\n");
    writeFileSync(join(dir, 'gateway', 'replies.ts'), "import type { Denial } from '../shared/denial.js';\nexport function statusFor(d: Denial) { return d; }\n");
    mkdirSync(join(dir, 'shared'));
    writeFileSync(join(dir, 'shared', 'denial.ts'), "// import { nothing } from './commented-out.js';\nexport type { x as Denial } from '../gateway/verdicts.js';\n");
    writeFileSync(join(dir, 'shared', 'alone.ts'), "import { x } from '../gateway/verdicts.js';\nexport const y = x;\n");
    const result = check(dir);
    assert.equal(result.status, 1, result.stdout);
    assert.match(result.stderr, /1\b.*\n- 3 modules/);
    for (const name of ['verdicts.ts', 'replies.ts', 'denial.ts']) assert.match(result.stderr, new RegExp(name));
    assert.doesNotMatch(result.stderr, /alone\.ts/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// scripts/check-room-boundaries.mjs, which CI runs after the type check: the sender's client must
// not load the server's rooms (directory, dns, gateway, http, db), directly or through a module
// that looks neutral, and src/ must pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = join(REPO, 'scripts', 'check-room-boundaries.mjs');

function check(dir: string) {
  return spawnSync(process.execPath, [SCRIPT, dir], { encoding: 'utf8', cwd: REPO });
}

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'keypost-rooms-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

test('the client in src/ loads nothing of the directory, DNS server, gateway, HTTP server or database', () => {
  const result = check(join(REPO, 'src'));
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /room boundaries hold among \d+ modules .*client reaches none of directory, dns, gateway, http, db/);
});

test('a client import of the directory is refused, naming the importing module', () => {
  const dir = tree({
    'client/checks.ts': "import { checkKey } from '../directory/key-policy.js';\nexport const c = checkKey;\n",
    'directory/key-policy.ts': 'export const checkKey = 1;\n',
  });
  try {
    const result = check(dir);
    assert.equal(result.status, 1, result.stdout);
    assert.match(result.stderr, /client reaches directory: .*client\/checks\.ts -> .*directory\/key-policy\.ts/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a type-only import of the database through a neutral module is refused with the whole chain', () => {
  const dir = tree({
    'client/send.ts': "import { policy } from '../keys/policy.js';\nexport const s = policy;\n",
    'keys/policy.ts': "import { store } from './store.js';\nexport const policy = store;\n",
    'keys/store.ts': "// import { nothing } from '../dns/commented-out.js';\nimport type { Tx } from '../db/database.js';\nexport const store = (tx: Tx) => tx;\n",
    'db/database.ts': 'export type Tx = number;\n',
    // The server's own rooms may use the database; only the client is bound.
    'directory/routes.ts': "import type { Tx } from '../db/database.js';\nexport const r = (tx: Tx) => tx;\n",
  });
  try {
    const result = check(dir);
    assert.equal(result.status, 1, result.stdout);
    assert.match(result.stderr, /: 1\n- client reaches db: .*client\/send\.ts -> .*keys\/policy\.ts -> .*keys\/store\.ts -> .*db\/database\.ts\n$/);
    assert.doesNotMatch(result.stderr, /dns|directory/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the gateway gets the client verifier from the composition root, never by importing the client', () => {
  const dir = tree({
    'gateway/protection.ts': "import { verifyMessage } from '../client/verify.js';\nexport const v = verifyMessage;\n",
    'client/verify.ts': 'export const verifyMessage = 1;\n',
    // The composition root may wire the two together.
    'main.ts': "import { verifyMessage } from './client/verify.js';\nimport { v } from './gateway/protection.js';\nexport const m = [verifyMessage, v];\n",
  });
  try {
    const result = check(dir);
    assert.equal(result.status, 1, result.stdout);
    assert.match(result.stderr, /: 1\n- gateway reaches client: .*gateway\/protection\.ts -> .*client\/verify\.ts\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Interop tests that cannot run here skip with a reason on a developer's machine, but under
// CI=true they fail: a CI run that silently skipped gpg, nsd or the gpg network namespace would
// pass without having checked anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { hasTool, requireRoot, requireTool } from '../support/tools.js';

const TOOLS = fileURLToPath(new URL('../support/tools.js', import.meta.url));

function withCi<T>(ci: string | undefined, run: () => T): T {
  const saved = process.env.CI;
  if (ci === undefined) delete process.env.CI;
  else process.env.CI = ci;
  try {
    return run();
  } finally {
    if (saved === undefined) delete process.env.CI;
    else process.env.CI = saved;
  }
}

test('a missing interop tool is a skip with its name outside CI and a failure under CI=true', () => {
  assert.equal(withCi(undefined, () => requireTool('keypost-no-such-tool')), 'interop tool(s) not installed: keypost-no-such-tool');
  assert.throws(() => withCi('true', () => requireTool('keypost-no-such-tool')), /keypost-no-such-tool \(CI=true makes this a failure\)/);
  assert.equal(withCi('true', () => requireTool('sh')), false);
});

test("not being root (gpg-locate's network namespace) is a skip outside CI and a failure under CI=true", () => {
  if (process.getuid?.() !== 0) {
    assert.equal(withCi(undefined, () => requireRoot('ip netns')), 'needs root for ip netns');
    assert.throws(() => withCi('true', () => requireRoot('ip netns')), /needs root for ip netns \(CI=true makes this a failure\)/);
    return;
  }
  assert.equal(requireRoot('ip netns'), false);
  // As root, ask an unprivileged user: the same check then has to skip or fail.
  assert.ok(hasTool('runuser'), 'runuser drops root for this check');
  const asNobody = (ci: Record<string, string>) =>
    spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '--input-type=module', '-e', `const m = await import(${JSON.stringify(TOOLS)}); console.log(m.requireRoot('ip netns'));`], {
      env: { PATH: process.env.PATH, HOME: '/tmp', ...ci },
      encoding: 'utf8',
    });
  const outside = asNobody({});
  assert.equal(outside.status, 0, outside.stderr);
  assert.equal(outside.stdout.trim(), 'needs root for ip netns');
  const inCi = asNobody({ CI: 'true' });
  assert.notEqual(inCi.status, 0);
  assert.match(inCi.stderr, /needs root for ip netns \(CI=true makes this a failure\)/);
});

// Interop tools (dig, gpg, hashcash, swaks, nsd...) are real binaries. Outside CI a missing tool
// skips the test with a printed reason; under CI=true it is a failure (see .ci/run).
import { execFileSync } from 'node:child_process';

export function hasTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Returns a `skip` option for node:test: false when the tool exists; a reason string when it does
 * not and we are outside CI. Under CI=true a missing tool throws so the suite fails loudly.
 */
export function requireTool(...names: string[]): false | string {
  const missing = names.filter((n) => !hasTool(n));
  if (missing.length === 0) return false;
  return lacking(`interop tool(s) not installed: ${missing.join(', ')}`);
}

/**
 * Being root (network namespaces for gpg-locate.test.ts) is a capability like a tool: a skip with
 * the reason outside CI, a failure under CI=true.
 */
export function requireRoot(purpose: string): false | string {
  if (process.getuid?.() === 0) return false;
  return lacking(`needs root for ${purpose}`);
}

function lacking(reason: string): string {
  if (process.env.CI === 'true') throw new Error(`${reason} (CI=true makes this a failure)`);
  return reason;
}

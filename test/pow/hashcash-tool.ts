// Drives the reference hashcash(1) 1.22 binary and reads its verdict back as one of our codes.
import { spawnSync } from 'node:child_process';

export interface ToolVerdict {
  exitCode: number;
  /** 'ok' or the POW_* code matching hashcash's "skipped: ..." reason. */
  verdict: string;
  stderr: string;
}

// hashcash -c prints one "skipped: <why>" line per stamp it refuses (hashcash.c, check mode).
const REASONS: [RegExp, string][] = [
  [/skipped: stamp invalid/, 'POW_STAMP_MALFORMED'],
  [/skipped: stamp with wrong resource/, 'POW_RESOURCE_MISMATCH'],
  [/skipped: stamp has insufficient bits/, 'POW_INSUFFICIENT_BITS'],
  [/skipped: stamp expired/, 'POW_STAMP_EXPIRED'],
  [/skipped: stamp valid in future/, 'POW_STAMP_FUTURE'],
  [/skipped: spent stamp/, 'POW_STAMP_SPENT'],
];

function run(args: string[], input?: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('hashcash', args, { encoding: 'utf8', input, timeout: 120_000 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `hashcash -c -y -b N -r R [-d -f db] stamp` with the same window we use (28 days, 2 days grace).
 * -y makes a fully valid stamp exit 0 without a double-spend database; with `spentDb` the check
 * is complete anyway and the stamp is recorded there.
 */
export function hashcashCheck(stamp: string, options: { resource: string; bits: number; spentDb?: string; header?: boolean }): ToolVerdict {
  const args = ['-c', '-y', '-b', String(options.bits), '-r', options.resource, '-e', '28d', '-g', '2d'];
  if (options.spentDb) args.push('-d', '-f', options.spentDb);
  // With -X the stamp comes from an "X-Hashcash:" line on stdin.
  const r = options.header ? run([...args, '-X'], `${stamp}\n\n`) : run([...args, stamp]);
  const reason = REASONS.find(([re]) => re.test(r.stderr));
  const verdict = r.status === 0 && /check: ok/.test(r.stderr) ? 'ok' : (reason?.[1] ?? `unrecognised (exit ${r.status})`);
  return { exitCode: r.status, verdict, stderr: r.stderr };
}

/** `hashcash -m -q -b N [extra...] resource`: one minted stamp. */
export function hashcashMint(resource: string, bits: number, extra: string[] = []): string {
  const r = run(['-m', '-q', '-b', String(bits), ...extra, resource]);
  if (r.status !== 0) throw new Error(`hashcash -m failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim();
}

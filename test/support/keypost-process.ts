// Runs the compiled `keypost` CLI as a child process, the way an operator would.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const KEYPOST_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The XDG state directory of every CLI run of this test process (lookup, send and log verify keep
 * the tree heads they saw there): never the user's own, and fresh per process, since each test run
 * makes new log keys for the same zone names.
 */
const stateHome = mkdtempSync(path.join(tmpdir(), 'kp-cli-state-'));
process.on('exit', () => rmSync(stateHome, { recursive: true, force: true }));

/** Runs one keypost command to completion. */
export function runKeypost(args: string[], env: Record<string, string | undefined> = {}, input?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KEYPOST_BIN, ...args], {
      env: { ...process.env, KEYPOST_LOG_LEVEL: 'warn', XDG_STATE_HOME: stateHome, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

export interface ServingKeypost {
  child: ChildProcess;
  /** Bound address per listener as logged by serve, e.g. { api: '127.0.0.1:40123' }. */
  addresses: Record<string, string>;
  /** Everything the process logged so far (JSON lines). */
  log(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `keypost serve` with every listener on port 0 unless env says otherwise, and resolves
 * once it logged "keypost ready" (with the addresses it bound).
 */
export function startServe(
  args: string[],
  env: Record<string, string | undefined>,
  timeoutMs = 30_000,
  /** Another build of the CLI (a benchmark comparing with an older commit). */
  bin = KEYPOST_BIN,
): Promise<ServingKeypost> {
  const child = spawn(process.execPath, [bin, 'serve', ...args], {
    env: {
      ...process.env,
      KEYPOST_DNS_LISTEN: '127.0.0.1:0',
      KEYPOST_HTTP_LISTEN: '127.0.0.1:0',
      KEYPOST_SMTP_LISTEN: '127.0.0.1:0',
      KEYPOST_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const addresses: Record<string, string> = {};
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`keypost serve did not become ready in ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onLine = (line: string) => {
      let entry: { listener?: string; address?: string; msg?: string };
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      if (entry.listener && entry.address) addresses[entry.listener] = entry.address;
      if (entry.msg === 'keypost ready') {
        clearTimeout(timer);
        resolve({
          child,
          addresses,
          log: () => output,
          async stop(signal = 'SIGTERM') {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    };
    let pending = '';
    const collect = (chunk: Buffer) => {
      output += chunk;
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      lines.forEach(onLine);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`keypost serve exited with ${code} before it was ready:\n${output}`));
    });
  });
}

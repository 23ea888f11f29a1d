// Starts keypost's DNS listener for a test database on a random port and runs dig/kdig against it.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../../../src/config.js';
import { startKeypost, type RunningKeypost } from '../../../src/main.js';
import type { TestDatabase } from '../../support/database.js';

const run = promisify(execFile);

export interface DnsServer {
  keypost: RunningKeypost;
  host: string;
  port: number;
  close(): Promise<void>;
}

export async function startDns(db: TestDatabase, env: Record<string, string> = {}): Promise<DnsServer> {
  const config = loadConfig({ ...db.env, KEYPOST_DNS_LISTEN: '127.0.0.1:0', KEYPOST_HTTP_LISTEN: '127.0.0.1:0', KEYPOST_LOG_LEVEL: 'silent', ...env });
  const keypost = await startKeypost({ config, log: pino({ level: 'silent' }), only: ['dns'] });
  const address = keypost.addresses.dns!;
  const colon = address.lastIndexOf(':');
  return { keypost, host: address.slice(0, colon), port: Number(address.slice(colon + 1)), close: () => keypost.close() };
}

export interface ToolOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Return stdout (possibly empty) instead of throwing when the tool exits non-zero. */
  allowFailure?: boolean;
}

/** Runs a tool and returns its stdout even when it exits non-zero with output (dig does). */
export async function tool(cmd: string, args: string[], options: ToolOptions = {}): Promise<string> {
  try {
    return (await run(cmd, args, { timeout: options.timeoutMs ?? 15_000, env: options.env, maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    if (e.stdout || options.allowFailure) return e.stdout ?? '';
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

export function dig(server: { host: string; port: number }, ...args: string[]): Promise<string> {
  return tool('dig', [`@${server.host}`, '-p', String(server.port), '+norec', '+time=2', '+tries=1', ...args]);
}

export function kdig(server: { host: string; port: number }, ...args: string[]): Promise<string> {
  return tool('kdig', [`@${server.host}`, '-p', String(server.port), '+norec', '+time=2', '+retry=0', ...args]);
}

/** The records of one section of dig's or kdig's full output, whitespace-normalised. */
export function section(output: string, name: 'ANSWER' | 'AUTHORITY' | 'ADDITIONAL' | 'QUESTION'): string[] {
  const lines = output.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`;; ${name} SECTION`));
  if (start < 0) return [];
  const out: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '' || line.startsWith(';;')) break;
    out.push(line.replace(/\s+/g, ' ').trim());
  }
  return out;
}

export function status(output: string): string | undefined {
  return /status: ([A-Z]+)/.exec(output)?.[1];
}

export function flags(output: string): string[] {
  return (/flags: ([a-z ]+);/.exec(output)?.[1] ?? '').trim().split(/\s+/);
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 5000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

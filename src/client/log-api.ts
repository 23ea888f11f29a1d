// The public log API of a keypost zone, as clients read it (README "The directory API",
// transparency log): JSON over HTTPS, hashes in base64. Failures to reach it or odd answers are
// CLIENT_LOG_UNAVAILABLE; what the answers mean is for the callers to check.
import { KeypostError } from '../errors.js';
import type { SignedTreeHead } from '../transparency/sth.js';
import { CLIENT_CODES } from './errors.js';

/** Leaves asked for per entries request (the server answers at most 1000). */
export const ENTRIES_PAGE = 1000;

export interface HeadJson {
  zone: string;
  tree_size: number;
  root_hash: string;
  timestamp: number;
  signature: string;
  log_key: string;
}

export async function getJson<T>(url: string, timeoutMs: number): Promise<T> {
  return (await fetchJson<T>(url, timeoutMs, false))!;
}

/** getJson, but a 404 is an answer (undefined): the resource does not exist. */
export function getJsonIfFound<T>(url: string, timeoutMs: number): Promise<T | undefined> {
  return fetchJson<T>(url, timeoutMs, true);
}

async function fetchJson<T>(url: string, timeoutMs: number, missingIsAnswer: boolean): Promise<T | undefined> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
  } catch (err) {
    throw new KeypostError(CLIENT_CODES.logUnavailable, `cannot reach ${url}: ${(err as Error).message}`);
  }
  const text = await response.text();
  if (missingIsAnswer && response.status === 404) return undefined;
  if (response.status !== 200) throw new KeypostError(CLIENT_CODES.logUnavailable, `${url} answered ${response.status}: ${text.slice(0, 200)}`);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new KeypostError(CLIENT_CODES.logUnavailable, `${url} did not answer JSON`);
  }
}

export function headOf(json: HeadJson): SignedTreeHead {
  return {
    zone: json.zone,
    size: json.tree_size,
    time: json.timestamp,
    root: Buffer.from(json.root_hash, 'base64'),
    signature: Buffer.from(json.signature, 'base64'),
    publicKey: Buffer.from(json.log_key, 'base64'),
  };
}


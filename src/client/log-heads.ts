// The last tree head a client saw per zone, kept in the user's XDG state directory. `log verify`
// and the `transparency` check of lookup and send share it: a head remembered by either is the one
// the other asks the log to prove it extends (RFC 9162 §2.1.4), so a log rolled back or forked
// since fails for both.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { SignedTreeHead } from '../transparency/sth.js';

/** The remembered head of a zone, as the state file keeps it (hashes and key in base64). */
export interface RememberedHead {
  size: number;
  root: string;
  time: number;
  key: string;
}

/** The state directory of the XDG Base Directory specification, for remembered heads. */
export function logStateDir(env: Record<string, string | undefined>): string {
  const base = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(env.HOME ?? homedir(), '.local', 'state');
  return path.join(base, 'keypost', 'log-heads');
}

function stateFile(dir: string, zone: string): string {
  return path.join(dir, `${zone}.json`);
}

/** The head last remembered for `zone`; undefined with no directory or no (readable) file. */
export function rememberedHead(dir: string | undefined, zone: string): RememberedHead | undefined {
  if (!dir) return undefined;
  try {
    return JSON.parse(readFileSync(stateFile(dir, zone), 'utf8')) as RememberedHead;
  } catch {
    return undefined;
  }
}

/** Remembers `head` for its zone; written to a temporary file and renamed, so a reader never sees half. */
export function rememberHead(dir: string, head: SignedTreeHead): void {
  mkdirSync(dir, { recursive: true });
  const file = stateFile(dir, head.zone);
  const body: RememberedHead = { size: head.size, root: head.root.toString('base64'), time: head.time, key: head.publicKey.toString('base64') };
  writeFileSync(`${file}.tmp`, `${JSON.stringify(body)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

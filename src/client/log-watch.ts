// `keypost log watch <address>`: what an address holder runs (from cron) to learn of every key ever
// logged for the address. It reads the whole zone log, checks that the leaves hash to the signed
// tree head (so the list is the log everyone else sees, not a filtered copy), and lists the
// address's leaves: the label is the RFC 7929 hash of the local part, so only someone who knows
// the address can pick them out.
import { KeypostError } from '../errors.js';
import { openpgpkeyLabel } from '../protocol/address-hashes.js';
import { parseAddress } from '../protocol/address.js';
import { TYPE } from '../protocol/dns-wire.js';
import { parseKp1 } from '../protocol/kp1.js';
import { decodeLeaf, LeafFormatError } from '../transparency/leaf.js';
import { appendLeaf, frontierRoot, leafHash, type Subtree } from '../transparency/merkle.js';
import { verifyTreeHead } from '../transparency/sth.js';
import { txtText } from './dns-message.js';
import { CLIENT_CODES } from './errors.js';
import { ENTRIES_PAGE, getJson, headOf, type HeadJson } from './log-api.js';
import type { StubResolver } from './stub-resolver.js';

export interface WatchedEntry {
  index: number;
  action: 'publish' | 'withdraw';
  sequence: number;
  time: string;
  fingerprint: string;
  endpoint: string | null;
  pow: number | null;
  /** On the allow list (always true when none was given). */
  allowed: boolean;
}

export interface LogWatchResult {
  address: string;
  zone: string;
  treeSize: number;
  entries: WatchedEntry[];
  /** Why the log itself cannot be trusted (bad head signature, leaves that do not hash to it). */
  problems: string[];
}

export interface LogWatchOptions {
  resolver: StubResolver;
  api?: string;
  /** Fingerprints the holder knows as theirs; none = list only. */
  allow?: string[];
  timeoutMs?: number;
}

export async function watchAddress(input: string, options: LogWatchOptions): Promise<LogWatchResult> {
  let parsed: ReturnType<typeof parseAddress>;
  try {
    parsed = parseAddress(input);
  } catch {
    throw new KeypostError(CLIENT_CODES.addressInvalid, `not a valid mail address: "${input}"`);
  }
  const { address, localPart, domain: zone } = parsed;
  const timeoutMs = options.timeoutMs ?? 10_000;
  let api = options.api;
  if (!api) {
    for (const answer of (await options.resolver.query(`_keypost.${zone}`, TYPE.TXT)).answers) {
      const text = txtText(answer.data);
      const record = text === null ? undefined : parseKp1(text);
      if (record?.kind === 'kp1' && record.record.api) api = record.record.api;
    }
  }
  if (!api) throw new KeypostError(CLIENT_CODES.logUnavailable, `_keypost.${zone} names no api= and no --api was given`);
  const base = `${api.replace(/\/+$/, '')}/v1/log/${encodeURIComponent(zone)}`;
  const problems: string[] = [];
  const head = headOf(await getJson<HeadJson>(`${base}/sth`, timeoutMs));
  if (head.zone !== zone || !verifyTreeHead(head)) problems.push(`the tree head of ${zone} does not verify under its log key`);

  const label = openpgpkeyLabel(localPart);
  const allow = options.allow?.map((f) => f.replace(/\s+/g, '').toUpperCase());
  const entries: WatchedEntry[] = [];
  let frontier: { subtree: Subtree; hash: Buffer }[] = [];
  let next = 0;
  while (next < head.size) {
    const end = Math.min(head.size, next + ENTRIES_PAGE) - 1;
    const page = await getJson<{ entries: { index: number; leaf: string }[] }>(`${base}/entries?start=${next}&end=${end}`, timeoutMs);
    if (page.entries.length === 0 || page.entries.some((e, i) => e.index !== next + i)) {
      problems.push(`the log does not list leaf ${next + page.entries.findIndex((e, i) => e.index !== next + i)} of the ${head.size} its head covers`);
      break;
    }
    for (const entry of page.entries) {
      const bytes = Buffer.from(entry.leaf, 'base64');
      frontier = appendLeaf(frontier, next++, leafHash(bytes)).frontier;
      let leaf;
      try {
        leaf = decodeLeaf(bytes);
      } catch (err) {
        if (!(err instanceof LeafFormatError)) throw err;
        problems.push(`leaf ${entry.index} is not a canonical leaf: ${err.message}`);
        continue;
      }
      if (leaf.zone !== zone || leaf.label.toString('hex') !== label) continue;
      entries.push({
        index: entry.index,
        action: leaf.action,
        sequence: leaf.sequence,
        time: new Date(leaf.time).toISOString(),
        fingerprint: leaf.fingerprint,
        endpoint: leaf.endpoint,
        pow: leaf.powBits,
        allowed: !allow || allow.includes(leaf.fingerprint),
      });
    }
  }
  if (next === head.size && !frontierRoot(frontier).equals(head.root)) problems.push(`the leaves listed do not hash to the signed root of ${head.size} leaves`);
  return { address, zone, treeSize: head.size, entries, problems };
}

// `keypost log verify <zone>`: an auditor of a zone's transparency log that trusts nothing the
// server says without checking it. It downloads every leaf, rebuilds the tree (RFC 9162 §2.1),
// checks the signed tree head against the rebuilt root and against the head DNS publishes, checks
// that DNS and the directory serve exactly the latest leaf of every address label, and, when it has seen a head of
// this zone before, that the log is an extension of it (§2.1.4.2): a log rewritten or forked since
// cannot prove that. Uses only public DNS and the public API (log and records).
import { createHash } from 'node:crypto';
import { KeypostError } from '../errors.js';
import { ENTRIES_PAGE as PAGE, getJson, getJsonIfFound, headOf, type HeadJson } from './log-api.js';
import { dearmorKeyBlock } from '../protocol/armor.js';
import { TYPE } from '../protocol/dns-wire.js';
import { parseKp1, type Kp1Record } from '../protocol/kp1.js';
import { addressSetting } from '../protocol/precedence.js';
import { decodeLeaf, LeafFormatError, type LogLeaf } from '../transparency/leaf.js';
import { appendLeaf, frontierRoot, leafHash, verifyConsistency, type Subtree } from '../transparency/merkle.js';
import { STH_OWNER_LABEL, parseTreeHeadText, verifyTreeHead } from '../transparency/sth.js';
import { CLIENT_CODES } from './errors.js';
import { rememberHead, rememberedHead } from './log-heads.js';
import { txtText } from './dns-message.js';
import type { StubResolver } from './stub-resolver.js';

export type DiscrepancyKind =
  | 'head-signature'
  | 'head-dns-missing'
  | 'head-dns-mismatch'
  | 'entries-missing'
  | 'leaf-malformed'
  | 'leaf-other-zone'
  | 'sequence-gap'
  | 'root-mismatch'
  | 'dns-not-served'
  | 'dns-fingerprint'
  | 'dns-key'
  | 'dns-settings'
  | 'dns-withdrawn-served'
  | 'directory-not-served'
  | 'directory-fingerprint'
  | 'directory-key'
  | 'directory-settings'
  | 'directory-withdrawn-served'
  | 'log-key-changed'
  | 'inconsistent-with-earlier-head';

export interface Discrepancy {
  kind: DiscrepancyKind;
  message: string;
  /** The leaf concerned, when there is one. */
  index?: number;
}

export interface LogAuditResult {
  zone: string;
  treeSize: number;
  root: string;
  labels: number;
  discrepancies: Discrepancy[];
  /** The log cannot be shown to extend the head this auditor saw before (rolled back or forked). */
  inconsistent: boolean;
}

export interface LogAuditOptions {
  /** The log API base URL (the zone policy's api=, when not given). */
  api?: string;
  resolver: StubResolver;
  /** Where the last verified head per zone is kept; none = no memory between runs. */
  stateDir?: string;
  timeoutMs?: number;
  /** DNS questions (and directory requests) in flight at once. */
  concurrency?: number;
}

/** What GET /v1/records/by-label/:zone/:label answers (README "Records"), as far as the audit reads it. */
interface DirectoryRecord {
  fingerprint: string;
  key: string;
  endpoint: string | null;
  pow: number;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function inBatches<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

function kp1At(answers: { data: Buffer }[]): Kp1Record | undefined {
  for (const answer of answers) {
    const text = txtText(answer.data);
    const parsed = text === null ? undefined : parseKp1(text);
    if (parsed?.kind === 'kp1') return parsed.record;
  }
  return undefined;
}

export async function auditLog(zoneInput: string, options: LogAuditOptions): Promise<LogAuditResult> {
  const zone = zoneInput.toLowerCase().replace(/\.$/, '');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const { resolver } = options;
  const discrepancies: Discrepancy[] = [];
  const flag = (kind: DiscrepancyKind, message: string, index?: number) => discrepancies.push({ kind, message, ...(index === undefined ? {} : { index }) });

  const zonePolicy = kp1At((await resolver.query(`_keypost.${zone}`, TYPE.TXT)).answers);
  const api = (options.api ?? zonePolicy?.api)?.replace(/\/+$/, '');
  if (!api) throw new KeypostError(CLIENT_CODES.logUnavailable, `_keypost.${zone} names no api= and no --api was given`);
  const base = `${api}/v1/log/${encodeURIComponent(zone)}`;

  // The head: its signature, and the same head (or a consistent earlier one) in DNS.
  const head = headOf(await getJson<HeadJson>(`${base}/sth`, timeoutMs));
  if (head.zone !== zone || !verifyTreeHead(head)) flag('head-signature', `the tree head of ${zone} from ${base}/sth does not verify under its log key`);
  const dnsText = (await resolver.query(`${STH_OWNER_LABEL}.${zone}`, TYPE.TXT)).answers.map((a) => txtText(a.data)).find((t) => t?.startsWith('v=kpl1'));
  const dnsHead = dnsText ? parseTreeHeadText(zone, dnsText) : undefined;
  if (!dnsHead) flag('head-dns-missing', `${STH_OWNER_LABEL}.${zone} publishes no readable tree head`);
  else if (!dnsHead.publicKey.equals(head.publicKey) || !verifyTreeHead(dnsHead)) flag('head-dns-mismatch', `the tree head in DNS is not signed by the log key the API shows`);
  else if (dnsHead.size > head.size || (dnsHead.size === head.size && !dnsHead.root.equals(head.root))) {
    flag('head-dns-mismatch', `DNS publishes a head of ${dnsHead.size} leaves that the API's head of ${head.size} does not extend`);
  } else if (dnsHead.size < head.size) {
    const proof = await getJson<{ consistency_path: string[] }>(`${base}/proof/consistency?first=${dnsHead.size}&second=${head.size}`, timeoutMs);
    const path = proof.consistency_path.map((p) => Buffer.from(p, 'base64'));
    if (!verifyConsistency(dnsHead.size, head.size, path, dnsHead.root, head.root)) flag('head-dns-mismatch', `the head in DNS (${dnsHead.size} leaves) is not a prefix of the API's head`);
  }

  // Every leaf, rebuilt into the tree. The root of the first `earlier.size` leaves must be the root
  // of the head seen before: history changed under it shows here even when the server's stored
  // tree still answers its proofs.
  const earlier = rememberedHead(options.stateDir, zone);
  let earlierRebuilt: Buffer | undefined = earlier?.size === 0 ? frontierRoot([]) : undefined;
  let frontier: { subtree: Subtree; hash: Buffer }[] = [];
  const latest = new Map<string, { index: number; leaf: LogLeaf }>();
  let expected = 0;
  let complete = true;
  while (complete && expected < head.size) {
    const end = Math.min(head.size, expected + PAGE) - 1;
    const page = await getJson<{ entries: { index: number; leaf: string }[] }>(`${base}/entries?start=${expected}&end=${end}`, timeoutMs);
    if (page.entries.length === 0) {
      flag('entries-missing', `the log lists no leaves from ${expected} on, but its head has ${head.size}`, expected);
      complete = false;
      break;
    }
    for (const entry of page.entries) {
      if (entry.index !== expected) {
        flag('entries-missing', `leaf ${expected} is missing (the next one listed is ${entry.index})`, expected);
        complete = false;
        break;
      }
      const bytes = Buffer.from(entry.leaf, 'base64');
      frontier = appendLeaf(frontier, expected, leafHash(bytes)).frontier;
      let leaf: LogLeaf | undefined;
      try {
        leaf = decodeLeaf(bytes);
      } catch (err) {
        if (!(err instanceof LeafFormatError)) throw err;
        flag('leaf-malformed', `leaf ${expected} is not a canonical leaf: ${err.message}`, expected);
      }
      if (leaf) {
        const label = leaf.label.toString('hex');
        const before = latest.get(label);
        if (leaf.zone !== zone) flag('leaf-other-zone', `leaf ${expected} names zone ${leaf.zone}`, expected);
        if (leaf.sequence !== (before?.leaf.sequence ?? 0) + 1) {
          flag('sequence-gap', `leaf ${expected} is entry ${leaf.sequence} of label ${label}, after entry ${before?.leaf.sequence ?? 0}`, expected);
        }
        latest.set(label, { index: expected, leaf });
      }
      expected++;
      if (earlier && expected === earlier.size) earlierRebuilt = frontierRoot(frontier);
    }
  }
  const root = frontierRoot(frontier);
  // With leaves missing the rebuilt root means nothing; entries-missing says what is wrong.
  if (complete && !root.equals(head.root)) {
    flag('root-mismatch', `the ${head.size} leaves listed hash to ${root.toString('base64')}, not to the signed root ${head.root.toString('base64')}`);
  }

  // DNS serves exactly the latest leaf of every label.
  const zoneEp = zonePolicy?.ep;
  const zonePow = zonePolicy?.pow;
  await inBatches([...latest.entries()], options.concurrency ?? 16, async ([label, { index, leaf }]) => {
    const [txt, keys] = await Promise.all([
      resolver.query(`${label}._keypost.${zone}`, TYPE.TXT),
      resolver.query(`${label}._openpgpkey.${zone}`, TYPE.OPENPGPKEY),
    ]);
    const record = kp1At(txt.answers);
    if (leaf.action === 'withdraw') {
      if (record || keys.answers.length) flag('dns-withdrawn-served', `label ${label} is withdrawn in the log (leaf ${index}) but DNS still serves it`, index);
      return;
    }
    if (!record) return void flag('dns-not-served', `label ${label} is published in the log (leaf ${index}) but DNS serves no _keypost TXT for it`, index);
    if (record.fpr?.toUpperCase() !== leaf.fingerprint) flag('dns-fingerprint', `DNS names key ${record.fpr} for label ${label}; the log's latest leaf (${index}) names ${leaf.fingerprint}`, index);
    // A key too large for DNS is left out of OPENPGPKEY (README); one that is there must be the logged one.
    for (const answer of keys.answers) {
      if (!createHash('sha256').update(answer.data).digest().equals(leaf.keyHash)) flag('dns-key', `DNS serves a key for label ${label} that is not the one in leaf ${index}`, index);
    }
    const ep = [addressSetting(leaf.endpoint, zoneEp, null), addressSetting(record.ep, zoneEp, null)];
    const pow = [addressSetting(leaf.powBits, zonePow, null), addressSetting(record.pow, zonePow, null)];
    if (ep[0] !== ep[1] || pow[0] !== pow[1]) {
      flag('dns-settings', `DNS serves ep=${ep[1] ?? '-'} pow=${pow[1] ?? '-'} for label ${label}; leaf ${index} says ep=${ep[0] ?? '-'} pow=${pow[0] ?? '-'}`, index);
    }
  });

  // The directory serves the same: by the label, the latest leaf's key (its SHA-256 is the leaf's key
  // hash), fingerprint and settings; nothing for a withdrawn label.
  const records = `${api}/v1/records/by-label/${encodeURIComponent(zone)}`;
  await inBatches([...latest.entries()], options.concurrency ?? 16, async ([label, { index, leaf }]) => {
    const record = await getJsonIfFound<DirectoryRecord>(`${records}/${label}`, timeoutMs);
    if (leaf.action === 'withdraw') {
      if (record) flag('directory-withdrawn-served', `label ${label} is withdrawn in the log (leaf ${index}) but the directory still serves key ${record.fingerprint}`, index);
      return;
    }
    if (!record) return void flag('directory-not-served', `label ${label} is published in the log (leaf ${index}) but the directory serves no record for it`, index);
    if (record.fingerprint?.toUpperCase() !== leaf.fingerprint) {
      flag('directory-fingerprint', `the directory names key ${record.fingerprint} for label ${label}; the log's latest leaf (${index}) names ${leaf.fingerprint}`, index);
    }
    const key = typeof record.key === 'string' ? dearmorKeyBlock(record.key) : undefined;
    if (!key?.ok || !createHash('sha256').update(key.bytes).digest().equals(leaf.keyHash)) {
      flag('directory-key', `the directory serves a key for label ${label} that is not the one in leaf ${index}`, index);
    }
    // The record gives effective settings (address, else zone, else the server's default); the leaf
    // and the zone policy say what they are wherever either sets them.
    const ep = addressSetting(leaf.endpoint, zoneEp, null);
    const pow = addressSetting(leaf.powBits, zonePow, null);
    if ((ep !== null && record.endpoint !== ep) || (pow !== null && record.pow !== pow)) {
      flag('directory-settings', `the directory serves ep=${record.endpoint ?? '-'} pow=${record.pow} for label ${label}; leaf ${index} says ep=${ep ?? '-'} pow=${pow ?? '-'}`, index);
    }
  });

  // The head seen last time must be a prefix of this one.
  let inconsistent = false;
  if (earlier) {
    const earlierRoot = Buffer.from(earlier.root, 'base64');
    if (earlier.key !== head.publicKey.toString('base64')) {
      flag('log-key-changed', `the log key of ${zone} is not the one seen before`);
      inconsistent = true;
    } else if (earlier.size > head.size) {
      inconsistent = true;
      flag('inconsistent-with-earlier-head', `the log has ${head.size} leaves, fewer than the ${earlier.size} seen before: it was rolled back`);
    } else {
      const proof = await getJson<{ consistency_path: string[] }>(`${base}/proof/consistency?first=${earlier.size}&second=${head.size}`, timeoutMs);
      const proofPath = proof.consistency_path.map((p) => Buffer.from(p, 'base64'));
      if (!verifyConsistency(earlier.size, head.size, proofPath, earlierRoot, head.root)) {
        inconsistent = true;
        flag('inconsistent-with-earlier-head', `the log of ${head.size} leaves does not extend the head of ${earlier.size} leaves seen before: it was rewritten or forked`);
      } else if (!earlierRebuilt?.equals(earlierRoot)) {
        inconsistent = true;
        flag(
          'inconsistent-with-earlier-head',
          earlierRebuilt
            ? `the first ${earlier.size} leaves listed now do not hash to the root of the head seen before: history was changed`
            : `the log no longer lists all of the ${earlier.size} leaves of the head seen before`,
        );
      }
    }
  }
  if (options.stateDir && discrepancies.length === 0) rememberHead(options.stateDir, head);
  discrepancies.sort((a, b) => (a.index ?? -1) - (b.index ?? -1));
  return { zone, treeSize: head.size, root: head.root.toString('base64'), labels: latest.size, discrepancies, inconsistent };
}

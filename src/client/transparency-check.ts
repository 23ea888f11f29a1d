// The `transparency` check of a lookup: is the key DNS serves for an address the one the zone's key
// transparency log (README "Key transparency log") shows as the address's latest entry, in a log
// that extends what this client saw before?
//
// The log key comes from the `_keypost-log.<zone>` TXT record, which the lookup asks for alongside
// the address's records, so DNSSEC covers it as it covers the key (the lookup's dnssec status names
// it when it is not authenticated). The log API is trusted for nothing: its head must verify under
// that key, its leaf must hash into that head (RFC 9162 §2.1.3.2) and must name the served key, and
// the head must extend both the head in DNS and the head remembered from an earlier run
// (§2.1.4.2). What one lookup cannot see, that the leaf the API calls latest really is the latest,
// is what `keypost log verify` and `keypost log watch` check over the whole log.
import { openpgpkeyLabel } from '../protocol/address-hashes.js';
import { decodeLeaf, LeafFormatError, servedKeyHash } from '../transparency/leaf.js';
import { leafHash, verifyConsistency, verifyInclusion } from '../transparency/merkle.js';
import { STH_OWNER_LABEL, parseTreeHeadText, verifyTreeHead, type SignedTreeHead } from '../transparency/sth.js';
import { KeypostError } from '../errors.js';
import { getJson, headOf, type HeadJson } from './log-api.js';
import { rememberHead, rememberedHead } from './log-heads.js';

/**
 * ok: the served key is proved by the log; none: the zone publishes no log head; failed: it is not
 * proved; inconsistent: the log does not extend a head seen before (rolled back or forked).
 */
export type TransparencyStatus = 'ok' | 'none' | 'failed' | 'inconsistent';

export interface TransparencyVerdict {
  status: TransparencyStatus;
  detail: string;
  /** The size of the signed tree the key was checked against, when the log answered. */
  treeSize: number | null;
  /** The index of the address's latest leaf, when the log named one. */
  leafIndex: number | null;
}

export interface TransparencyOptions {
  /** Where the last head seen per zone is kept (log-heads.ts); none = no memory between runs. */
  stateDir?: string;
  /** A zone that publishes no log fails the check instead of skipping it. */
  require?: boolean;
  /** How long to wait for the log to catch up with DNS (default LOG_LAG_MS). */
  lagMs?: number;
}

export interface TransparencyInput extends TransparencyOptions {
  address: string;
  localPart: string;
  zone: string;
  /** The text of the `v=kpl1` TXT record at `_keypost-log.<zone>`, if DNS served one. */
  headText: string | undefined;
  /** The zone policy's api=. */
  api: string | null;
  /** The key DNS serves (OPENPGPKEY RDATA) and its fingerprint. */
  keyBytes: Uint8Array | null;
  fingerprint: string | null;
  timeoutMs: number;
}

interface InclusionJson {
  leaf_index: number;
  tree_size: number;
  leaf: string;
  inclusion_path: string[];
  sth: HeadJson;
}

const b64 = (values: string[]) => values.map((v) => Buffer.from(v, 'base64'));

/** Thrown inside the check to end it with a verdict. */
class Verdict extends Error {
  constructor(
    readonly status: 'failed' | 'inconsistent',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Does the log (whose current head is `head`) extend `earlier`? A smaller tree is a rollback, an
 * equal size with another root or a consistency proof that does not verify is a fork.
 */
async function requireExtends(base: string, timeoutMs: number, earlier: { size: number; root: Buffer }, head: SignedTreeHead, what: string): Promise<void> {
  if (earlier.size > head.size) {
    throw new Verdict('inconsistent', `the log has ${head.size} leaves, fewer than the ${earlier.size} of ${what}: it was rolled back`);
  }
  let path: Buffer[] = [];
  if (earlier.size > 0 && earlier.size < head.size) {
    path = b64((await getJson<{ consistency_path: string[] }>(`${base}/proof/consistency?first=${earlier.size}&second=${head.size}`, timeoutMs)).consistency_path);
  }
  if (earlier.size > 0 && !verifyConsistency(earlier.size, head.size, path, earlier.root, head.root)) {
    throw new Verdict('inconsistent', `the log of ${head.size} leaves does not extend ${what} (${earlier.size} leaves): it was rewritten or forked`);
  }
}

/**
 * How long a lookup waits for the log to show a key DNS already serves. The directory writes the
 * leaf in the publishing transaction, but the head covering it is signed a moment later (README
 * "Key transparency log"), so right after a publication DNS can be ahead of the signed log.
 */
export const LOG_LAG_MS = 3000;
const LAG_POLL_MS = 250;

export async function checkTransparency(input: TransparencyInput): Promise<TransparencyVerdict> {
  const { zone, address, timeoutMs } = input;
  const owner = `${STH_OWNER_LABEL}.${zone}`;
  if (input.headText === undefined) return { status: 'none', detail: `${zone} publishes no key transparency log (no v=kpl1 TXT at ${owner})`, treeSize: null, leafIndex: null };
  let treeSize: number | null = null;
  let leafIndex: number | null = null;
  const deadline = Date.now() + (input.lagMs ?? LOG_LAG_MS);
  const attempt = async (): Promise<TransparencyVerdict> => {
    const dnsHead = parseTreeHeadText(zone, input.headText!);
    if (!dnsHead || !verifyTreeHead(dnsHead)) throw new Verdict('failed', `the log head at ${owner} is unreadable or its signature does not verify`);
    const logKey = dnsHead.publicKey;
    const earlier = rememberedHead(input.stateDir, zone);
    if (earlier && earlier.key !== logKey.toString('base64')) throw new Verdict('inconsistent', `the log key of ${zone} at ${owner} is not the one seen before`);
    if (!input.api) throw new Verdict('failed', `${zone} publishes a log head but no api= to ask for proofs`);
    const base = `${input.api.replace(/\/+$/, '')}/v1/log/${encodeURIComponent(zone)}`;

    // The address's latest leaf, its audit path and the head it is proved against, in one answer.
    const proof = await getJson<InclusionJson>(`${base}/proof/inclusion?address=${encodeURIComponent(address)}`, timeoutMs);
    const head = headOf(proof.sth);
    if (head.zone !== zone || !verifyTreeHead(head, logKey)) throw new Verdict('failed', `the tree head from ${base} is not signed by the log key published at ${owner}`);
    treeSize = head.size;

    // Consistency first: a rolled-back or forked log is reported as such, whatever its leaves say.
    if (earlier) await requireExtends(base, timeoutMs, { size: earlier.size, root: Buffer.from(earlier.root, 'base64') }, head, 'the head seen before');
    // DNS may lag the API by a head; a DNS head the API has not reached yet proves nothing either way.
    if (dnsHead.size <= head.size) await requireExtends(base, timeoutMs, dnsHead, head, `the head published at ${owner}`);
    if (input.stateDir) rememberHead(input.stateDir, head);

    const leafBytes = Buffer.from(proof.leaf, 'base64');
    leafIndex = proof.leaf_index;
    if (proof.tree_size !== head.size || !verifyInclusion(proof.leaf_index, head.size, leafHash(leafBytes), b64(proof.inclusion_path), head.root)) {
      throw new Verdict('failed', `the log's leaf for ${address} is not included in its signed tree of ${head.size} leaves`);
    }
    let leaf;
    try {
      leaf = decodeLeaf(leafBytes);
    } catch (err) {
      if (!(err instanceof LeafFormatError)) throw err;
      throw new Verdict('failed', `the log's leaf ${leafIndex} is not a canonical leaf: ${err.message}`);
    }
    if (leaf.zone !== zone || leaf.label.toString('hex') !== openpgpkeyLabel(input.localPart)) {
      throw new Verdict('failed', `the log answered leaf ${leafIndex}, which is not ${address}'s`);
    }
    if (leaf.action !== 'publish') throw new Verdict('failed', `${address} is withdrawn in the log (leaf ${leafIndex}) but DNS serves a key for it`);
    if (leaf.fingerprint !== input.fingerprint) throw new Verdict('failed', `DNS serves key ${input.fingerprint ?? '-'}; the log's latest leaf (${leafIndex}) names ${leaf.fingerprint}`);
    if (!input.keyBytes || !servedKeyHash(input.keyBytes).equals(leaf.keyHash)) {
      throw new Verdict('failed', `the key DNS serves is not the one logged in leaf ${leafIndex} (SHA-256 differs)`);
    }
    return { status: 'ok', detail: `leaf ${leafIndex} of the log of ${zone} (signed tree of size ${head.size}) is the served key`, treeSize, leafIndex };
  };
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      // The API unreachable, or no leaf for the address (404): the zone promises a log it does not show.
      const failed = err instanceof Verdict ? err.status === 'failed' : err instanceof KeypostError;
      if (!failed && !(err instanceof Verdict)) throw err;
      // Only a failure can be the log's lag; a rolled-back or forked log stays so.
      if (failed && Date.now() + LAG_POLL_MS < deadline) {
        await new Promise((resolve) => setTimeout(resolve, LAG_POLL_MS));
        continue;
      }
      const status = err instanceof Verdict ? err.status : 'failed';
      return { status, detail: (err as Error).message, treeSize, leafIndex };
    }
  }
}

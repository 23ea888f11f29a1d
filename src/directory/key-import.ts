// Bulk import of a keyring by the operator of a zone (`keypost key import --domain`): every key that
// passes the key policy publishes its user IDs in that zone without mail verification (the operator
// vouches, as the domain owner API does). Keys are judged ahead of the database writes, which go in
// batches with one serial bump per batch, so a large keyring is one stream of work, not one
// transaction per address.
import type { Db } from '../db/database.js';
import { KeypostError } from '../errors.js';
import { dearmorKeyBlock } from '../protocol/armor.js';
import { requireDomain } from './domains.js';
import { checkKey, minimalKeyFor, splitKeyring, type CheckedKey } from '../keys/key-policy.js';
import { domainOfAddress } from '../protocol/address.js';
import { publishMany, withdrawKey, ZoneBumps } from './publish.js';

export interface ImportSkip {
  /** 1-based position of the key in the keyring. */
  index: number;
  fingerprint?: string;
  address?: string;
  code: string;
  reason: string;
}

export interface ImportSummary {
  domain: string;
  keys: number;
  published: number;
  /** Addresses that had a different key before and now have the imported one. */
  replaced: number;
  skipped: ImportSkip[];
  seconds: number;
}

export interface ImportOptions {
  domain: string;
  now?: () => Date;
  /** Called after each batch with keys done so far and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Addresses per transaction. */
  batchSize?: number;
  /** Keys judged concurrently (openpgp.js verification is async). */
  concurrency?: number;
}

const BLOCK = /-----BEGIN PGP ([A-Z ,0-9/]+)-----[\s\S]*?-----END PGP \1-----/g;

/** Armoured (one or many blocks) or binary keyring → one byte block per primary key. */
export function splitKeyringInput(input: Uint8Array): Uint8Array[] {
  if (input.length === 0) return [];
  if (input[0] & 0x80) return splitOrThrow(input);
  const text = Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8');
  const blocks: Uint8Array[] = [];
  for (const match of text.matchAll(BLOCK)) {
    const dearmored = dearmorKeyBlock(match[0]);
    if (!dearmored.ok) {
      const secret = dearmored.problem === 'private-block';
      throw new KeypostError('DIR_KEYRING_UNPARSABLE', secret ? 'the keyring holds a secret key block; export public keys only' : `an armoured block is ${dearmored.problem}`);
    }
    blocks.push(...splitOrThrow(dearmored.bytes));
  }
  if (blocks.length === 0) throw new KeypostError('DIR_KEYRING_UNPARSABLE', 'no "-----BEGIN PGP PUBLIC KEY BLOCK-----" found');
  return blocks;
}

function splitOrThrow(bytes: Uint8Array): Uint8Array[] {
  try {
    return splitKeyring(bytes);
  } catch (err) {
    throw new KeypostError('DIR_KEYRING_UNPARSABLE', `the keyring is not OpenPGP packet data: ${(err as Error).message}`);
  }
}

type Judged = { index: number; status: 'publish'; key: CheckedKey; addresses: string[]; minimal: Uint8Array[] } | { index: number; status: 'revoked'; key: CheckedKey } | { index: number; status: 'skip'; skip: ImportSkip };

export async function importKeyring(db: Db, input: Uint8Array, options: ImportOptions): Promise<ImportSummary> {
  const started = process.hrtime.bigint();
  const now = options.now ?? (() => new Date());
  const zone = (await requireDomain(db, options.domain)).name;
  const blocks = splitKeyringInput(input);
  const batchSize = options.batchSize ?? 500;
  const concurrency = options.concurrency ?? 16;
  const summary: ImportSummary = { domain: zone, keys: blocks.length, published: 0, replaced: 0, skipped: [], seconds: 0 };
  // One key per address: within one keyring the first key naming an address keeps it.
  const claimed = new Map<string, string>();

  async function judge(index: number, bytes: Uint8Array): Promise<Judged> {
    const result = await checkKey(bytes, { now: now(), isServedAddress: (address) => domainOfAddress(address) === zone });
    if (!('key' in result)) return { index, status: 'skip', skip: { index, code: result.code, reason: result.reason } };
    const key = result.key;
    if (result.status === 'revoked') return { index, status: 'revoked', key };
    const addresses = [...new Set(key.addresses.map((a) => a.address))];
    if (addresses.length === 0) {
      const skip = { index, fingerprint: key.fingerprint, code: 'DIR_KEY_NO_SERVED_ADDRESS', reason: `no user ID with an address in ${zone}` };
      return { index, status: 'skip', skip };
    }
    // Cut the per-address keys here, where the judging runs concurrently, not inside the transaction.
    const minimal = await Promise.all(addresses.map((address) => minimalKeyFor(key.stripped, address)));
    return { index, status: 'publish', key, addresses, minimal };
  }

  let done = 0;
  let position = 0;
  while (position < blocks.length) {
    // Judge one batch's worth of keys, `concurrency` at a time, then write them in one transaction.
    const slice = blocks.slice(position, position + batchSize);
    const judged: Judged[] = new Array(slice.length);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, slice.length) }, async () => {
        while (next < slice.length) {
          const i = next++;
          judged[i] = await judge(position + i + 1, slice[i]);
        }
      }),
    );
    position += slice.length;

    const work: { key: CheckedKey; address: string; index: number; minimal: Uint8Array }[] = [];
    const revocations: Judged[] = [];
    for (const item of judged) {
      if (item.status === 'skip') summary.skipped.push(item.skip);
      else if (item.status === 'revoked') revocations.push(item);
      else {
        for (const [n, address] of item.addresses.entries()) {
          const holder = claimed.get(address);
          if (holder && holder !== item.key.fingerprint) {
            summary.skipped.push({ index: item.index, fingerprint: item.key.fingerprint, address, code: 'DIR_IMPORT_DUPLICATE_ADDRESS', reason: `${address} already given to key ${holder} earlier in this keyring` });
            continue;
          }
          claimed.set(address, item.key.fingerprint);
          work.push({ key: item.key, address, index: item.index, minimal: item.minimal[n] });
        }
      }
    }

    // Keys revoked in the directory stay unpublishable; find them before writing the batch.
    const fingerprints = [...new Set(work.map((w) => w.key.fingerprint))];
    const revokedRows = fingerprints.length
      ? await db.selectFrom('keys').select('fingerprint').where('fingerprint', 'in', fingerprints).where('revoked', '=', true).execute()
      : [];
    const revoked = new Set(revokedRows.map((r) => r.fingerprint));
    // A revocation earlier in the keyring wins over an unrevoked copy of the same key.
    for (const item of revocations) if (item.status === 'revoked') revoked.add(item.key.fingerprint);

    await db.transaction().execute(async (tx) => {
      const bumps = new ZoneBumps();
      for (const item of revocations) {
        if (item.status !== 'revoked') continue;
        const withdrawn = await withdrawKey(tx, item.key.fingerprint, { revocation: item.key });
        summary.skipped.push({
          index: item.index,
          fingerprint: item.key.fingerprint,
          code: 'DIR_KEY_REVOKED',
          reason: withdrawn.length ? `revoked; withdrew ${withdrawn.join(', ')}` : 'revoked',
        });
      }
      const publishable = [];
      for (const { key, address, index, minimal } of work) {
        if (revoked.has(key.fingerprint)) {
          summary.skipped.push({ index, fingerprint: key.fingerprint, address, code: 'DIR_KEY_REVOKED', reason: 'this key was revoked earlier' });
        } else {
          publishable.push({ address, key, minimal, source: 'import' as const });
        }
      }
      const results = await publishMany(tx, publishable, bumps);
      summary.published += results.length;
      summary.replaced += results.filter((r) => r.replaced).length;
      await bumps.flush(tx);
    });
    done += slice.length;
    options.onProgress?.(done, blocks.length);
  }
  summary.skipped.sort((a, b) => a.index - b.index);
  summary.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return summary;
}

// Self-service publication (VKS upload / request-verify, HKP add) and deletion by the address holder.
// A submitted key publishes nothing by itself: each address is published only after a one-time
// link, mailed to that address and encrypted to the key, is confirmed with a POST. A revocation
// needs no mail: anyone holding it may withdraw the key (that is what a revocation is for).
import type { Logger } from 'pino';
import type { Db } from '../db/database.js';
import { KeypostError } from '../errors.js';
import { servedDomainNames } from './domains.js';
import type { KeyCheckPool } from './key-check-pool.js';
import { keyCheckError, minimalKeyFor, type CheckedKey, type KeyCheck } from '../keys/key-policy.js';
import type { Mailer } from './mailer.js';
import { withinMailBudget, type MailBudget } from './mail-budget.js';
import { domainOfAddress, parseAddress } from '../protocol/address.js';
import { publishAddress, refreshKey, withdrawAddress, withdrawKey } from './publish.js';
import { composeVerificationMail } from './verification-mail.js';
import type { KeyInput } from './upload-body.js';
import {
  consumeVerificationToken,
  discardVerificationToken,
  findUpload,
  hasRecentToken,
  issueVerificationToken,
  pendingAddresses,
  peekVerificationToken,
  purgeExpired,
  storeUpload,
} from './verification-tokens.js';

export type AddressStatus = 'unpublished' | 'pending' | 'published' | 'revoked';

/** The VKS upload / request-verify answer (keys.openpgp.org API). */
export interface UploadAnswer {
  key_fpr: string;
  status: Record<string, AddressStatus>;
  token: string;
}

export interface SelfServiceOptions {
  db: Db;
  mailer: Mailer;
  log: Logger;
  now(): Date;
  /** Base URL for links, without trailing slash. */
  publicUrl(): string;
  /** How long a mailed link and an upload token stay valid. */
  tokenTtlSeconds: number;
  /** No second mail for the same address and key within this many seconds (mail bombing). */
  mailCooldownSeconds: number;
  /** Mails per address and per client per window, whatever the key (mail bombing). */
  mailBudget: MailBudget;
  /** Where submitted keys are judged (worker threads, off the event loop). */
  keyChecks: KeyCheckPool;
}

/** Who is asking: the client address the HTTP edge saw (after trusted proxies). */
export interface Requester {
  client?: string;
}

export interface Confirmation {
  purpose: 'publish' | 'delete';
  address: string;
  fingerprint: string;
  /** For publish: the fingerprint that was replaced, if any. */
  replaced?: string | null;
}

export interface SelfService {
  upload(input: KeyInput, options?: { requestAll?: boolean } & Requester): Promise<UploadAnswer & { mailed: string[] }>;
  requestVerify(token: string, addresses: string[], requester?: Requester): Promise<UploadAnswer & { mailed: string[] }>;
  confirm(token: string): Promise<Confirmation>;
  requestDelete(address: string, requester?: Requester): Promise<{ address: string; status: 'pending' }>;
}

/** A key the policy accepted: valid, or revoked (a revocation is accepted as a withdrawal). */
export type AcceptedKey = Extract<KeyCheck, { key: CheckedKey }>;

export function accepted(result: KeyCheck): AcceptedKey {
  if ('key' in result) return result;
  throw keyCheckError(result);
}

export function createSelfService(options: SelfServiceOptions): SelfService {
  const { db, mailer, log } = options;

  async function check(input: KeyInput): Promise<{ result: AcceptedKey; served: Set<string> }> {
    const served = await servedDomainNames(db);
    const result = await options.keyChecks.check(input, { now: options.now(), served: { domains: [...served] } });
    return { result: accepted(result), served };
  }

  function servedAddressesOf(key: CheckedKey, served: Set<string>): string[] {
    const addresses = key.addresses.map((a) => a.address).filter((a) => served.has(domainOfAddress(a) ?? ''));
    return [...new Set(addresses)].sort();
  }

  async function statusOf(key: CheckedKey, addresses: string[]): Promise<Record<string, AddressStatus>> {
    const rows = addresses.length
      ? await db.selectFrom('addresses').select(['address', 'fingerprint', 'status']).where('address', 'in', addresses).execute()
      : [];
    const published = new Set(rows.filter((r) => r.status === 'published' && r.fingerprint === key.fingerprint).map((r) => r.address));
    const pending = await pendingAddresses(db, key.fingerprint, options.now());
    const status: Record<string, AddressStatus> = {};
    for (const address of addresses) status[address] = published.has(address) ? 'published' : pending.has(address) ? 'pending' : 'unpublished';
    return status;
  }

  /**
   * A re-upload of a key the directory knows is merged into its stored certificate without mail
   * (it can only add material: new subkeys, later expiry, revocations), and what is served for
   * the key follows the merged certificate.
   */
  async function refreshKnown(key: CheckedKey): Promise<void> {
    await db.transaction().execute((tx) => refreshKey(tx, key, options.now()));
  }

  async function mailPublishLinks(key: CheckedKey, keyData: Uint8Array, addresses: string[], requester: Requester): Promise<string[]> {
    const mailed: string[] = [];
    const now = options.now();
    for (const address of addresses) {
      const since = new Date(now.getTime() - options.mailCooldownSeconds * 1000);
      if (await hasRecentToken(db, { purpose: 'publish', address, fingerprint: key.fingerprint, since, now })) continue;
      const token = await withinMailBudget(db, { address, client: requester.client, now }, options.mailBudget, (tx) =>
        issueVerificationToken(tx, {
          purpose: 'publish',
          address,
          fingerprint: key.fingerprint,
          keyData,
          now,
          ttlSeconds: options.tokenTtlSeconds,
          client: requester.client,
        }),
      );
      try {
        const mail = await composeVerificationMail({
          purpose: 'publish',
          from: mailer.from,
          to: address,
          fingerprint: key.fingerprint,
          link: `${options.publicUrl()}/v/${token}`,
          expiresAt: new Date(now.getTime() + options.tokenTtlSeconds * 1000),
          encryptTo: keyData,
          serviceUrl: options.publicUrl(),
        });
        await mailer.send(mail);
        mailed.push(address);
      } catch (err) {
        await discardVerificationToken(db, token);
        throw err;
      }
    }
    return mailed;
  }

  async function answerFor(key: CheckedKey, served: Set<string>, token: string, mailed: string[]) {
    const addresses = servedAddressesOf(key, served);
    return { key_fpr: key.fingerprint, status: await statusOf(key, addresses), token, mailed };
  }

  return {
    async upload(input, uploadOptions = {}) {
      const { result, served } = await check(input);
      const key = result.key;
      const now = options.now();
      await purgeExpired(db, now);
      if (result.status === 'revoked') {
        const withdrawn = await db.transaction().execute((tx) => withdrawKey(tx, key.fingerprint, { revocation: key, now }));
        log.info({ fingerprint: key.fingerprint, withdrawn }, 'revocation uploaded; addresses withdrawn');
        const status: Record<string, AddressStatus> = {};
        for (const address of [...servedAddressesOf(key, served), ...withdrawn]) status[address] = 'revoked';
        const token = await storeUpload(db, { fingerprint: key.fingerprint, keyData: key.stripped, now, ttlSeconds: options.tokenTtlSeconds });
        return { key_fpr: key.fingerprint, status, token, mailed: [] };
      }
      const addresses = servedAddressesOf(key, served);
      if (addresses.length === 0) {
        throw new KeypostError('DIR_KEY_NO_SERVED_ADDRESS', 'the key has no user ID with an address in a domain served here');
      }
      const revoked = await db.selectFrom('keys').select('revoked').where('fingerprint', '=', key.fingerprint).executeTakeFirst();
      if (revoked?.revoked) throw new KeypostError('DIR_KEY_REVOKED', `key ${key.fingerprint} has been revoked`);
      await refreshKnown(key);
      const token = await storeUpload(db, { fingerprint: key.fingerprint, keyData: key.stripped, now, ttlSeconds: options.tokenTtlSeconds });
      let mailed: string[] = [];
      if (uploadOptions.requestAll) {
        const status = await statusOf(key, addresses);
        mailed = await mailPublishLinks(key, key.stripped, addresses.filter((a) => status[a] !== 'published'), uploadOptions);
      }
      return answerFor(key, served, token, mailed);
    },

    async requestVerify(token, requested, requester = {}) {
      const upload = await findUpload(db, token, options.now());
      const { result, served } = await check(upload.keyData);
      if (result.status === 'revoked') throw new KeypostError('DIR_KEY_REVOKED', `key ${result.key.fingerprint} has been revoked`);
      const key = result.key;
      const revoked = await db.selectFrom('keys').select('revoked').where('fingerprint', '=', key.fingerprint).executeTakeFirst();
      if (revoked?.revoked) throw new KeypostError('DIR_KEY_REVOKED', `key ${key.fingerprint} has been revoked`);
      const available = new Set(servedAddressesOf(key, served));
      const wanted: string[] = [];
      for (const raw of requested) {
        const { address } = parseAddress(raw);
        if (!available.has(address)) {
          throw new KeypostError('DIR_ADDRESS_NOT_REQUESTABLE', `${raw} is not a user ID of this key in a domain served here`);
        }
        if (!wanted.includes(address)) wanted.push(address);
      }
      const status = await statusOf(key, wanted);
      const mailed = await mailPublishLinks(key, upload.keyData, wanted.filter((a) => status[a] !== 'published'), requester);
      return answerFor(key, served, token, mailed);
    },

    async confirm(token) {
      const now = options.now();
      // Judge the key (it may have expired since the mail) and cut the minimal key before the
      // transaction; the token is then consumed, and re-checked under its row lock, inside it.
      const peeked = await peekVerificationToken(db, token, now);
      let prepared: { key: CheckedKey; minimal: Uint8Array } | undefined;
      if (peeked?.state === 'valid' && peeked.token.purpose === 'publish') {
        const served = await servedDomainNames(db);
        const result = accepted(await options.keyChecks.check(peeked.token.keyData ?? new Uint8Array(), { now, served: { domains: [...served] } }));
        if (result.status === 'revoked') throw new KeypostError('DIR_KEY_REVOKED', `key ${result.key.fingerprint} has been revoked`);
        prepared = { key: result.key, minimal: await minimalKeyFor(result.key.stripped, peeked.token.address) };
      }
      return db.transaction().execute(async (tx) => {
        const used = await consumeVerificationToken(tx, token, now);
        if (used.purpose === 'delete') {
          await withdrawAddress(tx, used.address);
          log.info({ address: used.address }, 'address deleted by its holder');
          return { purpose: 'delete', address: used.address, fingerprint: used.fingerprint };
        }
        if (!prepared) throw new KeypostError('DIR_TOKEN_UNKNOWN', 'this link is not valid');
        const published = await publishAddress(tx, { address: used.address, key: prepared.key, minimal: prepared.minimal, source: 'self' }, undefined, now);
        log.info({ address: used.address, fingerprint: used.fingerprint, replaced: published.replaced }, 'address verified and published');
        return { purpose: 'publish', address: used.address, fingerprint: used.fingerprint, replaced: published.replaced };
      });
    },

    async requestDelete(raw, requester = {}) {
      const { address } = parseAddress(raw);
      const row = await db
        .selectFrom('addresses')
        .select(['fingerprint', 'minimal_key'])
        .where('address', '=', address)
        .where('status', '=', 'published')
        .executeTakeFirst();
      if (!row) throw new KeypostError('DIR_ADDRESS_NOT_PUBLISHED', `${address} is not published here`);
      const now = options.now();
      const since = new Date(now.getTime() - options.mailCooldownSeconds * 1000);
      if (!(await hasRecentToken(db, { purpose: 'delete', address, since, now }))) {
        const token = await withinMailBudget(db, { address, client: requester.client, now }, options.mailBudget, (tx) =>
          issueVerificationToken(tx, {
            purpose: 'delete',
            address,
            fingerprint: row.fingerprint,
            now,
            ttlSeconds: options.tokenTtlSeconds,
            client: requester.client,
          }),
        );
        try {
          await mailer.send(
            await composeVerificationMail({
              purpose: 'delete',
              from: mailer.from,
              to: address,
              fingerprint: row.fingerprint,
              link: `${options.publicUrl()}/v/${token}`,
              expiresAt: new Date(now.getTime() + options.tokenTtlSeconds * 1000),
              encryptTo: new Uint8Array(row.minimal_key),
              serviceUrl: options.publicUrl(),
            }),
          );
        } catch (err) {
          await discardVerificationToken(db, token);
          throw err;
        }
      }
      return { address, status: 'pending' };
    },
  };
}

// The directory's services, built once per HTTP listener by the composition root and shared by
// the rooms that serve it: the API routes (routes.ts) and the web pages (src/web/). Both call the
// same self-service, the same read-model lookups and the same key lookups, so a page and an API
// call can never disagree about what is published or how an upload is judged.
import type { AddressInfo } from 'node:net';
import type { Services } from '../lifecycle.js';
import { createKeyCheckPool, type KeyCheckPool } from './key-check-pool.js';
import { keysByFingerprint, keysByKeyId, type ServedKey } from './key-lookup.js';
import { createMailer } from './mailer.js';
import { PublishedLookups } from './published-lookups.js';
import { createSelfService, type SelfService } from './self-service.js';
import { peekVerificationToken, type TokenState, type VerificationToken } from './verification-tokens.js';

export type { ServedKey } from './key-lookup.js';
export type { PublishedAddress, PublishedZone } from './published-lookups.js';
export type { TokenState, VerificationToken } from './verification-tokens.js';
export type { AddressStatus, Confirmation, UploadAnswer } from './self-service.js';

export interface Directory {
  readonly selfService: SelfService;
  readonly lookups: PublishedLookups;
  readonly keyChecks: KeyCheckPool;
  /** What a mailed link would do, without using it (a GET must change nothing). */
  peekLink(token: string): Promise<{ state: TokenState; token: VerificationToken } | undefined>;
  keysByFingerprint(fingerprint: string): Promise<ServedKey[]>;
  keysByKeyId(keyId: string): Promise<ServedKey[]>;
  /** Stops the key-check threads, the mailer and the lookups' watcher; safe to call twice. */
  close(): Promise<void>;
}

/**
 * `boundAddress` is the listener's socket address, read when a link is made: with no public URL
 * configured, links point at the address the API actually bound (a wildcard bind via loopback).
 */
export function createDirectory(services: Services, boundAddress: () => AddressInfo | string | null): Directory {
  const { config, log, database } = services;
  const db = database.db;
  // One pool of key-check threads for every route that judges an uploaded key; its threads start
  // with the first check.
  const keyChecks = createKeyCheckPool({
    ...config.directory.keyChecks,
    log: log.child({ component: 'key-checks' }),
    metrics: services.metrics,
  });
  const mailer = createMailer({
    submissionUrl: config.directory.mailSubmissionUrl,
    from: config.directory.mailFrom,
    log: log.child({ component: 'mailer' }),
  });
  const publicUrl = () => {
    if (config.directory.publicUrl) return config.directory.publicUrl.replace(/\/$/, '');
    const bound = boundAddress();
    if (!bound || typeof bound === 'string') return 'http://localhost';
    const host = bound.address === '0.0.0.0' || bound.address === '::' ? 'localhost' : bound.address;
    return `http://${host.includes(':') ? `[${host}]` : host}:${bound.port}`;
  };
  const selfService = createSelfService({
    db,
    mailer,
    log: log.child({ component: 'self-service' }),
    now: services.now,
    publicUrl,
    tokenTtlSeconds: Math.floor(config.directory.verifyTokenTtlMs / 1000),
    mailCooldownSeconds: Math.floor(config.directory.mailCooldownMs / 1000),
    mailBudget: config.directory.mailBudget,
    keyChecks,
  });
  const lookups = new PublishedLookups(services.published, services.metrics);
  let closing: Promise<void> | undefined;
  return {
    selfService,
    lookups,
    keyChecks,
    peekLink: (token) => peekVerificationToken(db, token, services.now()),
    keysByFingerprint: (fingerprint) => keysByFingerprint(db, fingerprint),
    keysByKeyId: (keyId) => keysByKeyId(db, keyId),
    close() {
      closing ??= (async () => {
        lookups.close();
        mailer.close();
        await keyChecks.close();
      })();
      return closing;
    },
  };
}

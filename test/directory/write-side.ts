// Shared fixtures of the write-side tests (domains, owner API, self-service, import): fresh keys,
// a running API listener on port 0 against the test database, and reading mailed links.
import { Writable } from 'node:stream';
import * as openpgp from 'openpgp';
import { pino, type Logger } from 'pino';
import { loadConfig } from '../../src/config.js';
import { createDomain } from '../../src/directory/domains.js';
import { startKeypost, type RunningKeypost } from '../../src/main.js';
import type { Db } from '../../src/db/database.js';
import type { TestDatabase } from '../support/database.js';
import type { CapturedMail } from '../support/mail-sink.js';

export interface TestKey {
  publicKey: string;
  privateKey: string;
  fingerprint: string;
}

export async function makeKey(userIds: string[], options: { keyExpirationTime?: number; date?: Date } = {}): Promise<TestKey> {
  const { publicKey, privateKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'ed25519Legacy',
    userIDs: userIds.map((id) => {
      const match = /^(.*)<(.+)>$/.exec(id);
      return match ? { name: match[1].trim(), email: match[2] } : { email: id };
    }),
    format: 'armored',
    ...options,
  });
  const key = await openpgp.readKey({ armoredKey: publicKey });
  return { publicKey, privateKey, fingerprint: key.getFingerprint().toUpperCase() };
}

/** A revoked copy of the public key (what a holder uploads to withdraw it). */
export async function revokedCopy(key: TestKey): Promise<string> {
  const privateKey = await openpgp.readPrivateKey({ armoredKey: key.privateKey });
  const { publicKey } = await openpgp.revokeKey({ key: privateKey, format: 'armored' });
  return publicKey;
}

/** Decrypts a PGP/MIME verification mail with the holder's key and returns the clear text. */
export async function decryptMail(mail: CapturedMail, privateKeyArmored: string): Promise<string> {
  const armored = /-----BEGIN PGP MESSAGE-----[\s\S]+?-----END PGP MESSAGE-----/.exec(mail.raw)?.[0];
  if (!armored) throw new Error('mail has no PGP message');
  const message = await openpgp.readMessage({ armoredMessage: armored.replace(/\r\n/g, '\n') });
  const privateKey = await openpgp.readPrivateKey({ armoredKey: privateKeyArmored });
  const { data } = await openpgp.decrypt({ message, decryptionKeys: privateKey });
  return String(data);
}

export function linkIn(text: string): { link: string; token: string } {
  const match = /(https?:\/\/\S+\/v\/([A-Za-z0-9_-]{43}))/.exec(text);
  if (!match) throw new Error(`no verification link in:\n${text}`);
  return { link: match[1], token: match[2] };
}

export async function addDomain(db: Db, name: string, policy: { powBits?: number; endpoint?: string } = {}): Promise<string> {
  const { ownerToken } = await db.transaction().execute((tx) => createDomain(tx, { name, policy, now: new Date() }));
  return ownerToken;
}

export interface RunningApi {
  keypost: RunningKeypost;
  baseUrl: string;
  /** Log lines (JSON) written so far. */
  logLines(): Record<string, unknown>[];
  close(): Promise<void>;
}

/** Starts the API listener (the real component from main.ts) against the test database. */
export async function startApi(
  testDb: TestDatabase,
  env: Record<string, string> = {},
  options: { now?: () => Date } = {},
): Promise<RunningApi> {
  const config = loadConfig({
    ...testDb.env,
    KEYPOST_HTTP_LISTEN: '127.0.0.1:0',
    KEYPOST_LOG_LEVEL: 'info',
    KEYPOST_RATE_LIMIT_MAX: '10000',
    // Many tests ask for many mails from one loopback client; the budget has its own test.
    KEYPOST_VERIFY_MAIL_PER_CLIENT: '10000',
    ...env,
  });
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      callback();
    },
  });
  const log: Logger = pino({ level: config.log.level }, sink);
  const keypost = await startKeypost({ config, log, only: ['api'], now: options.now });
  return {
    keypost,
    baseUrl: `http://${keypost.addresses.api}`,
    logLines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    close: () => keypost.close(),
  };
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // plain text or HTML answers stay strings
  }
  return { status: response.status, body: parsed };
}

/**
 * Publishes `address` through the owner API (PUT /v1/domains/:zone/addresses/:address) with the
 * zone's owner token; `fields` may add endpoint, pow or require. Throws unless it answers 200.
 */
export async function ownerPublish(apiBase: string, zone: string, token: string, address: string, keytext: string, fields: Record<string, unknown> = {}): Promise<void> {
  const response = await fetch(`${apiBase}/v1/domains/${zone}/addresses/${address}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ keytext, ...fields }),
  });
  if (response.status !== 200) throw new Error(`publishing ${address}: ${response.status} ${await response.text()}`);
}

/**
 * Waits until the zone's signed tree head covers its whole transparency log: the head signer
 * (src/transparency/tree-head-signer.ts) bumps the serial once per new head, a moment after the
 * publications it covers, so a test that compares serials waits for it first.
 */
export async function logHeadSettled(db: Db, zone: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const head = await db.selectFrom('log_heads').select(['size', 'sth_size']).where('zone', '=', zone).executeTakeFirst();
    if (head && head.sth_size !== null && Number(head.sth_size) === Number(head.size)) return;
    if (Date.now() > deadline) throw new Error(`the log head of ${zone} did not cover its log within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

// One-time verification tokens and pending uploads. A token is 32 random bytes (base64url) that only
// ever exists in the mail or the client's hands; the database holds its SHA-256. Consuming a token
// locks its row and marks it used in the caller's transaction, so the change it authorises and the
// "used" mark commit together or not at all, and a link clicked twice publishes once.
import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Db, Tx, VerificationPurpose } from '../db/database.js';
import { KeypostError } from '../errors.js';

export function newToken(): { token: string; hash: Buffer } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashOf(token) };
}

function hashOf(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Tokens are base64url of 32 bytes; anything else cannot match and is not worth a query. */
export function isWellFormedToken(token: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(token);
}

export interface VerificationToken {
  purpose: VerificationPurpose;
  address: string;
  fingerprint: string;
  keyData: Uint8Array | null;
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
}

export type TokenState = 'valid' | 'used' | 'expired';

export async function issueVerificationToken(
  tx: Tx | Db,
  input: {
    purpose: VerificationPurpose;
    address: string;
    fingerprint: string;
    keyData?: Uint8Array;
    now: Date;
    ttlSeconds: number;
    /** Who asked for the mail, counted by the per-client mail budget (mail-budget.ts). */
    client?: string;
  },
): Promise<string> {
  const { token, hash } = newToken();
  await tx
    .insertInto('verification_tokens')
    .values({
      token_hash: hash,
      purpose: input.purpose,
      address: input.address,
      fingerprint: input.fingerprint,
      key_data: input.keyData ? Buffer.from(input.keyData) : null,
      created_at: input.now,
      expires_at: new Date(input.now.getTime() + input.ttlSeconds * 1000),
      client_address: input.client ?? null,
    })
    .execute();
  return token;
}

/** Forgets a token whose mail could not be sent, so the holder can ask again at once. */
export async function discardVerificationToken(db: Db, token: string): Promise<void> {
  await db.deleteFrom('verification_tokens').where('token_hash', '=', hashOf(token)).execute();
}

function stateOf(row: { used_at: Date | null; expires_at: Date }, now: Date): TokenState {
  if (row.used_at) return 'used';
  return new Date(row.expires_at).getTime() <= now.getTime() ? 'expired' : 'valid';
}

function toToken(row: {
  purpose: VerificationPurpose;
  address: string;
  fingerprint: string;
  key_data: Buffer | null;
  created_at: Date;
  expires_at: Date;
  used_at: Date | null;
}): VerificationToken {
  return {
    purpose: row.purpose,
    address: row.address,
    fingerprint: row.fingerprint,
    keyData: row.key_data ? new Uint8Array(row.key_data) : null,
    createdAt: new Date(row.created_at),
    expiresAt: new Date(row.expires_at),
    usedAt: row.used_at ? new Date(row.used_at) : null,
  };
}

const TOKEN_COLUMNS = ['purpose', 'address', 'fingerprint', 'key_data', 'created_at', 'expires_at', 'used_at'] as const;

/** Reads a token without using it (the confirmation page a GET shows). */
export async function peekVerificationToken(db: Db, token: string, now: Date): Promise<{ state: TokenState; token: VerificationToken } | undefined> {
  if (!isWellFormedToken(token)) return undefined;
  const row = await db.selectFrom('verification_tokens').select(TOKEN_COLUMNS).where('token_hash', '=', hashOf(token)).executeTakeFirst();
  return row ? { state: stateOf(row, now), token: toToken(row) } : undefined;
}

/** Locks, checks and marks a token used in `tx`; throws DIR_TOKEN_* when it may not be used. */
export async function consumeVerificationToken(tx: Tx, token: string, now: Date): Promise<VerificationToken> {
  const row = isWellFormedToken(token)
    ? await tx.selectFrom('verification_tokens').select(TOKEN_COLUMNS).where('token_hash', '=', hashOf(token)).forUpdate().executeTakeFirst()
    : undefined;
  if (!row) throw new KeypostError('DIR_TOKEN_UNKNOWN', 'this link is not valid');
  const state = stateOf(row, now);
  if (state === 'used') throw new KeypostError('DIR_TOKEN_USED', 'this link has already been used');
  if (state === 'expired') throw new KeypostError('DIR_TOKEN_EXPIRED', 'this link has expired; ask for a new one');
  await tx.updateTable('verification_tokens').set({ used_at: now }).where('token_hash', '=', hashOf(token)).execute();
  return { ...toToken(row), usedAt: now };
}

/** True when an unused, unexpired token for this purpose/address/key was issued after `since`. */
export async function hasRecentToken(
  db: Db,
  input: { purpose: VerificationPurpose; address: string; fingerprint?: string; since: Date; now: Date },
): Promise<boolean> {
  let query = db
    .selectFrom('verification_tokens')
    .select(sql<number>`1`.as('one'))
    .where('purpose', '=', input.purpose)
    .where('address', '=', input.address)
    .where('created_at', '>', input.since)
    .where('expires_at', '>', input.now)
    .where('used_at', 'is', null);
  if (input.fingerprint) query = query.where('fingerprint', '=', input.fingerprint);
  return (await query.limit(1).executeTakeFirst()) !== undefined;
}

/** Addresses of `fingerprint` with an unused, unexpired publish token (VKS status "pending"). */
export async function pendingAddresses(db: Db, fingerprint: string, now: Date): Promise<Set<string>> {
  const rows = await db
    .selectFrom('verification_tokens')
    .select('address')
    .where('purpose', '=', 'publish')
    .where('fingerprint', '=', fingerprint)
    .where('expires_at', '>', now)
    .where('used_at', 'is', null)
    .execute();
  return new Set(rows.map((r) => r.address));
}

/** Stores a submitted key until its addresses are verified; returns the VKS upload token. */
export async function storeUpload(db: Db, input: { fingerprint: string; keyData: Uint8Array; now: Date; ttlSeconds: number }): Promise<string> {
  const { token, hash } = newToken();
  await db
    .insertInto('key_uploads')
    .values({
      token_hash: hash,
      fingerprint: input.fingerprint,
      key_data: Buffer.from(input.keyData),
      created_at: input.now,
      expires_at: new Date(input.now.getTime() + input.ttlSeconds * 1000),
    })
    .execute();
  return token;
}

export async function findUpload(db: Db, token: string, now: Date): Promise<{ fingerprint: string; keyData: Uint8Array }> {
  const row = isWellFormedToken(token)
    ? await db
        .selectFrom('key_uploads')
        .select(['fingerprint', 'key_data'])
        .where('token_hash', '=', hashOf(token))
        .where('expires_at', '>', now)
        .executeTakeFirst()
    : undefined;
  if (!row) throw new KeypostError('DIR_UPLOAD_TOKEN_INVALID', 'unknown or expired upload token; upload the key again');
  return { fingerprint: row.fingerprint, keyData: new Uint8Array(row.key_data) };
}

/** Deletes expired tokens and uploads a while after expiry (kept a day so late clicks explain themselves). */
export async function purgeExpired(db: Db, now: Date): Promise<void> {
  const cutoff = new Date(now.getTime() - 86_400_000);
  await db.deleteFrom('verification_tokens').where('expires_at', '<', cutoff).execute();
  await db.deleteFrom('key_uploads').where('expires_at', '<', cutoff).execute();
}

// SMTP AUTH users: the provider's own senders, who skip the stamp rule and may use submission mode.
// They live in a file of `user:scrypt$N$r$p$salt$hash` lines (create a line with
// `keypost smtp-passwd`), so no plaintext password is stored. The file is re-read when it changes.
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { GATEWAY_CODES, GatewayError } from './errors.js';

const KEY_LENGTH = 32;
const DEFAULT_COST = { N: 16384, r: 8, p: 1 };

function scrypt(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, KEY_LENGTH, { ...options, maxmem: 256 * options.N! * options.r! }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** The stored form of a password: `scrypt$N$r$p$salt$hash`, salt and hash in base64. */
export async function hashPassword(password: string, cost: { N: number; r: number; p: number } = DEFAULT_COST): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, cost);
  const { N, r, p } = cost;
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

interface StoredHash {
  cost: ScryptOptions;
  salt: Buffer;
  key: Buffer;
}

function parseHash(text: string): StoredHash | undefined {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(text);
  if (!m) return undefined;
  const N = Number(m[1]);
  // N must be a power of two; cap the cost so a hostile file cannot stall the process.
  if (N < 2 || N > 1 << 20 || (N & (N - 1)) !== 0 || Number(m[2]) > 32 || Number(m[3]) > 16) return undefined;
  return { cost: { N, r: Number(m[2]), p: Number(m[3]) }, salt: Buffer.from(m[4], 'base64'), key: Buffer.from(m[5], 'base64') };
}

export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  const hash = parseHash(stored);
  if (!hash || hash.key.length !== KEY_LENGTH) return false;
  const key = await scrypt(password, hash.salt, hash.cost);
  return timingSafeEqual(key, hash.key);
}

/** Parses the users file; a malformed line is a configuration error naming the line. */
export function parseAuthUsers(text: string, source = 'auth users file'): Map<string, string> {
  const users = new Map<string, string>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (colon < 1 || !parseHash(hash)) {
      throw new GatewayError(GATEWAY_CODES.configInvalid, `${source} line ${index + 1}: expected user:scrypt$N$r$p$salt$hash`);
    }
    users.set(user, hash);
  });
  return users;
}

export interface AuthUsers {
  readonly enabled: boolean;
  verify(user: string, password: string): Promise<boolean>;
}

export function loadAuthUsers(file: string | undefined): AuthUsers {
  if (!file) return { enabled: false, verify: async () => false };
  let mtime = statSync(file).mtimeMs;
  let users = parseAuthUsers(readFileSync(file, 'utf8'), file);
  // Unknown users cost as much as known ones, so timing does not reveal who exists.
  const decoy = `scrypt$${DEFAULT_COST.N}$${DEFAULT_COST.r}$${DEFAULT_COST.p}$${randomBytes(16).toString('base64')}$${randomBytes(KEY_LENGTH).toString('base64')}`;

  function refresh(): void {
    try {
      const now = statSync(file!).mtimeMs;
      if (now !== mtime) {
        users = parseAuthUsers(readFileSync(file!, 'utf8'), file);
        mtime = now;
      }
    } catch {
      // A file being rewritten or briefly missing keeps the last good list.
    }
  }

  return {
    enabled: true,
    async verify(user, password) {
      refresh();
      const stored = users.get(user);
      const ok = await verifyPassword(stored ?? decoy, password);
      return ok && stored !== undefined;
    },
  };
}

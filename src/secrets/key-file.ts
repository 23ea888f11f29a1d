// The key-encryption key (KEK) that seals secrets kept in the database (DNSSEC signing keys). It
// lives in a file outside the database, so a dump of the database alone cannot sign. On the
// default path, in the data directory, it is made at first start: 32 random octets as base64,
// readable by the owner only.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SecretsConfig } from '../config.js';
import { ConfigError } from '../config.js';

export const SECRET_KEY_LENGTH = 32;

function parseKeyFile(text: string, file: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== SECRET_KEY_LENGTH || key.toString('base64') !== text.trim()) {
    throw new ConfigError(`KEYPOST_SECRET_KEY_FILE: ${file} must hold ${SECRET_KEY_LENGTH} octets as base64 (make one with: head -c 32 /dev/urandom | base64)`);
  }
  return key;
}

/** Reads the KEK, creating it first when the configuration allows (the default path). */
export function loadSecretKey(config: SecretsConfig): Buffer {
  let text: string;
  try {
    text = readFileSync(config.keyFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    if (!config.createIfMissing) throw new ConfigError(`KEYPOST_SECRET_KEY_FILE: ${config.keyFile} does not exist`);
    mkdirSync(path.dirname(config.keyFile), { recursive: true });
    try {
      // 'wx': never overwrite a key another process made at the same moment; then read theirs.
      writeFileSync(config.keyFile, `${randomBytes(SECRET_KEY_LENGTH).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (inner) {
      if ((inner as NodeJS.ErrnoException).code !== 'EEXIST') throw inner;
    }
    text = readFileSync(config.keyFile, 'utf8');
  }
  return parseKeyFile(text, config.keyFile);
}

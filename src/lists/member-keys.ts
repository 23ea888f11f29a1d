// Where a member's key comes from: found through DNS with exactly the checks of `keypost lookup`
// (src/client/lookup.ts; any domain, not only served ones), or given by the list owner, who then
// vouches for it. Either way the key must be able to encrypt, or no copy could be made for it.
import { readKey } from 'openpgp';
import { lookupAddress } from '../client/lookup.js';
import { KeypostError } from '../errors.js';
import { PARSE_CONFIG } from '../keys/key-signatures.js';
import { checkKey } from '../keys/key-policy.js';
import type { ListenAddress } from '../protocol/listen-address.js';

export type MemberKeyVerdict =
  | { ok: true; keyData: Uint8Array; fingerprint: string }
  /** `temporary`: DNS did not answer; the key is neither good nor bad yet. */
  | { ok: false; reason: string; temporary: boolean };

export type MemberKeyFinder = (address: string, now: Date) => Promise<MemberKeyVerdict>;

async function cannotEncrypt(keyData: Uint8Array, now: Date): Promise<string | undefined> {
  try {
    const key = await readKey({ binaryKey: keyData, config: PARSE_CONFIG });
    await key.getEncryptionKey(undefined, now);
    return undefined;
  } catch (err) {
    return `the key has no usable encryption subkey (${(err as Error).message})`;
  }
}

export interface DnsMemberKeyOptions {
  /** The resolver to ask (KEYPOST_DNS_RESOLVER); the system's when unset. */
  dns?: ListenAddress;
  timeoutMs?: number;
}

/**
 * Looks members up as the gateway looks signers up: no directory API is asked, because the
 * member's zone names that URL and a server makes no HTTP request a stranger chooses.
 */
export function dnsMemberKeys(options: DnsMemberKeyOptions = {}): MemberKeyFinder {
  return async (address, now) => {
    let found;
    try {
      found = await lookupAddress(address, { dns: options.dns, timeoutMs: options.timeoutMs ?? 5000, now, askDirectory: false });
    } catch (err) {
      if (err instanceof KeypostError && err.code === 'CLIENT_DNS_FAILED') return { ok: false, reason: err.message, temporary: true };
      throw err;
    }
    if (!found.published || !found.keyBytes || !found.fingerprint) return { ok: false, reason: found.problem ?? `no key is published for ${address}`, temporary: false };
    if (!found.verified) {
      const failed = found.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`);
      return { ok: false, reason: `the key published for ${address} failed a check (${failed.join('; ') || 'a required check did not pass'})`, temporary: false };
    }
    const problem = await cannotEncrypt(found.keyBytes, now);
    if (problem) return { ok: false, reason: problem, temporary: false };
    return { ok: true, keyData: found.keyBytes, fingerprint: found.fingerprint };
  };
}

/** A key the owner gives for a member: judged by the directory's key policy, and must encrypt. */
export async function ownerGivenKey(keytext: string | Uint8Array, now: Date): Promise<{ keyData: Uint8Array; fingerprint: string }> {
  const checked = await checkKey(keytext, { now });
  if (checked.status !== 'valid') {
    throw new KeypostError('LIST_MEMBER_KEY_INVALID', checked.status === 'revoked' ? 'the key is revoked' : `the key is ${checked.status}: ${checked.reason}`);
  }
  const problem = await cannotEncrypt(checked.key.stripped, now);
  if (problem) throw new KeypostError('LIST_MEMBER_KEY_INVALID', problem);
  return { keyData: checked.key.stripped, fingerprint: checked.key.fingerprint };
}

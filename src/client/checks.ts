// The checks a sender makes before trusting what DNS handed it, each with its own verdict, so the
// CLI can show which one failed and why. The key itself is judged by the shared key policy
// (src/keys/key-policy.ts), the one module that wraps openpgp.js signature checks: a sender and
// the directory then agree on what "expired", "revoked" and "has a user ID" mean.
import { readKey } from 'openpgp';
import { checkKey } from '../keys/key-policy.js';
import { PARSE_CONFIG } from '../keys/key-signatures.js';

/**
 * `record`: a `_keypost` TXT record that breaks the kp1 grammar (src/protocol/kp1.ts).
 * `transparency`: the zone's key transparency log shows the served key (transparency-check.ts).
 */
export type CheckName = 'fingerprint' | 'pka' | 'user-id' | 'key-valid' | 'directory' | 'record' | 'transparency';
/** skip: there was nothing to compare with (for example no PKA record published). */
export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface Check {
  name: CheckName;
  status: CheckStatus;
  detail: string;
}

/** Checks whose failure or absence means the key is not verified. */
export const REQUIRED_CHECKS: readonly CheckName[] = ['fingerprint', 'user-id', 'key-valid'];

export const pass = (name: CheckName, detail: string): Check => ({ name, status: 'pass', detail });
export const fail = (name: CheckName, detail: string): Check => ({ name, status: 'fail', detail });
export const skip = (name: CheckName, detail: string): Check => ({ name, status: 'skip', detail });

/** Verified: no check failed and the required ones passed. */
export function isVerified(checks: readonly Check[]): boolean {
  return (
    checks.every((c) => c.status !== 'fail') &&
    REQUIRED_CHECKS.every((name) => checks.some((c) => c.name === name && c.status === 'pass'))
  );
}

/** The primary key fingerprint (uppercase hex), read without verifying anything; undefined if unreadable. */
export async function fingerprintOf(key: Uint8Array): Promise<string | undefined> {
  try {
    const parsed = await readKey({ binaryKey: key, config: PARSE_CONFIG });
    return parsed.getFingerprint().toUpperCase();
  } catch {
    return undefined;
  }
}

export interface KeyJudgement {
  checks: Check[];
  expires: Date | null;
}

/** `user-id` and `key-valid` for the OPENPGPKEY key of `address` (canonical) at `now`. */
export async function judgeKey(key: Uint8Array, address: string, now: Date): Promise<KeyJudgement> {
  const verdict = await checkKey(key, { now });
  if (verdict.status !== 'valid' && verdict.status !== 'revoked') {
    const why = `${verdict.reason} (${verdict.code})`;
    return {
      checks: [
        verdict.code === 'DIR_KEY_NO_SELF_SIGNATURE'
          ? fail('user-id', `no user ID of the key carries a valid self-signature`)
          : skip('user-id', 'not judged: the key itself is unusable'),
        fail('key-valid', verdict.status === 'expired' ? `expired: ${why}` : `refused by the key policy: ${why}`),
      ],
      expires: null,
    };
  }
  const { addresses, expiresAt } = verdict.key;
  const userId = addresses.find((a) => a.address === address);
  const checks: Check[] = [
    userId
      ? pass('user-id', `self-signed user ID "${userId.userId}"`)
      : fail('user-id', `no self-signed user ID for ${address} (the key has ${addresses.map((a) => a.address).join(', ') || 'none'})`),
    verdict.status === 'revoked'
      ? fail('key-valid', 'the key is revoked')
      : pass('key-valid', expiresAt ? `not revoked, expires ${expiresAt.toISOString()}` : 'not revoked, does not expire'),
  ];
  return { checks, expires: expiresAt };
}

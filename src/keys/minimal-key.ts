// The keys the directory serves are cut from the stored (stripped) key:
// - minimalKeyFor: what VKS by-email, HKP by address, WKD and DNS OPENPGPKEY serve for one address
//   (RFC 7929 §2.2 asks for a minimal key; GnuPG imports only the user ID matching the query).
// - servedKeyWithUserIds: what by-fingerprint / by-keyid serve: the key with only its published user IDs,
//   so no unverified identity ever leaves the directory (the VKS policy).
// Both take `CheckedKey.stripped`, whose signatures checkKey has already verified, so no
// cryptography runs here; only time (expiry) is re-judged, since a key is cut again later.
import { readKey, type Key } from 'openpgp';
import { KeypostError } from '../errors.js';
import { CLOCK_SKEW_MS, PARSE_CONFIG, keyExpiry } from './key-signatures.js';
import { TAG, readPackets, type RawPacket } from './packet-limits.js';
import { addressOfUserId, canonicalAddress } from '../protocol/address.js';

/**
 * Primary key, its direct-key self-signature, exactly the user ID of `address` with its newest
 * self-signature, and the subkeys that are neither revoked nor expired at `now`, each with its
 * binding signature. Throws DIR_KEY_ADDRESS_NOT_IN_KEY when the key has no user ID for it.
 */
export async function minimalKeyFor(stripped: Uint8Array, address: string, options: { now?: Date } = {}): Promise<Uint8Array> {
  const now = options.now ?? new Date();
  const wanted = canonicalAddress(address.trim());
  const key: Key = await readKey({ binaryKey: stripped, config: PARSE_CONFIG });
  const newest = (sigs: { created: Date | null }[]) =>
    sigs.reduce<number>((max, s) => Math.max(max, s.created?.getTime() ?? -Infinity), -Infinity);

  const candidates = key.users.filter((u) => u.userID && wanted && addressOfUserId(u.userID.userID) === wanted);
  if (candidates.length === 0) {
    throw new KeypostError('DIR_KEY_ADDRESS_NOT_IN_KEY', `the key has no user ID for ${address}`);
  }
  const user = candidates.sort((a, b) => newest(b.selfCertifications) - newest(a.selfCertifications))[0];
  const latest = user.selfCertifications.sort((a, b) => (b.created?.getTime() ?? 0) - (a.created?.getTime() ?? 0))[0];
  user.selfCertifications = latest ? [latest] : [];
  user.otherCertifications = [];
  user.revocationSignatures = [];
  key.users = [user];

  key.subkeys = key.subkeys.filter((subkey) => {
    if (subkey.revocationSignatures.length > 0) return false;
    const binding = subkey.bindingSignatures.sort((a, b) => (b.created?.getTime() ?? 0) - (a.created?.getTime() ?? 0))[0];
    if (!binding?.created || binding.created.getTime() > now.getTime() + CLOCK_SKEW_MS) return false;
    if (binding.signatureExpirationTime && binding.created.getTime() + binding.signatureExpirationTime * 1000 <= now.getTime()) return false;
    const expires = keyExpiry(subkey.keyPacket, binding);
    if (expires && expires.getTime() <= now.getTime()) return false;
    subkey.bindingSignatures = [binding];
    return true;
  });
  return key.write();
}

const decoder = new TextDecoder();

/**
 * The key with only the user IDs in `userIds` (compared as the UTF-8 text of the user ID packet),
 * each with its signatures. Works on packets without parsing signatures: fast enough per request.
 */
export function servedKeyWithUserIds(stripped: Uint8Array, userIds: Iterable<string>): Uint8Array {
  const allowed = new Set(userIds);
  const kept: RawPacket[] = [];
  let keeping = true;
  for (const packet of readPackets(stripped)) {
    // A user ID or attribute packet opens a section that runs until the next one or a subkey.
    if (packet.tag === TAG.userId) keeping = allowed.has(decoder.decode(packet.body));
    else if (packet.tag === TAG.userAttribute) keeping = false;
    else if (packet.tag !== TAG.signature) keeping = true;
    if (keeping) kept.push(packet);
  }
  return Buffer.concat(kept.map((p) => p.raw));
}

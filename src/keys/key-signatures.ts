// Which parts of a parsed key are valid, decided signature by signature (RFC 9580 §5.2.1, §5.2.3),
// and the stripped key built from the valid parts only. openpgp.js does the cryptography
// (SignaturePacket.verify); the policy around it (which signatures count, time validity, expiry,
// revocation, algorithm strength) is decided here from signature fields, so each outcome has a
// typed reason instead of a library message.
import { config as openpgpConfig, enums, type Config, type Key, type PartialConfig, type SignaturePacket, type Subkey, type User } from 'openpgp';
import type { CheckedKey, KeyPolicyCode } from './checked-key.js';
import { stripUnhashedSubpackets } from './signature-subpackets.js';
import { addressOfUserId } from '../protocol/address.js';

/** Parsing: skip what cannot be read instead of failing the whole key (a junk third-party
 * signature must not make a good key unpublishable). A damaged self-signature then simply
 * does not verify. */
export const PARSE_CONFIG: PartialConfig = { ignoreMalformedPackets: true, ignoreUnsupportedPackets: true };
const VERIFY_CONFIG: Config = { ...openpgpConfig };

/**
 * Valid revocations kept per component (as abuse-resistant keyservers do: a bounded number of revocations).
 * The cap counts only signatures that verify: junk never uses up a place (K2).
 */
const MAX_REVOCATIONS = 8;
/** Keys made seconds ago on a client whose clock runs ahead must not look "from the future". */
export const CLOCK_SKEW_MS = 5 * 60 * 1000;
/** RSA floor (key policy; NIST SP 800-131A retired RSA below 2048 bits in 2013). */
export const MIN_RSA_BITS = 2048;

const RSA = new Set<number>([enums.publicKey.rsaEncryptSign, enums.publicKey.rsaEncrypt, enums.publicKey.rsaSign]);
/** DSA and ElGamal (16 encrypt-only, 20 the withdrawn sign+encrypt variant). */
const DSA_ELGAMAL = new Set<number>([enums.publicKey.dsa, enums.publicKey.elgamal, 20]);
const CURVE_BITS: Record<string, number> = {
  nistP256: 256,
  nistP384: 384,
  nistP521: 521,
  secp256k1: 256,
  brainpoolP256r1: 256,
  brainpoolP384r1: 384,
  brainpoolP512r1: 512,
  ed25519Legacy: 255,
  curve25519Legacy: 255,
};
const ALGORITHM_BITS: Record<string, number> = { ed25519: 255, x25519: 255, ed448: 448, x448: 448 };

type KeyPacket = Key['keyPacket'];
type DirectSignatures = { directSignatures: SignaturePacket[] };

export type Verdict =
  | { status: 'valid' | 'revoked'; key: CheckedKey }
  | { status: 'invalid' | 'expired'; code: KeyPolicyCode; reason: string };

function bitsOf(packet: KeyPacket | Subkey['keyPacket']): number | null {
  const info = packet.getAlgorithmInfo();
  return info.bits ?? (info.curve ? CURVE_BITS[info.curve] : undefined) ?? ALGORITHM_BITS[info.algorithm] ?? null;
}

/** Cryptographic validity only; time is judged by the callers from the signature's fields. */
async function verifies(sig: SignaturePacket, signer: KeyPacket, type: enums.signature, data: object): Promise<boolean> {
  // openpgp.js refuses any signature naming a designated revoker (RFC 9580 §5.2.3.23) because it
  // cannot check third-party revocations. The directory never acts on those, so the signature
  // itself is still checked; the subpacket stays in the hashed data untouched. revocationKeyClass
  // is a public field of SignaturePacket; test/keys/key-signatures.test.ts pins that verify()
  // refuses on exactly this field, so a library change that makes this moot fails a test.
  const revocationKeyClass = sig.revocationKeyClass;
  sig.revocationKeyClass = null;
  try {
    // A null date skips openpgp.js's time checks, which would otherwise be indistinguishable
    // from a bad signature.
    await sig.verify(signer, type, data, null as unknown as Date, false, VERIFY_CONFIG);
    return true;
  } catch {
    return false;
  } finally {
    sig.revocationKeyClass = revocationKeyClass;
  }
}

/**
 * Signatures by claimed creation time, newest first, without those claiming a time beyond `now`
 * (plus clock skew). The claimed time is only an order to try them in: it is part of the signed
 * data, so a signature that does not verify says nothing, and must not displace one that does.
 */
function newestFirst(sigs: SignaturePacket[], now: Date): SignaturePacket[] {
  const horizon = now.getTime() + CLOCK_SKEW_MS;
  return sigs
    .filter((s) => s.created !== null && s.created.getTime() <= horizon)
    .sort((a, b) => b.created!.getTime() - a.created!.getTime());
}

function signatureExpired(sig: SignaturePacket, now: Date): boolean {
  return !!sig.signatureExpirationTime && sig.created!.getTime() + sig.signatureExpirationTime * 1000 <= now.getTime();
}

/**
 * The newest `limit` signatures that verify. Every candidate is tried until the cap is reached, so
 * any number of newer invalid signatures cannot hide a valid one (K2); how many candidates there
 * can be at all is bounded by the packet limits checked before parsing.
 */
async function newestValid(
  sigs: SignaturePacket[],
  signer: KeyPacket,
  type: enums.signature,
  data: object,
  now: Date,
  limit: number,
): Promise<SignaturePacket[]> {
  const valid: SignaturePacket[] = [];
  for (const sig of newestFirst(sigs, now)) {
    if (valid.length >= limit) break;
    if (await verifies(sig, signer, type, data)) valid.push(sig);
  }
  return valid;
}

/**
 * The authoritative self-signature: the newest one that verifies (§5.2.3.10: a newer
 * self-signature supersedes older ones). If that one has itself expired, the component has.
 */
async function newestSelfSignature(
  sigs: SignaturePacket[],
  signer: KeyPacket,
  type: enums.signature,
  data: object,
  now: Date,
): Promise<{ sig: SignaturePacket; expired: boolean } | undefined> {
  const [sig] = await newestValid(sigs, signer, type, data, now, 1);
  return sig ? { sig, expired: signatureExpired(sig, now) } : undefined;
}

/** Revocations by the primary key that verify. Issuers other than the primary fail verify(). */
function validRevocations(sigs: SignaturePacket[], signer: KeyPacket, type: enums.signature, data: object, now: Date): Promise<SignaturePacket[]> {
  return newestValid(sigs, signer, type, data, now, MAX_REVOCATIONS);
}

/** Self-signatures kept per component in the stored certificate; older ones are superseded. */
const MAX_SELF_SIGNATURES = 16;

/**
 * Rewrites `key` to the material that verifies: per component, the newest valid self-signatures
 * and revocations (caps count valid ones only), no third-party certifications, no components
 * without a valid binding. This is what the certificate store merges; nothing is chosen yet.
 */
async function keepVerifiedMaterial(key: Key, now: Date): Promise<void> {
  const primary = key.keyPacket;
  const keyData = { key: primary };
  const direct = key as Key & DirectSignatures;
  key.revocationSignatures = await validRevocations(key.revocationSignatures, primary, enums.signature.keyRevocation, keyData, now);
  direct.directSignatures = await newestValid(
    direct.directSignatures.filter((s) => s.signatureType === enums.signature.key),
    primary,
    enums.signature.key,
    keyData,
    now,
    MAX_SELF_SIGNATURES,
  );
  const users: User[] = [];
  for (const user of key.users) {
    if (!user.userID) continue;
    const data = { userID: user.userID, key: primary };
    user.selfCertifications = await newestValid(user.selfCertifications, primary, enums.signature.certGeneric, data, now, MAX_SELF_SIGNATURES);
    user.revocationSignatures = await validRevocations(user.revocationSignatures, primary, enums.signature.certRevocation, data, now);
    user.otherCertifications = [];
    if (user.selfCertifications.length) users.push(user);
  }
  key.users = users;
  const subkeys: Subkey[] = [];
  for (const subkey of key.subkeys) {
    const data = { key: primary, bind: subkey.keyPacket };
    const bindings: SignaturePacket[] = [];
    for (const sig of await newestValid(subkey.bindingSignatures, primary, enums.signature.subkeyBinding, data, now, MAX_SELF_SIGNATURES)) {
      if (await backSignatureHolds(sig, subkey.keyPacket, data)) bindings.push(sig);
    }
    subkey.bindingSignatures = bindings;
    subkey.revocationSignatures = await validRevocations(subkey.revocationSignatures, primary, enums.signature.subkeyRevocation, data, now);
    if (bindings.length) subkeys.push(subkey);
  }
  key.subkeys = subkeys;
  const all = [...key.revocationSignatures, ...direct.directSignatures];
  for (const user of key.users) all.push(...user.selfCertifications, ...user.revocationSignatures);
  for (const subkey of key.subkeys) all.push(...subkey.bindingSignatures, ...subkey.revocationSignatures);
  all.forEach(stripUnhashedSubpackets);
}

/** The verified material with only the user IDs whose address passes `keep`. */
function certificateBytes(key: Key, keep: (address: string) => boolean): Uint8Array {
  const users = key.users;
  key.users = users.filter((u) => {
    const address = u.userID ? addressOfUserId(u.userID.userID) : undefined;
    return address !== undefined && keep(address);
  });
  try {
    return key.write();
  } finally {
    key.users = users;
  }
}

/** Key flags that make a subkey issue signatures (RFC 9580 §5.2.3.29: certify 0x01, sign 0x02). */
const SIGNING_FLAGS = enums.keyFlags.certifyKeys | enums.keyFlags.signData;

/**
 * RFC 4880 §5.2.1 / RFC 9580 §5.2.3.34: the binding of a subkey that can sign must carry an
 * embedded Primary Key Binding signature (0x19) made by the subkey itself, or anyone could
 * attach someone else's signing key to their own certificate (K4). Bindings for other uses pass.
 */
async function backSignatureHolds(binding: SignaturePacket, subkey: Subkey['keyPacket'], data: object): Promise<boolean> {
  const flags = binding.keyFlags?.[0] ?? 0;
  if ((flags & SIGNING_FLAGS) === 0) return true;
  const back = binding.embeddedSignature;
  if (!back || back.signatureType !== enums.signature.keyBinding) return false;
  return verifies(back, subkey as unknown as KeyPacket, enums.signature.keyBinding, data);
}

/** §5.2.3.13: key expiration is seconds after the key's creation; 0 or absent means never. */
export function keyExpiry(packet: { created: Date }, sig: SignaturePacket): Date | null {
  return sig.keyExpirationTime ? new Date(packet.created.getTime() + sig.keyExpirationTime * 1000) : null;
}

interface UserBinding {
  user: User;
  sig: SignaturePacket;
  userId: string;
  address: string | undefined;
}

interface SubkeyBinding {
  subkey: Subkey;
  sig: SignaturePacket;
  revocations: SignaturePacket[];
}

async function bindUsers(key: Key, now: Date): Promise<{ bindings: UserBinding[]; expiredOnly: boolean }> {
  const primary = key.keyPacket;
  const bindings: UserBinding[] = [];
  let expiredOnly = false;
  for (const user of key.users) {
    if (!user.userID) continue;
    const data = { userID: user.userID, key: primary };
    const self = await newestSelfSignature(user.selfCertifications, primary, enums.signature.certGeneric, data, now);
    if (!self) continue;
    if (self.expired) {
      expiredOnly = true;
      continue;
    }
    // A user ID revocation newer than the binding withdraws the user ID (§5.2.1.14).
    const revocations = await validRevocations(user.revocationSignatures, primary, enums.signature.certRevocation, data, now);
    if (revocations.some((r) => r.created!.getTime() >= self.sig.created!.getTime())) continue;
    bindings.push({ user, sig: self.sig, userId: user.userID.userID, address: addressOfUserId(user.userID.userID) });
  }
  return { bindings, expiredOnly: expiredOnly && bindings.length === 0 };
}

async function bindSubkeys(key: Key, now: Date): Promise<SubkeyBinding[]> {
  const primary = key.keyPacket;
  const bound: SubkeyBinding[] = [];
  for (const subkey of key.subkeys) {
    const data = { key: primary, bind: subkey.keyPacket };
    const binding = await newestSelfSignature(subkey.bindingSignatures, primary, enums.signature.subkeyBinding, data, now);
    // A subkey without a current binding signature is not part of the key (§10.1); drop it.
    if (!binding || binding.expired) continue;
    if (!(await backSignatureHolds(binding.sig, subkey.keyPacket, data))) continue;
    const revocations = await validRevocations(subkey.revocationSignatures, primary, enums.signature.subkeyRevocation, data, now);
    bound.push({ subkey, sig: binding.sig, revocations });
  }
  return bound;
}

/** Judges a parsed key at `now`; on success the key object is rewritten to its stripped form. */
export async function evaluateKey(key: Key, now: Date, isServedAddress?: (address: string) => boolean): Promise<Verdict> {
  const primary = key.keyPacket;
  const fail = (status: 'invalid' | 'expired', code: KeyPolicyCode, reason: string): Verdict => ({ status, code, reason });

  // Algorithm strength of the primary key is read from the key packet: no crypto needed.
  const primaryBits = bitsOf(primary);
  if (RSA.has(primary.algorithm) && (primaryBits ?? 0) < MIN_RSA_BITS) {
    return fail('invalid', 'DIR_KEY_WEAK_ALGORITHM', `RSA keys need at least 2048 bits; this one has ${primaryBits}`);
  }

  // Everything below chooses among signatures that verify; openpgp.js caches each verification.
  await keepVerifiedMaterial(key, now);
  const certificate = certificateBytes(key, (address) => !isServedAddress || isServedAddress(address));

  const keyData = { key: primary };
  const keyRevocations = await validRevocations(key.revocationSignatures, primary, enums.signature.keyRevocation, keyData, now);
  const revoked = keyRevocations.length > 0;
  const directCandidates = (key as Key & DirectSignatures).directSignatures.filter((s) => s.signatureType === enums.signature.key);
  const direct = await newestSelfSignature(directCandidates, primary, enums.signature.key, keyData, now);
  const { bindings, expiredOnly } = await bindUsers(key, now);
  const subkeys = await bindSubkeys(key, now);

  // A revoked key is accepted whatever else is wrong with it: the caller withdraws its addresses.
  if (!revoked) {
    if (primary.version === 6 && !direct) {
      return fail('invalid', 'DIR_KEY_NO_SELF_SIGNATURE', 'a version 6 key needs a valid direct-key self-signature (RFC 9580 §10.1.1)');
    }
    if (direct?.expired) return fail('expired', 'DIR_KEY_EXPIRED', 'the direct-key self-signature has expired');
    if (bindings.length === 0) {
      return expiredOnly
        ? fail('expired', 'DIR_KEY_EXPIRED', 'every user ID self-signature has expired')
        : fail('invalid', 'DIR_KEY_NO_SELF_SIGNATURE', 'no user ID carries a valid self-signature by the primary key');
    }
    const weakSubkey = subkeys.find((s) => RSA.has(s.subkey.keyPacket.algorithm) && (bitsOf(s.subkey.keyPacket) ?? 0) < MIN_RSA_BITS);
    if (weakSubkey) {
      return fail('invalid', 'DIR_KEY_WEAK_ALGORITHM', `RSA subkeys need at least 2048 bits; one has ${bitsOf(weakSubkey.subkey.keyPacket)}`);
    }
    const usable = [primary.algorithm, ...subkeys.filter((s) => s.revocations.length === 0).map((s) => s.subkey.keyPacket.algorithm)];
    if (usable.every((a) => DSA_ELGAMAL.has(a))) {
      return fail('invalid', 'DIR_KEY_WEAK_ALGORITHM', 'keys made only of DSA/ElGamal are not accepted; use an RSA (≥ 2048), ed25519 or ECC key');
    }
  }

  // Expiry comes from the primary user's self-signature (v4) and the direct-key signature; for
  // v6 keys the direct-key signature alone is authoritative (RFC 9580 §5.2.3.10).
  const primaryBinding = [...bindings].sort(
    (a, b) => Number(!!b.sig.isPrimaryUserID) - Number(!!a.sig.isPrimaryUserID) || b.sig.created!.getTime() - a.sig.created!.getTime(),
  )[0];
  const expiries = [
    primary.version !== 6 && primaryBinding ? keyExpiry(primary, primaryBinding.sig) : null,
    direct ? keyExpiry(primary, direct.sig) : null,
  ].filter((d): d is Date => d !== null);
  const expiresAt = expiries.length ? new Date(Math.min(...expiries.map((d) => d.getTime()))) : null;
  if (!revoked && expiresAt && expiresAt.getTime() <= now.getTime()) {
    return fail('expired', 'DIR_KEY_EXPIRED', `the key expired on ${expiresAt.toISOString()}`);
  }

  // One user ID per address (the newest binding wins), only addresses the caller serves.
  const byAddress = new Map<string, UserBinding>();
  for (const binding of bindings) {
    if (!binding.address || (isServedAddress && !isServedAddress(binding.address))) continue;
    const previous = byAddress.get(binding.address);
    if (!previous || binding.sig.created!.getTime() > previous.sig.created!.getTime()) byAddress.set(binding.address, binding);
  }
  const kept = bindings.filter((b) => b.address && byAddress.get(b.address) === b);

  // Rewrite the key to its stripped form: no third-party certifications, no user attributes (the
  // scan already dropped them), one authoritative self-signature per component, bounded
  // revocations, no unhashed subpackets beyond the self-authenticating ones.
  const keptSignatures: SignaturePacket[] = [];
  key.revocationSignatures = revoked ? keyRevocations : [];
  (key as Key & DirectSignatures).directSignatures = direct && !direct.expired ? [direct.sig] : [];
  key.users = kept.map(({ user, sig }) => {
    user.selfCertifications = [sig];
    user.otherCertifications = [];
    user.revocationSignatures = [];
    return user;
  });
  key.subkeys = subkeys.map(({ subkey, sig, revocations }) => {
    subkey.bindingSignatures = [sig];
    subkey.revocationSignatures = revocations;
    return subkey;
  });
  keptSignatures.push(...key.revocationSignatures, ...(key as Key & DirectSignatures).directSignatures);
  for (const user of key.users) keptSignatures.push(...user.selfCertifications);
  for (const subkey of key.subkeys) keptSignatures.push(...subkey.bindingSignatures, ...subkey.revocationSignatures);
  keptSignatures.forEach(stripUnhashedSubpackets);

  const checked: CheckedKey = {
    fingerprint: key.getFingerprint().toUpperCase(),
    keyIds: [key.getKeyID(), ...key.subkeys.map((s) => s.getKeyID())].map((id) => id.toHex().toUpperCase()),
    algorithm: enums.read(enums.publicKey, primary.algorithm) ?? String(primary.algorithm),
    bits: primaryBits,
    createdAt: primary.created,
    expiresAt,
    addresses: kept.map((b) => ({ address: b.address!, userId: b.userId })),
    stripped: key.write(),
    certificate,
  };
  return { status: revoked ? 'revoked' : 'valid', key: checked };
}

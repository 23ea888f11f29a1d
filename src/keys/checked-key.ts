// The key policy's result types and rejection codes, apart from the code that produces them, so
// the policy (key-policy.ts), the signature rules (key-signatures.ts) and the cutting of served
// keys (minimal-key.ts) depend on this module instead of on each other.

/** Stable codes of every rejection; callers and clients match on these. */
export const KEY_POLICY_CODES = [
  'DIR_KEY_UNPARSABLE',
  'DIR_KEY_SECRET',
  'DIR_KEY_NO_SELF_SIGNATURE',
  'DIR_KEY_EXPIRED',
  'DIR_KEY_WEAK_ALGORITHM',
  'DIR_KEY_TOO_LARGE',
  'DIR_KEY_PACKET_TOO_LARGE',
  'DIR_KEY_TOO_MANY_USER_IDS',
  'DIR_KEY_TOO_MANY_SUBKEYS',
  'DIR_KEY_MULTIPLE',
  'DIR_KEY_ADDRESS_NOT_IN_KEY',
] as const;
export type KeyPolicyCode = (typeof KEY_POLICY_CODES)[number];

export interface CheckedAddress {
  /** Canonical address: local part lowercased, domain as lowercase A-labels. */
  address: string;
  /** The user ID exactly as it appears in the key. */
  userId: string;
}

export interface CheckedKey {
  /** Primary key fingerprint, uppercase hex (40 for v4, 64 for v6). */
  fingerprint: string;
  /** Primary key ID, then every subkey's, 16 uppercase hex each. */
  keyIds: string[];
  /** openpgp.js algorithm name of the primary key (rsaEncryptSign, eddsaLegacy, ed25519, ...). */
  algorithm: string;
  /** Modulus or curve size; null when the algorithm has none we know. */
  bits: number | null;
  createdAt: Date;
  expiresAt: Date | null;
  /** User IDs with a valid self-signature and a parsable address (served ones, when filtered). */
  addresses: CheckedAddress[];
  /**
   * Binary transferable public key after stripping: one authoritative self-signature per
   * component, valid revocations, only (served) user IDs. What the served forms are cut from.
   */
  stripped: Uint8Array;
  /**
   * Every component and signature that verifies (within the caps), with the same user IDs as
   * `stripped` plus revoked ones: what the certificate store merges (src/keys/).
   */
  certificate: Uint8Array;
}

export type KeyCheck =
  | { status: 'valid'; key: CheckedKey }
  | { status: 'revoked'; key: CheckedKey }
  | { status: 'invalid' | 'expired'; code: KeyPolicyCode; reason: string };

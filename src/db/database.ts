// Table types: the schema as kysely sees it. Each interface mirrors a migration in migrations/.
// Rows are mapped to domain types in the repository modules, never passed around raw.
import type { ColumnType, Generated, Kysely, Transaction } from 'kysely';
import type { Requirement } from '../protocol/requirement.js';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T> = ColumnType<T, string, string>;

/** Per-zone DNS settings that the DNS server reads; see src/dns/. */
export interface ZoneDnsSettings {
  /** NS host names; the first is the SOA MNAME. */
  nameservers: { name: string; ipv4?: string[]; ipv6?: string[] }[];
  /** SOA RNAME as a mailbox (hostmaster@example.org). */
  hostmaster?: string;
  soa?: { refresh: number; retry: number; expire: number; minimum: number; ttl: number };
  /** Addresses for `openpgpkey.<zone>` (WKD advanced method). */
  openpgpkeyAddresses?: string[];
  /** Secondaries allowed to AXFR and sent NOTIFY. */
  secondaries?: { address: string; port?: number; tsigKey?: string }[];
  /** TSIG keys by name: algorithm hmac-sha256, secret base64. */
  tsigKeys?: Record<string, string>;
}

export interface DomainsTable {
  /** Lowercased zone apex without trailing dot. */
  name: string;
  /** SOA serial; bumped in the same transaction as any change to what DNS publishes. */
  serial: ColumnType<string, string | number | bigint, string | number | bigint>;
  pow_bits: number | null;
  endpoint: string | null;
  next_hop: string | null;
  api_url: string | null;
  /** What protection mail must carry (src/protocol/requirement.ts); null = none. */
  requirement: Requirement | null;
  owner_token_hash: Buffer;
  dns: Json<ZoneDnsSettings>;
  /** Whether the zone keeps a key transparency log (src/transparency/); default true. */
  transparency: Generated<boolean>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface KeysTable {
  /** Primary key fingerprint, 40 (v4) or 64 (v6) uppercase hex. */
  fingerprint: string;
  /** Primary key id and every subkey id, 16 uppercase hex each, for VKS/HKP by-keyid. */
  key_ids: string[];
  /** The stripped key (binary), without any user IDs that are not verified addresses. */
  key_data: Buffer;
  algorithm: string;
  bits: number | null;
  created_at: Timestamp;
  expires_at: Timestamp | null;
  revoked: Generated<boolean>;
  uploaded_at: Generated<Date>;
}

/** The certificate store (src/keys/): everything ever accepted of one key, merged. */
export interface CertificatesTable {
  /** Primary key fingerprint, as in keys.fingerprint. */
  fingerprint: string;
  /** Binary transferable public key: every component and signature that verified, merged. */
  data: Buffer;
  updated_at: Generated<Date>;
}

export type AddressStatus = 'published' | 'withdrawn';

export interface AddressesTable {
  /** Full lowercased address, local@domain. */
  address: string;
  domain: string;
  local_part: string;
  fingerprint: string;
  /** The minimal key for this address: primary, this user ID + self-signature, valid subkeys. */
  minimal_key: Buffer;
  /** The user ID string as it appears in the key. */
  user_id: string;
  status: AddressStatus;
  /** How the address was published: by the domain owner or by the address holder. */
  source: 'owner' | 'self' | 'import';
  endpoint: string | null;
  next_hop: string | null;
  pow_bits: number | null;
  /** The address's own requirement; null = the zone's (src/protocol/precedence.ts). */
  requirement: Requirement | null;
  published_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export type VerificationPurpose = 'publish' | 'delete';

/** A mailed one-time link; see migrations/2026_11_27_000200_create_verification_tokens.ts. */
export interface VerificationTokensTable {
  /** SHA-256 of the token; the token itself only ever exists in the mail. */
  token_hash: Buffer;
  purpose: VerificationPurpose;
  address: string;
  fingerprint: string;
  /** For 'publish': the stripped key to publish on confirmation. */
  key_data: Buffer | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: Timestamp | null;
  /** The client address that asked for the mail (mail budgets); null for rows from before it was kept. */
  client_address: ColumnType<string | null, string | null | undefined, string | null>;
}

/** A key submitted by its holder (VKS upload, HKP add), waiting for address verification. */
export interface KeyUploadsTable {
  token_hash: Buffer;
  fingerprint: string;
  key_data: Buffer;
  created_at: Timestamp;
  expires_at: Timestamp;
}

/** A message in the gateway's durable queue (see src/gateway/queue-store.ts). */
export interface MailQueueTable {
  id: string;
  kind: 'inbound' | 'submission' | 'dsn';
  /** Envelope reverse-path; '' is the null sender. */
  sender: string;
  trace_headers: string;
  body: Buffer;
  size: number;
  client_address: string | null;
  client_helo: string | null;
  auth_user: string | null;
  received_at: Generated<Date>;
  /** MAIL FROM carried BODY=8BITMIME (RFC 6152). */
  body_8bitmime: Generated<boolean>;
  /** MAIL FROM carried SMTPUTF8 (RFC 6531). */
  smtputf8: Generated<boolean>;
  /** RET= of MAIL FROM (RFC 3461 §4.3): 'FULL' or 'HDRS'; null when not given. */
  dsn_ret: 'FULL' | 'HDRS' | null;
  /** ENVID= of MAIL FROM (RFC 3461 §4.4), decoded from xtext. */
  dsn_envid: string | null;
  /** The one delay warning (RFC 3464 action "delayed") has been queued for this message. */
  delay_warned: Generated<boolean>;
  /**
   * Set for a message over one block: the id of the block directory holding its body after the
   * header section (src/gateway/block-store.ts); `body` then holds only the header section.
   */
  blocks_dir: string | null;
}

/** One block file of a large queued message: its length and SHA-256, checked when it is read. */
export interface MailQueueBlocksTable {
  message_id: string;
  seq: number;
  bytes: number;
  sha256: Buffer;
}

/** A recipient of a queued message that is still to be delivered. */
export interface MailQueueRecipientsTable {
  message_id: string;
  recipient: string;
  next_hop: string;
  attempts: Generated<number>;
  /** When the row is next due; while claimed, the end of the claim's lease. */
  next_attempt_at: Timestamp;
  lease_owner: string | null;
  last_attempt_at: Timestamp | null;
  last_error: string | null;
  mint_bits: number | null;
  stamp: string | null;
  /** NOTIFY= of RCPT TO (RFC 3461 §4.1), e.g. 'SUCCESS,FAILURE' or 'NEVER'; null when not given. */
  dsn_notify: string | null;
  /** ORCPT= of RCPT TO (RFC 3461 §4.2), "addr-type;address" decoded from xtext. */
  dsn_orcpt: string | null;
}

/** A hashcash stamp accepted once; kept until the stamp would be refused as expired anyway. */
export interface SpentStampsTable {
  /** SHA-1 of the exact stamp text (20 bytes). */
  stamp_sha1: Buffer;
  expires_at: Timestamp;
  spent_at: Generated<Date>;
  /** The queued message that spent it (gateway only), to recognise a resent copy of it. */
  message_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** SHA-256 over that message's envelope and content (see src/gateway/acceptor.ts). */
  message_digest: ColumnType<Buffer | null, Buffer | null | undefined, Buffer | null>;
}

/** A zone's DNSSEC signing key (src/dns/dnssec/key-store.ts). */
export interface DnssecKeysTable {
  id: Generated<string>;
  domain: string;
  algorithm: number;
  flags: number;
  key_tag: number;
  public_key: Buffer;
  /** PKCS #8 DER sealed under KEYPOST_SECRET_KEY_FILE; never usable from a dump alone. */
  private_key_sealed: Buffer;
  created_at: Generated<Date>;
  /** Where the key is in a rollover (src/dns/dnssec/key-states.ts). */
  state: ColumnType<DnssecKeyState, DnssecKeyState | undefined, DnssecKeyState>;
  state_since: ColumnType<Date, Date | undefined, Date>;
  /** A retired key: when the owner said the parent's DS no longer names it. */
  parent_ds_replaced_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

/** RFC 7583 §3.1 key states, as keypost's CSK rollovers use them (src/dns/dnssec/key-states.ts). */
export type DnssecKeyState = 'introduced' | 'published' | 'active' | 'retired' | 'withdrawn';

/** A running `keypost serve` and the addresses it bound (src/serve-registry.ts). */
export interface ServeNodesTable {
  id: string;
  hostname: string;
  pid: number;
  listeners: ColumnType<Record<string, string>, string, string>;
  started_at: Generated<Date>;
  seen_at: Generated<Date>;
}

/** A zone's transparency log head; see migrations/2026_12_02_160000_create_transparency_log.ts. */
export interface LogHeadsTable {
  zone: string;
  /** Leaves appended so far. */
  size: ColumnType<string, string | number | bigint | undefined, string | number | bigint>;
  /** Ed25519 public key (32 octets) and its sealed private half; null until the first head is signed. */
  public_key: Buffer | null;
  private_key_sealed: Buffer | null;
  /** The latest signed tree head. */
  sth_size: ColumnType<string | null, string | number | bigint | null | undefined, string | number | bigint | null>;
  sth_root: Buffer | null;
  /** Milliseconds since the epoch. */
  sth_time: ColumnType<string | null, string | number | bigint | null | undefined, string | number | bigint | null>;
  sth_signature: Buffer | null;
  /** The tree size (u64) and its right edge's subtree hashes, largest first (log-store.ts); null on older heads. */
  frontier: Buffer | null;
}

/** One leaf of a zone's log (src/transparency/leaf.ts). */
export interface LogLeavesTable {
  zone: string;
  idx: ColumnType<string, string | number | bigint, string | number | bigint>;
  /** The address's 28-octet label, to find its leaves. */
  label: Buffer;
  leaf: Buffer;
  leaf_hash: Buffer;
}

/** The hash of a complete subtree of 2^level leaves (level ≥ 1) from idx × 2^level; level 0 is log_leaves.leaf_hash. */
export interface LogNodesTable {
  zone: string;
  level: number;
  idx: ColumnType<string, string | number | bigint, string | number | bigint>;
  hash: Buffer;
}

/** A mailing list (src/lists/): a published address whose secret key is sealed here. */
export interface ListsTable {
  address: string;
  domain: string;
  /** Where the list's bounces and notices go; null sends them nowhere. */
  owner: string | null;
  fingerprint: string;
  /** The list's OpenPGP secret key (binary), sealed under KEYPOST_SECRET_KEY_FILE (src/secrets/). */
  secret_key_sealed: Buffer;
  /** Posts must be signed by a member's key. */
  members_only: Generated<boolean>;
  /** Posts must be encrypted to the list key. */
  encrypted_only: Generated<boolean>;
  created_at: Generated<Date>;
}

export interface ListMembersTable {
  list_address: string;
  member: string;
  /** 'dns': found and re-checked through DNS; 'owner': given by the list owner. */
  key_source: 'dns' | 'owner';
  key_data: Buffer;
  fingerprint: string;
  status: Generated<'active' | 'paused'>;
  paused_reason: string | null;
  checked_at: Generated<Date>;
  added_at: Generated<Date>;
}

/** A member's copy of a post, recorded in the transaction that queues it. */
export interface ListFanoutTable {
  post_id: string;
  list_address: string;
  member: string;
  message_id: string;
}

export interface Database {
  domains: DomainsTable;
  dnssec_keys: DnssecKeysTable;
  keys: KeysTable;
  certificates: CertificatesTable;
  addresses: AddressesTable;
  verification_tokens: VerificationTokensTable;
  key_uploads: KeyUploadsTable;
  mail_queue: MailQueueTable;
  mail_queue_recipients: MailQueueRecipientsTable;
  mail_queue_blocks: MailQueueBlocksTable;
  spent_stamps: SpentStampsTable;
  serve_nodes: ServeNodesTable;
  log_heads: LogHeadsTable;
  log_leaves: LogLeavesTable;
  log_nodes: LogNodesTable;
  lists: ListsTable;
  list_members: ListMembersTable;
  list_fanout: ListFanoutTable;
}

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;

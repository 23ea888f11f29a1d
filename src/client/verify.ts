// Checking who signed a message, knowing nothing but the message: every OpenPGP signature in it
// (PGP/MIME multipart/signed, RFC 3156 §5; inline cleartext-signed and signed blocks, RFC 4880
// §7; those inside forwarded message/rfc822 parts and inline-forwarded text) is tied to an address
// (the signature's Signer's User ID, else the From of the message it belongs to), that address's
// key is found through DNS with the same checks as `keypost lookup`, and the signature is checked
// against that key. A recipient of a forward can so check the original sender, not the forwarder.
import {
  createMessage,
  readCleartextMessage,
  readKey,
  readMessage,
  readSignature,
  verify,
  enums,
  type CleartextMessage,
  type KeyID,
  type Message,
  type PublicKey,
  type SignaturePacket,
} from 'openpgp';
import { KeypostError } from '../errors.js';
import { PARSE_CONFIG } from '../keys/key-signatures.js';
import { decodeBody } from '../mime/transfer-encoding.js';
import { fieldValue, parseEntity, type MimeEntity } from '../mime/entity.js';
import { parseAddress } from '../protocol/address.js';
import { CLIENT_CODES } from './errors.js';
import { lookupAddress, type LookupResult } from './lookup.js';
import { createStubResolver, type DnsServer, type StubResolver } from './stub-resolver.js';

export type SignatureStatus =
  /** The signature is valid, made by the key DNS publishes for the signer, which passed every check. */
  | 'good'
  /** The signature does not match the signed data (tampered, or made over something else). */
  | 'bad-signature'
  /** Nothing usable is published for the signer's address. */
  | 'unknown-signer'
  /** The signature was made by a key other than the one published for the signer's address. */
  | 'key-mismatch'
  /** The signature is good for its signer, but the message's From names someone else. */
  | 'from-mismatch'
  /** The signature matches the published key, but that key failed a lookup check. */
  | 'key-unverified';

export type SignatureForm = 'pgp-mime' | 'inline-cleartext' | 'inline-signed';

export interface SignatureFinding {
  form: SignatureForm;
  /** The MIME part it was found in ("1.2" style; "" is the message itself). */
  part: string;
  /** Inside a forwarded message (message/rfc822, or an inline-forwarded block). */
  forwarded: boolean;
  /** The From address of the message the signature belongs to. */
  from: string | null;
  /** The address whose published key the signature was checked against. */
  signer: string | null;
  /** The signature's issuer key id (16 hex digits), and fingerprint when it names one. */
  issuer: string;
  /** The published key's fingerprint. */
  fingerprint: string | null;
  signedAt: string | null;
  /** DNSSEC status of the signer's lookup (null when it was never looked up). */
  dnssec: LookupResult['dnssec'] | null;
  status: SignatureStatus;
  detail: string;
  /** The signer could not be looked up at all (no DNS server answered): asking later may tell. */
  lookupFailed?: boolean;
}

export interface VerifyReport {
  signatures: SignatureFinding[];
  /** At least one signature, and every one of them good. */
  ok: boolean;
}

export interface VerifyOptions {
  dns?: DnsServer;
  resolver?: StubResolver;
  now?: Date;
  timeoutMs?: number;
  /** Ask each signer's directory API as `keypost lookup` does (default true; see LookupOptions). */
  askDirectory?: boolean;
}

/** One signature to judge: what it claims, and how to check it against a candidate key. */
interface Candidate {
  form: SignatureForm;
  part: string;
  forwarded: boolean;
  from: string | null;
  packet: SignaturePacket;
  check(key: PublicKey): Promise<void>;
}

interface Context {
  part: string;
  forwarded: boolean;
  from: string | null;
}

const hex = (bytes: Uint8Array | null | undefined) => (bytes ? Buffer.from(bytes).toString('hex').toUpperCase() : '');

function addressIn(text: string | undefined): string | null {
  if (!text) return null;
  const angle = /<([^<>\s]+@[^<>\s]+)>/.exec(text);
  const bare = angle?.[1] ?? /[^\s<>"(),;:]+@[^\s<>"(),;:]+/.exec(text)?.[0];
  if (!bare) return null;
  try {
    return parseAddress(bare).address;
  } catch {
    return null;
  }
}

function charsetText(bytes: Buffer, entity: MimeEntity): string {
  const charset = (entity.contentType.params.charset ?? 'us-ascii').toLowerCase();
  return /^(utf-?8|us-ascii|ascii)$/.test(charset) ? bytes.toString('utf8') : bytes.toString('latin1');
}

/** Checks one openpgp verification result for the key's signature; throws with the reason. */
async function expectVerified(results: { keyID: KeyID; verified: Promise<true> }[], key: PublicKey): Promise<void> {
  const ids = key.getKeyIDs();
  const mine = results.filter((r) => ids.some((id) => id.equals(r.keyID)));
  if (!mine.length) throw new Error('no signature by this key');
  await Promise.all(mine.map((r) => r.verified));
}

/** Signatures in a text body: cleartext-signed blocks and signed (not encrypted) messages. */
async function inlineCandidates(text: string, ctx: Context): Promise<Candidate[]> {
  const found: Candidate[] = [];
  const blocks = /-----BEGIN PGP SIGNED MESSAGE-----\r?\n[\s\S]*?-----END PGP SIGNATURE-----|-----BEGIN PGP MESSAGE-----\r?\n[\s\S]*?-----END PGP MESSAGE-----/g;
  for (const match of text.matchAll(blocks)) {
    const block = match[0];
    // An inline forward ("---------- Forwarded message ---------" then From:, Date:, Subject:)
    // names the original sender before the block; that sender, not the forwarder, signed it.
    const before = text.slice(0, match.index);
    const marker = before.search(/-{2,}\s*(Forwarded message|Original Message)\s*-{2,}[^\n]*\n(?![\s\S]*-{2,}\s*(Forwarded message|Original Message))/i);
    let own = ctx;
    if (marker >= 0) {
      const from = /^From:[ \t]*(.*)$/im.exec(before.slice(marker));
      own = { ...ctx, forwarded: true, from: addressIn(from?.[1]) ?? ctx.from };
    }
    try {
      let form: SignatureForm;
      let message: CleartextMessage | Message<string>;
      let packets: SignaturePacket[];
      if (block.startsWith('-----BEGIN PGP SIGNED MESSAGE-----')) {
        form = 'inline-cleartext';
        message = await readCleartextMessage({ cleartextMessage: block });
        // The signature block at the end of the cleartext form is an ordinary armoured signature.
        packets = (await readSignature({ armoredSignature: block.slice(block.indexOf('-----BEGIN PGP SIGNATURE-----')) })).packets;
      } else {
        form = 'inline-signed';
        const signed = await readMessage({ armoredMessage: block });
        // An encrypted block cannot be checked without the recipient's key: it is not ours to judge.
        if (signed.getEncryptionKeyIDs().length) continue;
        message = signed;
        packets = signed.packets.filterByTag(enums.packet.signature) as unknown as SignaturePacket[];
      }
      const check = async (key: PublicKey) => expectVerified((await verify({ message, verificationKeys: key, config: PARSE_CONFIG })).signatures, key);
      for (const packet of packets) found.push({ form, ...own, packet, check });
    } catch {
      // Not a readable OpenPGP block (quoted, truncated): nothing to check.
    }
  }
  return found;
}

async function candidatesIn(entity: MimeEntity, ctx: Context): Promise<Candidate[]> {
  const from = addressIn(fieldValue(entity, 'from')) ?? ctx.from;
  const here = { ...ctx, from };
  const { mediaType, params } = entity.contentType;
  const childPart = (i: number) => (ctx.part ? `${ctx.part}.${i + 1}` : String(i + 1));

  if (mediaType === 'multipart/signed' && params.protocol?.toLowerCase() === 'application/pgp-signature' && entity.children.length === 2) {
    const [signed, signaturePart] = entity.children;
    // With header protection (RFC 9788) the signed part carries the From the signature covers.
    const protectedFrom = 'hp' in signed.contentType.params ? addressIn(fieldValue(signed, 'from')) : null;
    const signatureText = decodeBody(signaturePart.body, fieldValue(signaturePart, 'content-transfer-encoding')).toString('latin1');
    const found: Candidate[] = [];
    try {
      const signature = await readSignature({ armoredSignature: signatureText });
      for (const packet of signature.packets) {
        found.push({
          form: 'pgp-mime',
          ...here,
          from: protectedFrom ?? from,
          packet,
          check: async (key) => {
            // RFC 3156 §5: the signature covers the first part exactly as transmitted.
            const message = await createMessage({ binary: signed.raw });
            await expectVerified((await verify({ message, signature, verificationKeys: key, config: PARSE_CONFIG })).signatures, key);
          },
        });
      }
    } catch {
      // An unreadable signature part carries no signer to report; the signed part is still searched.
    }
    return [...found, ...(await candidatesIn(signed, { ...here, part: childPart(0) }))];
  }
  if (mediaType.startsWith('multipart/')) {
    const all: Candidate[] = [];
    for (const [i, child] of entity.children.entries()) all.push(...(await candidatesIn(child, { ...here, part: childPart(i) })));
    return all;
  }
  if (mediaType === 'message/rfc822' && entity.children[0]) {
    // The forwarded message has its own From; the forwarder's does not apply to it.
    return candidatesIn(entity.children[0], { part: ctx.part ? `${ctx.part}.1` : '1', forwarded: true, from: null });
  }
  if (mediaType.startsWith('text/')) {
    const text = charsetText(decodeBody(entity.body, fieldValue(entity, 'content-transfer-encoding')), entity);
    return inlineCandidates(text, here);
  }
  return [];
}

export async function verifyMessage(raw: Buffer, options: VerifyOptions = {}): Promise<VerifyReport> {
  const now = options.now ?? new Date();
  const resolver = options.resolver ?? createStubResolver({ servers: options.dns ? [options.dns] : undefined, timeoutMs: options.timeoutMs });
  const candidates = await candidatesIn(parseEntity(raw), { part: '', forwarded: false, from: null });
  const lookups = new Map<string, Promise<LookupResult>>();
  const lookup = (address: string) => {
    if (!lookups.has(address)) lookups.set(address, lookupAddress(address, { resolver, now, timeoutMs: options.timeoutMs, askDirectory: options.askDirectory }));
    return lookups.get(address)!;
  };
  const signatures: SignatureFinding[] = [];
  for (const candidate of candidates) signatures.push(await judge(candidate, lookup));
  return { signatures, ok: signatures.length > 0 && signatures.every((s) => s.status === 'good') };
}

async function judge(candidate: Candidate, lookup: (address: string) => Promise<LookupResult>): Promise<SignatureFinding> {
  const { packet } = candidate;
  const issuer = packet.issuerFingerprint ? hex(packet.issuerFingerprint) : packet.issuerKeyID.toHex().toUpperCase();
  const claimed = packet.signersUserID ? addressIn(packet.signersUserID) : null;
  const signer = claimed ?? candidate.from;
  const finding: SignatureFinding = {
    form: candidate.form,
    part: candidate.part,
    forwarded: candidate.forwarded,
    from: candidate.from,
    signer,
    issuer,
    fingerprint: null,
    signedAt: packet.created ? packet.created.toISOString() : null,
    dnssec: null,
    status: 'unknown-signer',
    detail: '',
  };
  const done = (status: SignatureStatus, detail: string) => Object.assign(finding, { status, detail });
  if (!signer) return done('unknown-signer', 'the signature names no signer and the message has no From address');

  let found: LookupResult;
  try {
    found = await lookup(signer);
  } catch (err) {
    if (err instanceof KeypostError && err.code === CLIENT_CODES.dnsFailed) {
      finding.lookupFailed = true;
      return done('unknown-signer', `looking ${signer} up failed: ${err.message}`);
    }
    throw err;
  }
  finding.fingerprint = found.fingerprint;
  finding.dnssec = found.dnssec;
  if (!found.published || !found.keyBytes) return done('unknown-signer', found.problem ?? `no key is published for ${signer}`);

  let key: PublicKey;
  try {
    key = await readKey({ binaryKey: found.keyBytes, config: PARSE_CONFIG });
  } catch {
    return done('unknown-signer', `the key published for ${signer} is not readable`);
  }
  const issuerId = packet.issuerKeyID.toHex().toUpperCase();
  if (!key.getKeyIDs().some((id) => id.toHex().toUpperCase() === issuerId)) {
    return done('key-mismatch', `signed by key ${issuer}, but the key published for ${signer} is ${found.fingerprint}`);
  }
  try {
    await candidate.check(key);
  } catch (err) {
    return done('bad-signature', `the signature by ${found.fingerprint} does not match the signed data: ${(err as Error).message}`);
  }
  if (candidate.from && candidate.from !== signer) {
    return done('from-mismatch', `signed by ${signer}'s key, but the message is From ${candidate.from}`);
  }
  if (!found.verified) {
    const failed = found.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`);
    return done('key-unverified', `the key published for ${signer} failed a check (${failed.join('; ') || 'a required check did not pass'})`);
  }
  return done('good', `found via DNS (verified)`);
}

// Reading a post to a list: who sent it (the From address), whether it was encrypted to the list
// key, what its content is once decrypted, and whether its OpenPGP signature verifies against the
// sender's key. Signatures are found in the two forms RFC 3156 defines for signed and encrypted
// mail: signed and encrypted in one OpenPGP message (§6.2, what gpg --sign --encrypt and
// `keypost send --sign --encrypt` write), and a multipart/signed inside the encrypted part (§6.1);
// a post in the clear may be multipart/signed (§5).
import { createMessage, decrypt, readKey, readMessage, readSignature, verify, type PrivateKey, type PublicKey } from 'openpgp';
import { PARSE_CONFIG } from '../keys/key-signatures.js';
import { isEncryptedContent } from '../mime/encrypted-content.js';
import { fieldValue, parseEntity, type MimeEntity } from '../mime/entity.js';
import { decodeBody } from '../mime/transfer-encoding.js';
import { parseAddress } from '../protocol/address.js';

export type SignatureStatus =
  /** Made by the sender's key over exactly this content. */
  | 'good'
  /** Made by the sender's key, but it does not match the content. */
  | 'bad'
  /** Made by a key other than the sender's (or the sender has no key the list could use). */
  | 'unknown-key'
  | 'unsigned';

export interface SignatureReport {
  status: SignatureStatus;
  /** The address the signature was checked for (the post's From). */
  signer: string | null;
  /** The sender key's fingerprint, when the list had one. */
  fingerprint: string | null;
  detail: string;
}

export interface PostHeaders {
  from: string | null;
  /** The header fields as written, for the report members see. */
  fromField: string | null;
  subject: string | null;
  date: string | null;
}

export interface ReadPost {
  headers: PostHeaders;
  encrypted: boolean;
  /** The MIME entity the members get: the decrypted (or clear) content, without its signature wrapper. */
  content: Buffer;
  signature: SignatureReport;
}

export interface SenderKey {
  keyData: Uint8Array;
  fingerprint: string;
}

export class UndecryptablePost extends Error {
  readonly code = 'LIST_POST_UNDECRYPTABLE';
}

/** The address in a From field: "Name <a@b>" or a bare a@b; null when there is none. */
export function addressInField(text: string | undefined): string | null {
  if (!text) return null;
  const bare = /<([^<>\s]+@[^<>\s]+)>/.exec(text)?.[1] ?? /[^\s<>"(),;:]+@[^\s<>"(),;:]+/.exec(text)?.[0];
  if (!bare) return null;
  try {
    return parseAddress(bare).address;
  } catch {
    return null;
  }
}

export function postHeaders(raw: Buffer): PostHeaders {
  const root = parseEntity(raw);
  const fromField = fieldValue(root, 'from') ?? null;
  return { from: addressInField(fromField ?? undefined), fromField, subject: fieldValue(root, 'subject') ?? null, date: fieldValue(root, 'date') ?? null };
}

const decodedText = (entity: MimeEntity) => decodeBody(entity.body, fieldValue(entity, 'content-transfer-encoding')).toString('latin1').trim();

/** The armoured OpenPGP message of an encrypted post (isEncryptedContent's three forms). */
function encryptedPart(root: MimeEntity): string {
  if (root.contentType.mediaType === 'multipart/signed') return encryptedPart(root.children[0]);
  if (root.contentType.mediaType === 'multipart/encrypted') return decodedText(root.children[1]);
  return decodedText(root);
}

/** The content entity of a message in the clear: its Content-* fields and its body. */
function contentEntity(entity: MimeEntity): Buffer {
  const head = entity.raw.subarray(0, entity.raw.length - entity.body.length).toString('latin1');
  // Header fields with their folded continuation lines, as written (RFC 5322 §2.2.3).
  const fields = head.split(/\r\n(?![ \t])/).filter((f) => /^content-/i.test(f));
  if (!fields.length) fields.push('Content-Type: text/plain; charset=us-ascii');
  return Buffer.concat([Buffer.from(`${fields.join('\r\n')}\r\n\r\n`, 'latin1'), entity.body]);
}

const keyIdsOf = (key: PublicKey) => key.getKeyIDs().map((id) => id.toHex());

/** A detached signature over the first part of a multipart/signed (RFC 3156 §5). */
async function checkMultipartSigned(signed: MimeEntity, key: PublicKey | undefined, now: Date): Promise<Omit<SignatureReport, 'signer' | 'fingerprint'>> {
  const [part, signaturePart] = signed.children;
  let signature;
  try {
    signature = await readSignature({ armoredSignature: decodedText(signaturePart), config: PARSE_CONFIG });
  } catch {
    return { status: 'bad', detail: 'the signature part is not a readable OpenPGP signature' };
  }
  if (!key) return { status: 'unknown-key', detail: 'signed, but the list has no key for the sender' };
  const ids = keyIdsOf(key);
  if (!signature.packets.some((p) => ids.includes(p.issuerKeyID.toHex()))) return { status: 'unknown-key', detail: 'signed by a key other than the sender\'s' };
  const result = await verify({ message: await createMessage({ binary: part.raw }), signature, verificationKeys: key, date: now, config: PARSE_CONFIG });
  try {
    await Promise.all(result.signatures.filter((s) => ids.includes(s.keyID.toHex())).map((s) => s.verified));
    return { status: 'good', detail: 'a PGP/MIME signature by the sender\'s key' };
  } catch (err) {
    return { status: 'bad', detail: `the signature does not match the content: ${(err as Error).message}` };
  }
}

/**
 * Decrypts (when encrypted) and checks the signature against `senderKey` (the member's key, or,
 * on an open list, the key DNS publishes for the sender). Throws UndecryptablePost when the post is
 * encrypted but not to the list key.
 */
export async function readPost(raw: Buffer, listKey: PrivateKey, senderKey: SenderKey | undefined, now: Date): Promise<ReadPost> {
  const root = parseEntity(raw);
  const headers = postHeaders(raw);
  const key = senderKey ? await readKey({ binaryKey: senderKey.keyData, config: PARSE_CONFIG }) : undefined;
  const report = (r: Omit<SignatureReport, 'signer' | 'fingerprint'>): SignatureReport => ({ ...r, signer: headers.from, fingerprint: senderKey?.fingerprint ?? null });
  const encrypted = await isEncryptedContent(root);

  let content: Buffer;
  let combined: Omit<SignatureReport, 'signer' | 'fingerprint'> | undefined;
  if (encrypted) {
    let decrypted;
    try {
      const message = await readMessage({ armoredMessage: encryptedPart(root), config: PARSE_CONFIG });
      decrypted = await decrypt({ message, decryptionKeys: listKey, verificationKeys: key ? [key] : [], format: 'binary', date: now, config: PARSE_CONFIG });
    } catch (err) {
      throw new UndecryptablePost(`the post is not encrypted to the list key: ${(err as Error).message}`);
    }
    const data = Buffer.from(decrypted.data as Uint8Array);
    // Inline PGP (a text/plain block) decrypts to text; PGP/MIME decrypts to a MIME entity.
    content = root.contentType.mediaType === 'text/plain' ? Buffer.concat([Buffer.from('Content-Type: text/plain; charset=utf-8\r\n\r\n'), data]) : data;
    if (decrypted.signatures.length) {
      const ids = key ? keyIdsOf(key) : [];
      const mine = decrypted.signatures.filter((s) => ids.includes(s.keyID.toHex()));
      if (!key) combined = { status: 'unknown-key', detail: 'signed, but the list has no key for the sender' };
      else if (!mine.length) combined = { status: 'unknown-key', detail: 'signed by a key other than the sender\'s' };
      else {
        try {
          await Promise.all(mine.map((s) => s.verified));
          // Written out in ASCII: the detail goes into the members' US-ASCII report, where a
          // section sign would be shown as '?'.
          combined = { status: 'good', detail: 'signed and encrypted by the sender\'s key (RFC 3156 section 6.2)' };
        } catch (err) {
          combined = { status: 'bad', detail: `the signature does not match the content: ${(err as Error).message}` };
        }
      }
    }
  } else {
    content = contentEntity(root);
  }

  const inner = encrypted ? parseEntity(content) : root;
  const isSigned = inner.contentType.mediaType === 'multipart/signed' && inner.contentType.params.protocol?.toLowerCase() === 'application/pgp-signature' && inner.children.length === 2;
  if (isSigned) {
    const detached = await checkMultipartSigned(inner, key, now);
    // Members get what was signed; the list's report and signature stand in for the sender's.
    content = inner.children[0].raw;
    // Both forms at once: the weaker verdict counts.
    const signature = combined && combined.status !== 'good' ? combined : detached;
    return { headers, encrypted, content, signature: report(signature) };
  }
  return { headers, encrypted, content, signature: report(combined ?? { status: 'unsigned', detail: 'the post carries no OpenPGP signature' }) };
}

// The copy each member gets: the post's content behind a short report of who posted and whether
// the signature checked (the header block Schleuder puts in front of every post), signed by the
// list key and encrypted to the one member's key as PGP/MIME (RFC 3156 §4, signed and encrypted in
// one OpenPGP message as §6.2 allows).
//
// The content is signed once per post; each member's copy then costs only its own encryption.
import { createHash, randomBytes } from 'node:crypto';
import { createMessage, encrypt, readKey, sign, type Message, type PrivateKey, type PublicKey } from 'openpgp';
import { rfc5322Date } from '../gateway/headers.js';
import { PARSE_CONFIG } from '../keys/key-signatures.js';
import { pgpMimeBody } from '../mime/pgp-encrypted.js';
import type { MailingList } from './list-store.js';
import type { ReadPost, SignatureReport } from './post-reader.js';

const SIGNATURE_WORDS: Record<SignatureReport['status'], string> = {
  good: 'Good signature',
  bad: 'BAD signature',
  'unknown-key': 'Unknown signature',
  unsigned: 'Unsigned',
};

/** One header-safe line: no line breaks, printable ASCII (RFC 5322 §2.2). */
const oneLine = (text: string) => text.replace(/\r?\n[ \t]*/g, ' ').replace(/[^\x20-\x7e]/g, '?').slice(0, 500);

/** "Sig: Good signature from alice@example.org (key 0123...)" and the other lines of the report. */
export function signatureLine(s: SignatureReport): string {
  const by = s.signer ? ` from ${s.signer}` : '';
  const key = s.fingerprint ? ` (key ${s.fingerprint})` : '';
  return `${SIGNATURE_WORDS[s.status]}${s.status === 'unsigned' ? '' : by}${s.status === 'unsigned' ? '' : key}: ${s.detail}`;
}

function reportPart(post: ReadPost): string {
  const lines = [
    `From: ${oneLine(post.headers.fromField ?? '(none)')}`,
    ...(post.headers.date ? [`Date: ${oneLine(post.headers.date)}`] : []),
    ...(post.headers.subject ? [`Subject: ${oneLine(post.headers.subject)}`] : []),
    `Sig: ${oneLine(signatureLine(post.signature))}`,
    `Enc: ${post.encrypted ? 'Encrypted to the list key' : 'Unencrypted'}`,
  ];
  return ['Content-Type: text/plain; charset=us-ascii', 'Content-Description: Sender and signature of the post, as the list checked them', '', ...lines, ''].join('\r\n');
}

export interface PreparedPost {
  /** The signed OpenPGP message (not yet encrypted), shared by every copy. */
  signed: Message<Uint8Array>;
  /** The header section of every copy (before MIME-Version and Content-Type). */
  header: string;
}

/** Builds and signs the members' content once. `postId` makes the copies' Message-ID. */
export async function preparePost(post: ReadPost, list: MailingList, listKey: PrivateKey, postId: string, now: Date): Promise<PreparedPost> {
  const boundary = `kp.list.${randomBytes(12).toString('hex')}`;
  const entity = Buffer.concat([
    Buffer.from(
      [
        `Content-Type: multipart/mixed; boundary="${boundary}"`,
        '',
        `--${boundary}`,
        reportPart(post),
        `--${boundary}`,
        '',
      ].join('\r\n'),
      'latin1',
    ),
    post.content,
    Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1'),
  ]);
  // Kept as an object: a one-pass signed message read back from its bytes carries its trailing
  // signature only as a stream, which would not be written out again with every copy.
  const signed = (await sign({ message: await createMessage({ binary: entity }), signingKeys: listKey, format: 'object', date: now })) as Message<Uint8Array>;
  const [local, domain] = [list.address.slice(0, list.address.lastIndexOf('@')), list.domain];
  const poster = post.headers.from ?? 'unknown sender';
  // The copy comes From the list, whose key signed it; who posted is in the display name and the
  // report inside. Replies go to the list (RFC 2369 List-Post, RFC 2919 List-Id).
  const header = [
    `From: "${oneLine(poster).replace(/["\\]/g, '')} via ${local}" <${list.address}>`,
    `To: <${list.address}>`,
    `Reply-To: <${list.address}>`,
    `Subject: ${oneLine(post.headers.subject ?? '...')}`,
    `Date: ${rfc5322Date(now)}`,
    `Message-ID: <${postId}.${createHash('sha256').update(list.address).digest('hex').slice(0, 12)}@${domain}>`,
    `List-Id: <${local}.${domain}>`,
    `List-Post: <mailto:${list.address}>`,
  ].join('\r\n');
  return { signed, header };
}

/** Parses a member's key once, for many posts. */
export function memberKey(keyData: Uint8Array): Promise<PublicKey> {
  return readKey({ binaryKey: keyData, config: PARSE_CONFIG });
}

/** One member's copy: the prepared post encrypted to `key` alone, as a whole message. */
export async function copyFor(prepared: PreparedPost, key: PublicKey, now: Date): Promise<Buffer> {
  const armored = await encrypt({ message: prepared.signed, encryptionKeys: key, format: 'armored', date: now });
  const { contentType, body } = pgpMimeBody(String(armored));
  return Buffer.from(`${prepared.header}\r\nMIME-Version: 1.0\r\nContent-Type: ${contentType}\r\n\r\n${body}`, 'latin1');
}

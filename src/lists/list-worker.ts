// The list worker: takes the posts the gateway queued for LIST_HOP, reads each (decrypts it with
// the list key, checks the sender's signature), applies the list's posting policy, and either
// bounces the post to its sender with the reason, or queues one signed and encrypted copy per
// member (fanout.ts) and removes the post, all through the gateway's queue. It also re-checks the
// members' DNS-found keys on a schedule (key-recheck.ts).
//
// A post is claimed with a lease like any queue row, so a worker that dies leaves it to be taken
// up again; the fan-out is idempotent, so taking it up again neither loses nor doubles a copy.
import { randomBytes } from 'node:crypto';
import type { PrivateKey, PublicKey } from 'openpgp';
import { LIST_HOP } from '../gateway/next-hop.js';
import { reportsFor, retryDelay } from '../gateway/outcomes.js';
import { claimDue, insertMessages, loadMessages, recordOutcomes, renewLeases, type ClaimedRecipient, type QueuedMessage } from '../gateway/queue-store.js';
import type { QueueWorker, QueueWorkerDeps, QueueWorkerFactory } from '../gateway/queue-worker.js';
import { planSubmission } from '../gateway/submission-route.js';
import { asciiLowercase } from '../protocol/ascii.js';
import { ERROR_TABLE, type ErrorCode } from '../protocol/errors.js';
import type { SealedBox } from '../secrets/sealed-box.js';
import { fanOut, forgetFanout, type FanoutMember } from './fanout.js';
import { recheckDueMembers } from './key-recheck.js';
import { openListKey } from './list-key.js';
import { findList, membersOf, type MailingList } from './list-store.js';
import { memberKey, preparePost } from './member-copy.js';
import { dnsMemberKeys, type MemberKeyFinder } from './member-keys.js';
import { postHeaders, readPost, UndecryptablePost, type SenderKey } from './post-reader.js';
import { WakeSignal } from '../wake-signal.js';

export interface ListWorkerOptions {
  /** The box list keys are sealed in (KEYPOST_SECRET_KEY_FILE), opened when first needed. */
  openBox(): SealedBox;
  /** How members' keys are found; default: DNS through KEYPOST_DNS_RESOLVER. */
  findKey?: MemberKeyFinder;
}

/** A refusal of a post, bounced to its sender. */
class Refusal extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function listWorkerFactory(options: ListWorkerOptions): QueueWorkerFactory {
  return (deps) => new ListWorker(deps, options);
}

export class ListWorker implements QueueWorker {
  private readonly owner = `lists-${randomBytes(6).toString('hex')}`;
  private readonly findKey: MemberKeyFinder;
  private box: SealedBox | undefined;
  private readonly listKeys = new Map<string, Promise<PrivateKey>>();
  private readonly memberKeys = new Map<string, Promise<PublicKey>>();
  private stopping = false;
  private readonly naps = new WakeSignal();
  private loopDone: Promise<void> | undefined;
  private recheckTimer: NodeJS.Timeout | undefined;
  private recheckRun: Promise<void> | undefined;

  constructor(
    private readonly deps: QueueWorkerDeps,
    private readonly options: ListWorkerOptions,
  ) {
    this.findKey = options.findKey ?? dnsMemberKeys({ dns: deps.gateway.dnsResolver });
  }

  start(): void {
    this.loopDone = this.loop();
    const every = Math.min(this.deps.gateway.lists.keyRecheckIntervalMs, 60_000);
    this.recheckTimer = setInterval(() => void this.recheckMembers(), every);
    this.recheckTimer.unref();
  }

  wake(): void {
    this.naps.wake();
  }

  /** Re-checks the member keys that are due; resolves when done (one run at a time). */
  recheckMembers(): Promise<void> {
    this.recheckRun ??= recheckDueMembers({
      db: this.deps.db,
      findKey: this.findKey,
      intervalMs: this.deps.gateway.lists.keyRecheckIntervalMs,
      now: this.deps.now,
      route: (address) => planSubmission(this.deps.directory, this.deps.resolver, address),
      log: this.deps.log,
      queued: () => this.deps.wakeRelay(),
    })
      .catch((err) => this.deps.log.warn({ err }, 'member key re-check failed'))
      .finally(() => (this.recheckRun = undefined));
    return this.recheckRun;
  }

  private async loop(): Promise<void> {
    const { relay } = this.deps.gateway;
    while (!this.stopping) {
      let claimed: ClaimedRecipient[] = [];
      try {
        // One post at a time: a claimed post waiting behind a long fan-out would see its lease run
        // out and be taken up by another node meanwhile (harmless, the fan-out is idempotent, but
        // the encryption would be done twice).
        claimed = await claimDue(this.deps.db, { owner: this.owner, limit: 1, leaseMs: relay.leaseMs, blocksDir: this.deps.blocksDir, hop: LIST_HOP });
        for (const row of claimed) {
          if (this.stopping) break;
          await this.process(row);
        }
      } catch (err) {
        this.deps.log.warn({ err }, 'list worker round failed');
      }
      if (!claimed.length && !this.stopping) await this.naps.nap(relay.pollIntervalMs);
    }
  }

  private listKey(list: MailingList): Promise<PrivateKey> {
    const cacheKey = `${list.address} ${list.fingerprint}`;
    let key = this.listKeys.get(cacheKey);
    if (!key) {
      this.box ??= this.options.openBox();
      key = openListKey(this.box, list.address, list.secretKeySealed);
      key.catch(() => this.listKeys.delete(cacheKey));
      this.listKeys.set(cacheKey, key);
    }
    return key;
  }

  private memberPublicKey(fingerprint: string, keyData: Buffer): Promise<PublicKey> {
    let key = this.memberKeys.get(fingerprint);
    if (!key) {
      if (this.memberKeys.size > 100_000) this.memberKeys.clear();
      key = memberKey(keyData);
      this.memberKeys.set(fingerprint, key);
    }
    return key;
  }

  private async process(row: ClaimedRecipient): Promise<void> {
    const message = row.message ?? (await loadMessages(this.deps.db, [row.messageId])).get(row.messageId);
    if (!message) return;
    const log = this.deps.log.child({ queueId: row.messageId, list: row.recipient });
    try {
      await this.distribute(row, message, log);
    } catch (err) {
      if (err instanceof Refusal) {
        log.info({ event: 'list-refused', code: err.code, reason: err.message, sender: message.sender }, 'list post refused');
        await this.bounce(row, message, { status: ERROR_TABLE[err.code].smtp.enhanced, diagnostic: `${err.code}: ${err.message}` });
        return;
      }
      // Anything else (the database, DNS) is worth another try: the fan-out resumes where it
      // stopped. A post that could not be distributed for as long as any mail may wait in the
      // queue (KEYPOST_RELAY_MAX_AGE) is bounced as expired (RFC 3463 4.4.7), like any mail.
      const { retryMinMs, retryMaxMs, maxAgeMs } = this.deps.gateway.relay;
      if (this.deps.now().getTime() - row.receivedAt.getTime() >= maxAgeMs) {
        log.warn({ err }, 'list post expired');
        await this.bounce(row, message, { status: '4.4.7', diagnostic: `delivery time expired; last error: ${(err as Error).message}` }).catch((inner) =>
          log.warn({ err: inner }, 'bouncing the expired list post failed; its lease will run out'),
        );
        return;
      }
      log.warn({ err }, 'list post deferred');
      await this.deps.db
        .transaction()
        .execute((tx) => recordOutcomes(tx, this.owner, [], [{ messageId: row.messageId, recipient: row.recipient, error: (err as Error).message, delayMs: retryDelay(row.attempts, retryMinMs, retryMaxMs) }]))
        .catch((inner) => log.warn({ err: inner }, 'deferring the list post failed; its lease will run out'));
    }
  }

  private async distribute(row: ClaimedRecipient, message: QueuedMessage, log: QueueWorkerDeps['log']): Promise<void> {
    const list = await findList(this.deps.db, asciiLowercase(row.recipient));
    if (!list) throw new Refusal('LIST_NOT_FOUND', `${row.recipient} is no longer a list`);
    // A bounce or other automatic reply to the list (null reverse-path, RFC 5321 §4.5.5) is no post;
    // its report back to the null sender is dropped as every report on a report is.
    if (message.sender === '') throw new Refusal('LIST_SENDER_NOT_MEMBER', 'mail from the null sender (a delivery report) is not distributed');
    const raw = Buffer.concat([Buffer.from(message.traceHeaders, 'latin1'), message.body]);
    const now = this.deps.now();
    const { from } = postHeaders(raw);
    const members = await membersOf(this.deps.db, list.address);
    const poster = members.find((m) => m.member === from);
    if (list.membersOnly && !poster) {
      throw new Refusal('LIST_SENDER_NOT_MEMBER', `${from ?? 'a message without a From address'} is not a member of ${list.address}, and only members may post`);
    }
    let senderKey: SenderKey | undefined;
    if (poster && poster.status === 'active') senderKey = { keyData: poster.keyData, fingerprint: poster.fingerprint };
    else if (!poster && from) {
      const found = await this.findKey(from, now);
      if (found.ok) senderKey = found;
    }
    let post;
    try {
      post = await readPost(raw, await this.listKey(list), senderKey, now);
    } catch (err) {
      if (err instanceof UndecryptablePost) throw new Refusal('LIST_POST_UNDECRYPTABLE', err.message);
      throw err;
    }
    if (list.encryptedOnly && !post.encrypted) {
      throw new Refusal('LIST_POST_NOT_ENCRYPTED', `${list.address} takes only posts encrypted to its key (${list.fingerprint}); this one came in the clear`);
    }
    if (list.membersOnly && post.signature.status !== 'good') {
      const paused = poster?.status === 'paused' ? ` (the member is paused: ${poster.pausedReason})` : '';
      throw new Refusal('LIST_SIGNATURE_INVALID', `only posts signed with the member's key are distributed; ${post.signature.detail}${paused}`);
    }
    const prepared = await preparePost(post, list, await this.listKey(list), row.messageId, now);
    const recipients: FanoutMember[] = [];
    for (const m of members) {
      if (m.status !== 'active' || m.member === from) continue;
      recipients.push({ address: m.member, key: await this.memberPublicKey(m.fingerprint, m.keyData) });
    }
    let sinceRenewal = Date.now();
    const queued = await fanOut(
      {
        db: this.deps.db,
        route: (address) => planSubmission(this.deps.directory, this.deps.resolver, address),
        now: this.deps.now,
        queued: () => {
          this.deps.wakeRelay();
          // A long fan-out keeps its claim on the post.
          if (Date.now() - sinceRenewal > this.deps.gateway.relay.leaseMs / 4) {
            sinceRenewal = Date.now();
            void renewLeases(this.deps.db, this.owner, [row], this.deps.gateway.relay.leaseMs).catch(() => undefined);
          }
        },
        unroutable: (member, denial) => log.warn({ member, code: denial.code }, 'list member cannot be routed; no copy queued'),
      },
      { id: row.messageId, listAddress: list.address, sender: list.owner ?? '', prepared },
      recipients,
    );
    await this.deps.db.transaction().execute(async (tx) => {
      await forgetFanout(tx, row.messageId, list.address);
      await recordOutcomes(tx, this.owner, [row], []);
    });
    log.info({ event: 'list-distributed', sender: post.headers.from, signature: post.signature.status, members: recipients.length, queued }, 'list post distributed');
  }

  /** The sender gets a delivery status notification naming the refusal (RFC 3464), like any bounce. */
  private async bounce(row: ClaimedRecipient, message: QueuedMessage, failure: { status: string; diagnostic: string }): Promise<void> {
    const reports = await reportsFor(
      [
        {
          message,
          action: 'failed',
          recipients: [{ recipient: row.recipient, ...failure, smtpReply: false, orcpt: row.dsn.orcpt }],
        },
      ],
      { directory: this.deps.directory, hostname: this.deps.gateway.hostname, now: this.deps.now(), metrics: this.deps.metrics, log: this.deps.log },
    );
    await this.deps.db.transaction().execute(async (tx) => {
      await insertMessages(tx, reports);
      await forgetFanout(tx, row.messageId, asciiLowercase(row.recipient));
      await recordOutcomes(tx, this.owner, [row], []);
    });
    if (reports.length) this.deps.wakeRelay();
  }

  async close(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.recheckTimer);
    this.wake();
    await this.loopDone;
    await this.recheckRun;
  }
}


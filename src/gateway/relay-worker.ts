// The relay worker: claims due recipients from the shared queue, delivers them grouped per message
// and next hop over pooled SMTP connections, and records the outcomes.
//
// Exactly-once as far as SMTP allows: a recipient row is removed only after the next hop answered
// 250 to the message, and outcomes are committed moments later. A crash in between (or a lease
// that ran out during a delivery) re-sends that message: duplicates are limited to messages in
// flight at the crash, never losses. Failures are retried with exponential backoff until the
// message is older than the maximum age; a permanent failure or expiry bounces a DSN to the sender
// through the same queue, in the same transaction that removes the failed recipients.
import { randomBytes } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config.js';
import type { Db } from '../db/database.js';
import { POW_CODES, StampError } from '../pow/errors.js';
import { mintStamp, type MintPool } from '../pow/mint.js';
import type { FailedRecipient } from './dsn.js';
import { verdictHeader } from './headers.js';
import type { KeypostResolver } from './keypost-resolver.js';
import type { GatewayMetrics } from './metrics.js';
import { MX_PREFIX, parseHop } from './next-hop.js';
import { classifyDelivery, reportsFor, retryDelay, type Outcome, type PendingReport } from './outcomes.js';
import { wantsReport } from './dsn-request.js';
import {
  claimDue,
  insertMessages,
  loadBlocks,
  loadMessages,
  markDelayWarned,
  recordOutcomes,
  releaseClaims,
  renewLeases,
  saveMintedStamp,
  type ClaimedRecipient,
  type Deferral,
  type QueuedMessage,
  type RecipientKey,
} from './queue-store.js';
import type { RecipientDirectory } from './recipients.js';
import { SmtpPool, type DeliveryResult, type StreamedMessage, type Target } from '../smtp/smtp-pool.js';
import { WakeSignal } from '../wake-signal.js';
import type { BlockStore } from './block-store.js';

export interface RelayDeps {
  db: Db;
  log: Logger;
  metrics: GatewayMetrics;
  gateway: GatewayConfig;
  directory: RecipientDirectory;
  resolver: KeypostResolver;
  /** Submission mode mints on these warm threads, every core, with no thread start-up per stamp. */
  mintPool: MintPool;
  /** Block files of large messages (block-store.ts). */
  blocks: BlockStore;
  now(): Date;
}

interface Group {
  messageId: string;
  nextHop: string;
  rows: ClaimedRecipient[];
}

const keyOf = (k: RecipientKey) => `${k.messageId}\u0000${k.recipient}`;

export class RelayWorker {
  readonly owner = `${osHostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
  private readonly pool: SmtpPool;
  private readonly held = new Map<string, ClaimedRecipient>();
  private backlog: Group[] = [];
  private readonly active = new Set<Promise<void>>();
  private outcomes: Outcome[] = [];
  private flushing: Promise<void> | undefined;
  private readonly naps = new WakeSignal();
  private stopping = false;
  private loopDone: Promise<void> | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private readonly concurrency: number;
  /**
   * The large lane: messages in block files are delivered at most this many at a time, beside
   * (not instead of) the `concurrency` small ones, so a queue of large messages never holds up
   * small ones, and small ones never starve large ones.
   */
  private readonly largeConcurrency: number;
  private activeLarge = 0;

  constructor(private readonly deps: RelayDeps) {
    const { relay, hostname, socksProxy } = deps.gateway;
    this.concurrency = relay.concurrency;
    this.largeConcurrency = Math.max(1, Math.floor(relay.concurrency / 4));
    this.pool = new SmtpPool({
      hostname,
      timeoutMs: relay.timeoutMs,
      socksProxy,
      maxPerTarget: relay.concurrency + this.largeConcurrency,
      log: deps.log,
    });
  }

  private static isLarge(group: Group): boolean {
    return group.rows[0].inBlocks;
  }

  /** Delivery slots free in the lane of this kind of group. */
  private free(large: boolean): number {
    return large ? this.largeConcurrency - this.activeLarge : this.concurrency - (this.active.size - this.activeLarge);
  }

  start(): void {
    this.loopDone = this.loop();
    const every = Math.max(250, Math.floor(this.deps.gateway.relay.leaseMs / 3));
    this.leaseTimer = setInterval(() => {
      renewLeases(this.deps.db, this.owner, [...this.held.values()], this.deps.gateway.relay.leaseMs).catch((err) =>
        this.deps.log.warn({ err }, 'lease renewal failed'),
      );
    }, every);
    this.leaseTimer.unref();
  }

  /** New mail was queued: look for due work now instead of at the next poll. */
  wake(): void {
    this.naps.wake();
  }

  private async loop(): Promise<void> {
    const { relay } = this.deps.gateway;
    const maxHeld = this.concurrency * 8;
    while (!this.stopping) {
      let claimed = 0;
      try {
        // Claim in batches, when less than one round of work is waiting, not per finished delivery.
        const smallBacklog = this.backlog.filter((g) => !RelayWorker.isLarge(g)).length;
        if (this.held.size < maxHeld && smallBacklog <= this.concurrency) {
          const rows = await claimDue(this.deps.db, { owner: this.owner, limit: Math.min(maxHeld - this.held.size, 256), leaseMs: relay.leaseMs, blocksDir: this.deps.blocks.id });
          claimed = rows.length;
          this.enqueue(rows);
        }
        await this.startGroups();
      } catch (err) {
        this.deps.log.warn({ err }, 'relay worker: queue access failed');
        await this.naps.nap(relay.pollIntervalMs);
        continue;
      }
      if (claimed === 0 || this.free(false) <= 0) await this.naps.nap(relay.pollIntervalMs);
    }
  }

  private enqueue(rows: ClaimedRecipient[]): void {
    const groups = new Map<string, Group>();
    for (const row of rows) {
      this.held.set(keyOf(row), row);
      // A minted stamp names its recipient: such recipients travel alone, so no one sees another's.
      // NOTIFY and ORCPT are passed on per transaction, so recipients that asked for different
      // reports travel in different transactions.
      const dsn = `${row.dsn.notify ?? ''} ${row.dsn.orcpt ?? ''}`;
      const key = row.mintBits !== null ? `${row.messageId} ${row.nextHop} ${row.recipient}` : `${row.messageId} ${row.nextHop} ${dsn}`;
      let group = groups.get(key);
      if (!group) {
        group = { messageId: row.messageId, nextHop: row.nextHop, rows: [] };
        groups.set(key, group);
      }
      group.rows.push(row);
    }
    this.backlog.push(...groups.values());
  }

  /**
   * Starts backlog groups while delivery slots are free. Groups whose message came with the claim
   * start at once; the others have their messages loaded together first.
   */
  private async startGroups(): Promise<void> {
    this.launchReady();
    let small = this.free(false);
    let large = this.free(true);
    const groups: Group[] = [];
    this.backlog = this.backlog.filter((g) => {
      const isLarge = RelayWorker.isLarge(g);
      if (isLarge ? large <= 0 : small <= 0) return true;
      if (isLarge) large--;
      else small--;
      groups.push(g);
      return false;
    });
    if (groups.length === 0) return;
    const missing = [...new Set(groups.filter((g) => !g.rows[0].message).map((g) => g.messageId))];
    const messages = await loadMessages(this.deps.db, missing);
    for (const group of groups) {
      const message = group.rows[0].message ?? messages.get(group.messageId);
      if (!message) {
        // Deleted by an operator while claimed: nothing left to deliver.
        for (const row of group.rows) this.held.delete(keyOf(row));
        continue;
      }
      this.launch(group, message);
    }
  }

  /** Synchronous: a finished delivery hands its slot to the next ready group without a query. */
  private launchReady(): void {
    while (this.free(false) > 0) {
      const at = this.backlog.findIndex((g) => g.rows[0].message && !RelayWorker.isLarge(g));
      if (at < 0) return;
      const [group] = this.backlog.splice(at, 1);
      this.launch(group, group.rows[0].message!);
    }
  }

  private launch(group: Group, message: QueuedMessage): void {
    const large = RelayWorker.isLarge(group);
    if (large) this.activeLarge++;
    const run: Promise<void> = this.deliverGroup(group, message)
      .catch((err) => {
        this.deps.log.error({ err, queueId: group.messageId }, 'delivery failed unexpectedly');
        this.record(group.rows.map((row) => ({ row, kind: 'deferred' as const, error: `local error: ${(err as Error).message}` })));
      })
      .finally(() => {
        this.active.delete(run);
        if (large) this.activeLarge--;
        if (!this.stopping) this.launchReady();
        this.wake();
      });
    this.active.add(run);
  }

  private async targetsFor(nextHop: string): Promise<Target[] | { permanent: string }> {
    if (!nextHop.startsWith(MX_PREFIX)) {
      const hop = parseHop(nextHop);
      return [hop];
    }
    const domain = nextHop.slice(MX_PREFIX.length);
    const hosts = await this.deps.resolver.resolveMx(domain);
    // RFC 7505: a single MX of "." says the domain accepts no mail at all.
    if (hosts.length === 1 && (hosts[0].exchange === '' || hosts[0].exchange === '.')) {
      return { permanent: `${domain} publishes a null MX and accepts no mail (RFC 7505)` };
    }
    return hosts.map((h) => ({ host: h.exchange, port: 25, onion: h.exchange.endsWith('.onion') }));
  }

  private async deliverGroup(group: Group, message: QueuedMessage): Promise<void> {
    const { rows } = group;
    let targets: Target[] | { permanent: string };
    try {
      targets = await this.targetsFor(group.nextHop);
    } catch (err) {
      this.record(rows.map((row) => ({ row, kind: 'deferred' as const, error: (err as Error).message })));
      return;
    }
    if (!Array.isArray(targets)) {
      const failure = (row: ClaimedRecipient): FailedRecipient => ({
        recipient: row.recipient,
        status: '5.1.10',
        diagnostic: (targets as { permanent: string }).permanent,
        smtpReply: false,
      });
      this.record(rows.map((row) => ({ row, kind: 'failed' as const, failure: failure(row), message })));
      return;
    }

    const stamps = await this.submissionHeaders(rows);
    if (typeof stamps !== 'string') {
      this.record(
        rows.map((row) =>
          stamps.kind === 'failed'
            ? { row, kind: 'failed' as const, message, failure: { recipient: row.recipient, status: '5.7.0', diagnostic: stamps.reason, smtpReply: false } }
            : { row, kind: 'deferred' as const, error: stamps.reason, message },
        ),
      );
      return;
    }
    const head = Buffer.concat([Buffer.from(stamps, 'latin1'), Buffer.from(message.traceHeaders, 'latin1'), message.body]);
    let data: Buffer | StreamedMessage = head;
    if (message.inBlocks) {
      // The body after the header section is read block by block as the hop takes it; each block
      // is checked against its recorded SHA-256 before it is sent.
      const refs = await loadBlocks(this.deps.db, message.id);
      const { blocks } = this.deps;
      const size = head.length + refs.reduce((n, b) => n + b.bytes, 0);
      data = {
        head,
        size,
        rest: async function* () {
          for (const ref of refs) yield await blocks.read(message.id, ref);
        },
      };
    }
    let result: DeliveryResult | undefined;
    let host = '';
    for (const target of targets) {
      host = target.host;
      const envelope = {
        from: message.sender,
        to: rows.map((r) => r.recipient),
        eightBitMime: message.eightBitMime,
        smtpUtf8: message.smtpUtf8,
        // RFC 3461 §6.2.1: the request travels on with the message to a hop that offers DSN.
        dsn: {
          ret: message.dsn.ret ?? undefined,
          envid: message.dsn.envid ?? undefined,
          notify: rows[0].dsn.notify ?? undefined,
          orcpt: rows[0].dsn.orcpt ?? undefined,
        },
      };
      result = await this.pool.deliver(target, envelope, data);
      if (result.ok || !result.connectFailed) break;
    }
    this.record(classifyDelivery(rows, message, result!, { now: this.deps.now(), maxAgeMs: this.deps.gateway.relay.maxAgeMs, host }));
  }

  /**
   * Submission mode: a stamp minted at each remote recipient's price, kept for retries. A price
   * above KEYPOST_SUBMISSION_MAX_BITS fails for good (the recipient's price will not fall on its
   * own, and minting it could take the relay days); a mint that runs past the time allowed is
   * retried later. Rows with a price travel alone, so the verdict is that one recipient's.
   */
  private async submissionHeaders(rows: ClaimedRecipient[]): Promise<string | { kind: 'failed' | 'deferred'; reason: string }> {
    const { maxBits, mintTimeoutMs } = this.deps.gateway.submission;
    let headers = '';
    for (const row of rows) {
      if (row.mintBits === null) continue;
      if (row.mintBits > maxBits) {
        return {
          kind: 'failed',
          reason: `the recipient's published stamp price is ${row.mintBits} bits; this gateway mints stamps of at most ${maxBits} bits (KEYPOST_SUBMISSION_MAX_BITS)`,
        };
      }
      let stamp = row.stamp;
      if (!stamp) {
        try {
          stamp = (await mintStamp(row.recipient, row.mintBits, { pool: this.deps.mintPool, caseSensitive: true, signal: AbortSignal.timeout(mintTimeoutMs) })).stamp;
        } catch (err) {
          if (!(err instanceof StampError) || err.code !== POW_CODES.mintAborted) throw err;
          return { kind: 'deferred', reason: `minting a ${row.mintBits}-bit stamp did not finish within ${mintTimeoutMs} ms (KEYPOST_SUBMISSION_MINT_TIMEOUT)` };
        }
        await saveMintedStamp(this.deps.db, row, stamp);
        row.stamp = stamp;
      }
      headers += `X-Hashcash: ${stamp}\r\n`;
      headers += verdictHeader(this.deps.gateway.hostname, { result: 'minted', bits: row.mintBits });
    }
    return headers;
  }

  private record(outcomes: Outcome[]): void {
    this.outcomes.push(...outcomes);
    this.flushSoon();
  }

  private flushSoon(): void {
    if (this.flushing || this.outcomes.length === 0) return;
    this.flushing = (async () => {
      while (this.outcomes.length) {
        const batch = this.outcomes.splice(0, 512);
        try {
          await this.commit(batch);
        } catch (err) {
          this.deps.log.warn({ err }, 'recording delivery outcomes failed; retrying');
          this.outcomes.unshift(...batch);
          await new Promise((r) => setTimeout(r, Math.min(5000, this.deps.gateway.relay.pollIntervalMs)));
          if (this.stopping && this.active.size === 0) return;
        }
      }
    })().finally(() => {
      this.flushing = undefined;
      this.flushSoon();
    });
  }

  private async commit(batch: Outcome[]): Promise<void> {
    const done: RecipientKey[] = [];
    const deferred: Deferral[] = [];
    const pending = new Map<string, PendingReport>();
    const report = (message: QueuedMessage, action: PendingReport['action'], recipient: PendingReport['recipients'][number]) => {
      const key = `${message.id} ${action}`;
      const entry = pending.get(key) ?? { message, action, recipients: [] };
      entry.recipients.push(recipient);
      pending.set(key, entry);
    };
    const now = this.deps.now();
    const { retryMinMs, retryMaxMs, delayWarningMs } = this.deps.gateway.relay;
    for (const o of batch) {
      const { notify, orcpt } = o.row.dsn;
      if (o.kind === 'deferred') {
        deferred.push({ messageId: o.row.messageId, recipient: o.row.recipient, error: o.error, delayMs: retryDelay(o.row.attempts, retryMinMs, retryMaxMs) });
        // One delay warning per message, once it has waited KEYPOST_RELAY_DELAY_WARNING (RFC 3464 "delayed").
        const waited = now.getTime() - o.row.receivedAt.getTime();
        if (o.message && !o.message.delayWarned && delayWarningMs > 0 && waited >= delayWarningMs && wantsReport(notify, 'DELAY')) {
          report(o.message, 'delayed', { recipient: o.row.recipient, status: '4.4.7', diagnostic: o.error, smtpReply: false, orcpt });
        }
        continue;
      }
      done.push(o.row);
      if (o.kind === 'failed' && wantsReport(notify, 'FAILURE')) report(o.message, 'failed', { ...o.failure, orcpt });
      if (o.kind === 'delivered' && o.message && o.relayedWithoutDsn && wantsReport(notify, 'SUCCESS')) {
        report(o.message, 'relayed', { recipient: o.row.recipient, status: '2.0.0', diagnostic: o.response ?? '250', remoteMta: o.host, smtpReply: true, orcpt });
      }
    }
    let removedBlocks: string[] = [];
    const reports = await reportsFor([...pending.values()], {
      directory: this.deps.directory,
      hostname: this.deps.gateway.hostname,
      now,
      metrics: this.deps.metrics,
      log: this.deps.log,
    });
    await this.deps.db.transaction().execute(async (tx) => {
      // A message warned by another node meanwhile gets no second warning.
      const delayed = reports.filter((r) => r.action === 'delayed');
      const warned = new Set(await markDelayWarned(tx, delayed.map((r) => r.about)));
      await insertMessages(tx, reports.filter((r) => !delayed.includes(r) || warned.has(r.about)));
      removedBlocks = await recordOutcomes(tx, this.owner, done, deferred);
    });
    // Committed: the files of messages that left the queue can go. A crash before this leaves
    // them to the sweep at the next start.
    for (const id of removedBlocks) await this.deps.blocks.remove(id).catch((err) => this.deps.log.warn({ err, queueId: id }, 'removing block files failed'));
    for (const o of batch) {
      this.held.delete(keyOf(o.row));
      const outcome = o.kind === 'failed' ? (o.failure.status.startsWith('4') ? 'expired' : 'bounced') : o.kind;
      this.deps.metrics.deliveries.inc({ outcome });
      // The mail log (README "Logs"): one line per recipient and attempt outcome.
      const event = o.kind === 'delivered' ? 'relayed' : outcome;
      this.deps.log.info(
        {
          event,
          queueId: o.row.messageId,
          recipient: o.row.recipient,
          nextHop: o.row.nextHop,
          // Counted when the recipient was claimed, so this attempt is included.
          attempts: o.row.attempts,
          ...(o.kind === 'deferred' ? { reason: o.error } : {}),
          ...(o.kind === 'failed' ? { reason: o.failure.diagnostic, status: o.failure.status } : {}),
        },
        event,
      );
    }
    if (reports.length) this.wake();
  }

  async close(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.wake();
    clearInterval(this.leaseTimer);
    await this.loopDone;
    // Work claimed but not started goes back to the queue at once for other nodes.
    const unstarted = this.backlog.splice(0).flatMap((g) => g.rows);
    for (const row of unstarted) this.held.delete(keyOf(row));
    await releaseClaims(this.deps.db, this.owner, unstarted).catch((err) => this.deps.log.warn({ err }, 'releasing claims failed'));
    // Deliveries in progress get a moment to finish; anything still running after that is left to
    // its lease and delivered again later.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.active]), new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
    while (this.flushing) await this.flushing;
    await this.pool.close();
  }
}

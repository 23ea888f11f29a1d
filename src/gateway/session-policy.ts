// The gateway's SMTP policy, command by command. Each check returns a verdict; smtp-listener.ts
// turns verdicts into replies. Session state is grouped per connection (who the client is, whether
// it is exempt from stamps) with a transaction per MAIL FROM holding the planned recipients.
import type { MessageDsn, RecipientDsn } from './dsn-request.js';
import { planInbound, planSubmission, type PlannedRecipient } from './submission-route.js';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Config, GatewayConfig } from '../config.js';
import { canonicalAddress } from '../protocol/address.js';
import type { Acceptor } from './acceptor.js';
import type { AuthAdmission, AuthLimits } from './auth-limits.js';
import type { AuthUsers } from './auth-users.js';
import { readMessage, type BufferBudget, type DataFailure, type DataOutcome } from './data-reader.js';
import { BLOCK_BYTES, type BlockStore, type BlockWriter } from './block-store.js';
import { GATEWAY_CODES, type GatewayCode } from './errors.js';
import {
  VERDICT_HEADER,
  headerSectionEnd,
  parseHeaderFields,
  receivedHeader,
  stampsIn,
  verdictHeader,
  withoutFields,
  type StampVerdict,
} from './headers.js';
import { DnsTemporaryError, type KeypostResolver } from './keypost-resolver.js';
import { clientKey, type NetworkList } from './networks.js';
import { newQueueId, type NewRecipient } from './queue-store.js';
import type { RecipientDirectory } from './recipients.js';
import { checkStamps, maxStampFields, stampRequiredLine } from './stamp-check.js';
import { checkProtection, protectionRequiredLine, type SignatureVerifier } from './protection.js';
import { ACCEPT, deny, type Denial, type Verdict } from './verdicts.js';
import type { GatewayMetrics } from './metrics.js';
import { LIST_HOP } from './next-hop.js';

/** What the policy needs to know about a connection (a subset of smtp-server's session). */
export interface SessionFacts {
  id: string;
  remoteAddress: string;
  clientHostname?: string;
  helo?: string;
  /** The authenticated user, if any. */
  user?: string;
  transmissionType: string;
  tlsCipher?: string;
}

interface SessionState {
  exemptNetwork?: string;
  /** The client key this session counts against (networks.ts clientKey); unset when exempt. */
  client?: string;
  recipients: Map<string, PlannedRecipient>;
  /** AUTH attempts that failed on this connection. */
  authFailures: number;
}

/** The envelope at DATA: reverse-path, recipients, and what MAIL FROM declared about the content. */
export interface DataEnvelope {
  sender: string;
  recipients: readonly string[];
  /** BODY=8BITMIME (RFC 6152). */
  eightBitMime: boolean;
  /** SMTPUTF8 (RFC 6531). */
  smtpUtf8: boolean;
  /** RET and ENVID of MAIL FROM, and NOTIFY and ORCPT of each RCPT TO (RFC 3461), in envelope order. */
  dsn?: { message: MessageDsn; recipients: readonly RecipientDsn[] };
}

/** A queued message with what the mail log reports: its size as received and the stamp verdict. */
export type DataDecision = { kind: 'queued'; id: string; size: number; stamp: StampVerdict } | Denial;

export interface PolicyDeps {
  gateway: GatewayConfig;
  pow: Config['pow'];
  directory: RecipientDirectory;
  resolver: KeypostResolver;
  exemptNetworks: NetworkList;
  authUsers: AuthUsers;
  authLimits: AuthLimits;
  acceptor: Acceptor;
  /** Checks the signatures of a message for recipients that require signed mail. */
  verifySignatures: SignatureVerifier;
  budget: BufferBudget;
  /** Where messages over one block are written as they arrive. */
  blocks?: BlockStore;
  metrics: GatewayMetrics;
  log: Logger;
  now(): Date;
}

const AUTH_REFUSALS: Record<Exclude<AuthAdmission, { ok: true }>['reason'], GatewayCode> = {
  'connection-failures': GATEWAY_CODES.authConnectionLimit,
  'address-failures': GATEWAY_CODES.authAddressLimit,
  busy: GATEWAY_CODES.authBusy,
};

const DATA_FAILURE_CODES: Record<DataFailure, GatewayCode> = {
  'too-big': GATEWAY_CODES.messageTooBig,
  'line-too-long': GATEWAY_CODES.lineTooLong,
  'storage-busy': GATEWAY_CODES.storageBusy,
  'storage-failed': GATEWAY_CODES.queueFailed,
  aborted: GATEWAY_CODES.messageTooBig,
};

export class SessionPolicy {
  private readonly sessions = new Map<string, SessionState>();
  /** Sessions held per client key (counted in connect, given back in close). */
  private readonly perClient = new Map<string, number>();

  constructor(private readonly deps: PolicyDeps) {}

  /**
   * A new connection. Each client address (IPv4, or IPv6 /64) may hold at most
   * KEYPOST_SMTP_MAX_CONNECTIONS_PER_IP sessions, so one client cannot take every slot of
   * KEYPOST_SMTP_MAX_CONNECTIONS; exempt networks (the provider's own hosts) are not counted.
   */
  connect(session: SessionFacts): Verdict {
    const exemptNetwork = this.deps.exemptNetworks.match(session.remoteAddress);
    let client: string | undefined;
    if (!exemptNetwork) {
      client = clientKey(session.remoteAddress);
      const held = this.perClient.get(client) ?? 0;
      if (held >= this.deps.gateway.maxConnectionsPerIp) {
        this.deps.metrics.limitRefusals.inc({ limit: 'connections-per-ip' });
        return deny(GATEWAY_CODES.tooManyConnections, { detail: `limit ${this.deps.gateway.maxConnectionsPerIp}` });
      }
      this.perClient.set(client, held + 1);
    }
    this.sessions.set(session.id, { exemptNetwork, client, recipients: new Map(), authFailures: 0 });
    return ACCEPT;
  }

  close(session: SessionFacts): void {
    const state = this.sessions.get(session.id);
    this.sessions.delete(session.id);
    if (state?.client === undefined) return;
    const held = (this.perClient.get(state.client) ?? 1) - 1;
    if (held > 0) this.perClient.set(state.client, held);
    else this.perClient.delete(state.client);
  }

  /** AUTH: the limits first (auth-limits.ts), so a refused attempt costs no hash. */
  async auth(session: SessionFacts, username: string, password: string): Promise<Verdict> {
    const state = this.state(session);
    const admission = this.deps.authLimits.admit(session.remoteAddress, state.authFailures);
    if (!admission.ok) {
      this.deps.metrics.limitRefusals.inc({ limit: `auth-${admission.reason}` });
      return deny(AUTH_REFUSALS[admission.reason]);
    }
    let ok: boolean;
    try {
      ok = await this.deps.authUsers.verify(username, password);
    } finally {
      admission.release();
    }
    if (ok) return ACCEPT;
    state.authFailures++;
    this.deps.authLimits.recordFailure(session.remoteAddress);
    return deny(GATEWAY_CODES.authFailed);
  }

  /** A new mail transaction: forget the recipients of the last one. */
  mailFrom(session: SessionFacts): Verdict {
    this.state(session).recipients.clear();
    return ACCEPT;
  }

  async rcptTo(session: SessionFacts, address: string): Promise<Verdict> {
    // The one address parser decides what an address is, here as in the API and the CLI.
    if (canonicalAddress(address) === undefined) return deny(GATEWAY_CODES.addressInvalid, { address });
    const state = this.state(session);
    let planned: PlannedRecipient | Denial;
    try {
      planned = session.user ? await this.planSubmission(address) : await this.planInbound(address);
    } catch (err) {
      this.deps.log.warn({ err, session: session.id }, 'recipient lookup failed');
      return err instanceof DnsTemporaryError
        ? deny(GATEWAY_CODES.dnsLookupFailed, { address, detail: err.message })
        : deny(GATEWAY_CODES.lookupFailed, { address });
    }
    if ('kind' in planned) return planned;
    state.recipients.set(address.toLowerCase(), planned);
    return ACCEPT;
  }

  private planInbound(address: string): Promise<PlannedRecipient | Denial> {
    return planInbound(this.deps.directory, address);
  }

  private planSubmission(address: string): Promise<PlannedRecipient | Denial> {
    return planSubmission(this.deps.directory, this.deps.resolver, address);
  }

  async data(session: SessionFacts, envelope: DataEnvelope, stream: Readable): Promise<DataDecision> {
    const { gateway, budget, blocks } = this.deps;
    // The queue id is chosen first: a large message's block files are named after it.
    const id = newQueueId();
    const read = await readMessage(stream, {
      maxBytes: gateway.maxMessageBytes,
      maxLineLength: gateway.maxLineLength,
      budget,
      spill: blocks ? () => blocks.writer(id) : undefined,
    });
    if (!read.ok) {
      const detail =
        read.reason === 'too-big'
          ? `${read.bytes} > ${gateway.maxMessageBytes} octets`
          : read.reason === 'line-too-long'
            ? `limit ${gateway.maxLineLength} octets including CRLF, RFC 5321 section 4.5.3.1.6`
            : undefined;
      return deny(DATA_FAILURE_CODES[read.reason], { detail });
    }
    const writer = 'blocks' in read ? read.blocks : undefined;
    let stored = false;
    try {
      const decision = await this.accept(session, envelope, id, read, writer);
      stored = decision.kind === 'queued' && decision.id === id;
      return decision;
    } finally {
      read.release();
      // Blocks of a message that was not stored (refused, a resent copy, a failed commit) go now;
      // those of a stored one are the queue's from here on.
      if (writer) await (stored ? Promise.resolve(writer.release()) : writer.discard().catch(() => undefined));
    }
  }

  private async accept(session: SessionFacts, envelope: DataEnvelope, id: string, read: DataOutcome & { ok: true }, writer: BlockWriter | undefined): Promise<DataDecision> {
    // `raw` is the whole message, or for one in block files its header section: everything from
    // here to the queue transaction reads only the header section (the stamp check never needs
    // the body), except the protection check, which a block-stored message cannot have.
    const raw = read.message;
    const { sender, recipients: rcptTo } = envelope;
    const state = this.state(session);
    const now = this.deps.now();
    const planned = rcptTo.map((a) => state.recipients.get(a.toLowerCase())).filter((p): p is PlannedRecipient => !!p);
    // Every envelope recipient passed RCPT here; one without a plan would be silently dropped.
    if (planned.length !== rcptTo.length) return deny(GATEWAY_CODES.lookupFailed);
    const headerEnd = headerSectionEnd(raw);
    const fields = parseHeaderFields(raw, headerEnd);

    const exemption = session.user
      ? `authenticated user ${session.user}`
      : state.exemptNetwork
        ? `network ${state.exemptNetwork}`
        : undefined;
    let stampVerdict: StampVerdict;
    const toSpend: { address: string; text: string; expiresAt: Date }[] = [];
    if (exemption) {
      stampVerdict = { result: 'exempt', reason: exemption };
    } else {
      const stamps = stampsIn(fields);
      if (stamps.length > maxStampFields(planned.length)) {
        return deny(GATEWAY_CODES.tooManyStamps, {
          detail: `${stamps.length} for ${planned.length} recipient${planned.length === 1 ? '' : 's'}, at most ${maxStampFields(planned.length)}`,
        });
      }
      const demands = planned.map((p) => ({ address: p.address, price: p.price ?? this.deps.pow.defaultBits }));
      const outcomes = checkStamps(stamps, demands, {
        validitySeconds: this.deps.pow.validitySeconds,
        graceSeconds: this.deps.pow.graceSeconds,
        caseSensitive: this.deps.pow.resourceCaseSensitive,
      }, now);
      const failed = outcomes.filter((o) => !o.ok);
      if (failed.length) {
        for (const f of failed) this.deps.metrics.stampFailures.inc({ reason: f.code });
        return deny(GATEWAY_CODES.stampRequired, {
          lines: failed.map((f) => stampRequiredLine(f.address, f.price, f.reason)),
        });
      }
      for (const o of outcomes) if (o.ok) toSpend.push({ address: o.address, text: o.stamp.text, expiresAt: o.expiresAt });
      const minimum = Math.min(...outcomes.map((o) => (o.ok ? o.value : 0)));
      stampVerdict = { result: 'pass', bits: minimum, recipients: outcomes.length };
    }

    // After the stamps (cheap, and abuse limits come before expensive checks) and before the queue
    // transaction that spends them: a message refused for its recipients' req= spends no stamp, so
    // the sender can send it again, protected, with the same stamps. Like the stamp rule, the
    // message is refused whole (one DATA reply for all recipients), one line per recipient.
    // A mailing list's worker reads a post whole to decrypt it, so a post goes to a list only when it
    // fits in memory: one block.
    if (writer && planned.some((p) => p.nextHop === LIST_HOP)) {
      return deny(GATEWAY_CODES.listPostTooLarge, {
        detail: `${read.bytes} octets; a post to a mailing list may have at most ${BLOCK_BYTES} octets`,
      });
    }
    if (writer && planned.some((p) => p.requirement !== 'none')) {
      return deny(GATEWAY_CODES.protectedTooLarge, {
        detail: `${read.bytes} octets; recipients whose req= asks for encrypted or signed mail get messages of at most ${BLOCK_BYTES} octets`,
      });
    }
    const refusals = (await checkProtection(raw, planned, this.deps.verifySignatures)).filter((o) => !o.ok);
    if (refusals.length) {
      for (const r of refusals) this.deps.metrics.protectionRefusals.inc({ requirement: r.requirement });
      const permanent = refusals.some((r) => !r.temporary);
      return deny(permanent ? GATEWAY_CODES.protectionRequired : GATEWAY_CODES.dnsLookupFailed, {
        lines: refusals.filter((r) => r.temporary !== permanent).map(protectionRequiredLine),
      });
    }

    const body = withoutFields(raw, fields, VERDICT_HEADER);
    // The blocks' names become durable before the row that points at them commits.
    const blocks = writer && this.deps.blocks ? { dir: this.deps.blocks.id, refs: await writer.finish(), bytes: read.bytes - raw.length + body.length } : undefined;
    const trace =
      receivedHeader({
        helo: session.helo ?? '',
        clientAddress: session.remoteAddress,
        clientHostname: session.clientHostname,
        hostname: this.deps.gateway.hostname,
        protocol: session.transmissionType,
        queueId: id,
        recipient: planned.length === 1 ? planned[0].address : undefined,
        date: now,
        tls: session.tlsCipher,
      }) + verdictHeader(this.deps.gateway.hostname, stampVerdict);
    const recipients: NewRecipient[] = planned.map((p, i) => ({ recipient: p.address, nextHop: p.nextHop, mintBits: p.mintBits, dsn: envelope.dsn?.recipients[i] }));
    const result = await this.deps.acceptor.submit({
      message: {
        id,
        kind: session.user ? 'submission' : 'inbound',
        sender,
        traceHeaders: trace,
        body,
        blocks,
        clientAddress: session.remoteAddress,
        clientHelo: session.helo,
        authUser: session.user,
        eightBitMime: envelope.eightBitMime,
        smtpUtf8: envelope.smtpUtf8,
        dsn: envelope.dsn?.message,
      },
      recipients,
      stamps: toSpend,
    });
    if (result.ok) return { kind: 'queued', id: result.id, size: read.bytes, stamp: stampVerdict };
    if ('spent' in result) {
      this.deps.metrics.stampFailures.inc({ reason: 'POW_STAMP_SPENT' }, result.spent.length);
      const prices = new Map(planned.map((p) => [p.address, p.price ?? this.deps.pow.defaultBits]));
      return deny(GATEWAY_CODES.stampRequired, {
        lines: result.spent.map((s) => stampRequiredLine(s.address, prices.get(s.address) ?? 0, 'stamp was already spent')),
      });
    }
    return deny(GATEWAY_CODES.queueFailed);
  }

  private state(session: SessionFacts): SessionState {
    let state = this.sessions.get(session.id);
    if (!state) {
      state = { exemptNetwork: this.deps.exemptNetworks.match(session.remoteAddress), recipients: new Map(), authFailures: 0 };
      this.sessions.set(session.id, state);
    }
    return state;
  }
}

// The SMTP listener: smtp-server wired to the session policy. Sockets and protocol are the
// library's; every handler asks the policy for a verdict, and this file is the one place per
// command where a verdict becomes a reply (replies.ts holds the wording).
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import type { GatewayConfig, ListenAddress } from '../config.js';
import { formatAddress } from '../lifecycle.js';
import { GATEWAY_CODES } from './errors.js';
import { plainAddress } from './networks.js';
import { denialReason, queuedReply, replyLine, smtpReply } from './replies.js';
import { SessionSockets } from './session-sockets.js';
import type { DataEnvelope, SessionFacts, SessionPolicy } from './session-policy.js';
import { decodeXtext } from './dsn-request.js';
import { deny, isAccept, type Denial } from './verdicts.js';
import type { GatewayMetrics } from './metrics.js';
import { CHUNKING_OPTION, installChunking } from './bdat.js';

export interface SmtpListener {
  listen(address: ListenAddress): Promise<string>;
  close(): Promise<void>;
}

export interface ListenerOptions {
  config: GatewayConfig;
  policy: SessionPolicy;
  metrics: GatewayMetrics;
  authEnabled: boolean;
  log: Logger;
}

function facts(session: SMTPServerSession): SessionFacts {
  const user = session.user as { username?: string } | string | undefined;
  return {
    id: session.id,
    remoteAddress: plainAddress(session.remoteAddress),
    // Without reverse lookups the library names the client "[address]"; that says nothing new.
    clientHostname: session.clientHostname && !session.clientHostname.startsWith('[') ? session.clientHostname : undefined,
    helo: session.hostNameAppearsAs,
    user: typeof user === 'string' ? user : user?.username,
    transmissionType: session.transmissionType,
    tlsCipher: session.tlsOptions ? session.tlsOptions.name : undefined,
  };
}

/** The RFC 3461 parameters smtp-server parsed from MAIL FROM and each RCPT TO (xtext decoded). */
function dsnRequest(session: SMTPServerSession): DataEnvelope['dsn'] {
  const ret = session.envelope.dsn?.ret?.toUpperCase();
  const envid = session.envelope.dsn?.envid;
  return {
    message: { ret: ret === 'FULL' || ret === 'HDRS' ? ret : null, envid: envid ? decodeXtext(envid) : null },
    recipients: session.envelope.rcptTo.map((r) => ({
      notify: r.dsn?.notify?.length ? r.dsn.notify.join(',').toUpperCase() : null,
      orcpt: r.dsn?.orcpt ? decodeXtext(r.dsn.orcpt) : null,
    })),
  };
}

export function createSmtpListener(options: ListenerOptions): SmtpListener {
  const { config, policy, metrics, log } = options;
  const tls = config.tls ? { key: readFileSync(config.tls.keyFile), cert: readFileSync(config.tls.certFile) } : undefined;
  const disabled = [...(tls ? [] : ['STARTTLS']), ...(options.authEnabled ? [] : ['AUTH'])];
  // RFC 4954 section 4: passwords go only over TLS, so AUTH is not even offered before STARTTLS
  // (unless insecure AUTH is explicitly allowed). smtp-server reads this per session.
  const beforeTls = options.authEnabled && !config.allowInsecureAuth ? [...disabled, 'AUTH'] : disabled;
  const sessionTimers = new Map<string, NodeJS.Timeout>();
  let sockets: SessionSockets;

  /** The mail log's line for a refused command (README "Logs"): one per refusal, at info. */
  const logRefusal = (session: { remoteAddress: string }, stage: 'mail' | 'rcpt' | 'data', denial: Denial, fields: Record<string, unknown>) =>
    log.info(
      { event: 'refused', stage, client: session.remoteAddress, ...fields, code: denial.code, temporary: denial.kind === 'tempfail', reason: denialReason(denial) },
      'refused',
    );

  installChunking();
  const server = new SMTPServer({
    // BDAT (RFC 3030) beside DATA: bdat.ts hands chunked messages to onData as one stream.
    ...({ [CHUNKING_OPTION]: true } as Record<string, unknown>),
    name: config.hostname,
    banner: 'keypost',
    size: config.maxMessageBytes,
    maxClients: config.maxConnections,
    maxRecipients: config.maxRecipients,
    socketTimeout: config.idleTimeoutMs,
    closeTimeout: 5000,
    // Reverse DNS of each client would stall every greeting where no resolver answers, and
    // nothing here depends on it.
    disableReverseLookup: true,
    authOptional: true,
    allowInsecureAuth: config.allowInsecureAuth,
    maxAllowedUnauthenticatedCommands: false,
    disabledCommands: disabled,
    // Reply texts carry their own RFC 3463 codes (replies.ts), and REQUIRETLS requests would be
    // promises this gateway does not keep. DSN requests (RFC 3461) are kept with the queued message.
    hideENHANCEDSTATUSCODES: true,
    // smtp-server hides DSN unless told otherwise.
    hideDSN: false,
    hideREQUIRETLS: true,
    logger: false,
    ...(tls ?? {}),

    onConnect(session, callback) {
      const verdict = policy.connect(facts(session));
      if (!isAccept(verdict)) {
        callback(smtpReply(verdict));
        return;
      }
      metrics.connections.inc();
      sockets.claim(session.id, session.remoteAddress, session.remotePort);
      // RFC 5321 section 3.8: a server closing on its own sends 421 first.
      const timer = setTimeout(() => sockets.closeWith(session.id, replyLine(deny(GATEWAY_CODES.sessionTimeout))), config.sessionTimeoutMs);
      timer.unref();
      sessionTimers.set(session.id, timer);
      session.disabledCommands = session.secure ? disabled : beforeTls;
      callback(null);
    },

    onSecure(socket, session, callback) {
      session.disabledCommands = disabled;
      // smtp-server pipes the TLS socket to its parser inside this callback; watch it after that.
      callback();
      sockets.upgraded(session.id, socket as Socket);
    },

    onClose(session) {
      // Sessions refused before or at onConnect (maxClients, per-client limit) were never counted.
      if (!sessionTimers.has(session.id)) return;
      metrics.connections.dec();
      clearTimeout(sessionTimers.get(session.id));
      sessionTimers.delete(session.id);
      sockets.release(session.id);
      policy.close(facts(session));
    },

    onAuth(auth, session, callback) {
      if (auth.method !== 'PLAIN' && auth.method !== 'LOGIN') {
        callback(smtpReply(deny(GATEWAY_CODES.authFailed)));
        return;
      }
      policy.auth(facts(session), auth.username ?? '', auth.password ?? '').then(
        (verdict) => (isAccept(verdict) ? callback(null, { user: { username: auth.username } }) : callback(smtpReply(verdict))),
        (err) => {
          log.error({ err }, 'auth check failed');
          callback(smtpReply(deny(GATEWAY_CODES.authFailed)));
        },
      );
    },

    onMailFrom(address, session, callback) {
      const verdict = policy.mailFrom(facts(session));
      if (!isAccept(verdict)) logRefusal(session, 'mail', verdict, { sender: address.address });
      callback(isAccept(verdict) ? null : smtpReply(verdict));
    },

    onRcptTo(address, session, callback) {
      policy.rcptTo(facts(session), address.address).then(
        (verdict) => {
          if (!isAccept(verdict)) {
            logRefusal(session, 'rcpt', verdict, { sender: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', recipient: address.address });
          }
          callback(isAccept(verdict) ? null : smtpReply(verdict));
        },
        (err) => {
          log.error({ err }, 'recipient check failed');
          callback(smtpReply(deny(GATEWAY_CODES.lookupFailed, { address: address.address })));
        },
      );
    },

    onData(stream, session, callback) {
      const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
      const recipients = session.envelope.rcptTo.map((r) => r.address);
      const declared = { eightBitMime: session.envelope.bodyType === '8bitmime', smtpUtf8: session.envelope.smtpUtf8 === true, dsn: dsnRequest(session) };
      policy.data(facts(session), { sender, recipients, ...declared }, stream).then(
        (decision) => {
          if (decision.kind === 'queued') {
            metrics.messages.inc({ outcome: 'accepted' });
            const stamp = decision.stamp;
            log.info(
              {
                event: 'accepted',
                queueId: decision.id,
                client: session.remoteAddress,
                sender,
                recipients,
                size: decision.size,
                stampBits: stamp.result === 'exempt' ? undefined : stamp.bits,
                exempt: stamp.result === 'exempt' ? stamp.reason : undefined,
              },
              'accepted',
            );
            callback(null, queuedReply(decision.id));
          } else {
            metrics.messages.inc({ outcome: decision.kind === 'reject' ? 'rejected' : 'deferred' });
            logRefusal(session, 'data', decision, { sender, recipients });
            callback(smtpReply(decision));
          }
        },
        (err) => {
          log.error({ err, session: session.id }, 'message handling failed');
          metrics.messages.inc({ outcome: 'deferred' });
          stream.resume();
          callback(smtpReply(deny(GATEWAY_CODES.queueFailed)));
        },
      );
    },
  });

  sockets = new SessionSockets(server.server, {
    lineTimeoutMs: config.lineTimeoutMs,
    onLineExpired(sessionId) {
      metrics.limitRefusals.inc({ limit: 'line-timeout' });
      sockets.closeWith(sessionId, replyLine(deny(GATEWAY_CODES.lineTimeout, { detail: `${config.lineTimeoutMs / 1000} s` })));
    },
  });
  // A failed listen() is the caller's to report (it names the variable); only later errors are logged.
  let listening = false;
  server.on('error', (err) => {
    if (listening) log.warn({ err }, 'smtp connection error');
  });

  return {
    listen(address) {
      return new Promise((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.server.once('error', onError);
        server.listen(address.port, address.host, () => {
          server.server.off('error', onError);
          listening = true;
          const bound = server.server.address();
          resolve(typeof bound === 'object' && bound ? formatAddress(bound.address, bound.port) : String(bound));
        });
      });
    },
    close() {
      for (const timer of sessionTimers.values()) clearTimeout(timer);
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}


// Mixed traffic against a running keypost: SMTP senders with stamps, HTTP lookups and DNS queries,
// each loop recording what it was answered. Fault tests (database drops, restarts, kills) run it
// while they break things, then check that every acknowledged message arrived and that no answer
// was one a fault must never produce (a 5xx SMTP reply, an HTTP 500, an HTTP 503 without a code).
import { Resolver } from 'node:dns/promises';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { mintStamp } from '../../src/pow/mint.js';

export interface LoadTargets {
  /** Current host:port of each listener (they change when the process is restarted). */
  smtp(): string | undefined;
  http(): string | undefined;
  dns(): string | undefined;
}

export interface LoadOptions {
  targets: LoadTargets;
  /** A published address with a price of `bits`. */
  recipient: string;
  bits: number;
  /** HTTP paths, one loop each: a cached lookup and one that reads the database every time. */
  httpPaths: string[];
  /** A DNS name (TXT) in a served zone. */
  dnsName: string;
  smtpSessions?: number;
  /** Pause between requests of one HTTP/DNS loop, so the load leaves CPU for the server. */
  pauseMs?: number;
}

export interface LoadStats {
  /** Message number → queue id, for every message that got a 250. */
  acked: Map<number, string>;
  smtpTempFailures: number;
  /** Permanent (5xx) replies to our messages: a database fault must never cause one. */
  smtpPermanentFailures: string[];
  /** Connections that failed or broke (a restarting process). */
  smtpConnectionFailures: number;
  http: Map<number, number>;
  /** HTTP answers a fault must not produce: 5xx other than 503, or a 503 without a `code`. */
  httpBad: string[];
  httpConnectionFailures: number;
  dnsAnswers: number;
  dnsFailures: number;
}

export interface MixedLoad {
  stats: LoadStats;
  /** Resolves once each loop has recorded at least `n` more answers of its kind. */
  progress(n: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function subjectOf(raw: Buffer): number | undefined {
  const m = /^Subject: m(\d+)\r?$/m.exec(raw.toString('latin1'));
  return m ? Number(m[1]) : undefined;
}

export function startMixedLoad(options: LoadOptions): MixedLoad {
  const pause = options.pauseMs ?? 20;
  const stats: LoadStats = {
    acked: new Map(),
    smtpTempFailures: 0,
    smtpPermanentFailures: [],
    smtpConnectionFailures: 0,
    http: new Map(),
    httpBad: [],
    httpConnectionFailures: 0,
    dnsAnswers: 0,
    dnsFailures: 0,
  };
  let stopped = false;
  let next = 0;
  // Answers per kind, so progress() can wait for each loop to have done something.
  const answered = { smtp: 0, http: 0, dns: 0 };

  async function smtpSession(): Promise<void> {
    while (!stopped) {
      const target = options.targets.smtp();
      if (!target) {
        await sleep(50);
        continue;
      }
      const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
      const conn = new SMTPConnection({ host, port, name: 'sender.test', ignoreTLS: true, logger: false, connectionTimeout: 3000, greetingTimeout: 3000, socketTimeout: 10_000 });
      try {
        await new Promise<void>((resolve, reject) => {
          conn.once('error', reject);
          conn.connect(() => resolve());
        });
        conn.on('error', () => undefined);
        while (!stopped) {
          const n = next++;
          const { stamp } = await mintStamp(options.recipient, options.bits);
          const message = `Message-ID: <m${n}@sender.test>\r\nSubject: m${n}\r\nX-Hashcash: ${stamp}\r\n\r\nmessage ${n}\r\n`;
          const result = await new Promise<{ ok: true; response: string } | { ok: false; code?: number; response: string; broken: boolean }>((resolve) =>
            conn.send({ from: 'sender@sender.test', to: [options.recipient] }, message, (err, info) => {
              if (!err) return resolve({ ok: true, response: info!.response });
              const e = err as Error & { responseCode?: number; response?: string; code?: string };
              resolve({ ok: false, code: e.responseCode, response: e.response ?? e.message, broken: e.responseCode === undefined });
            }),
          );
          answered.smtp++;
          if (result.ok) {
            stats.acked.set(n, /queued as ([0-9A-F]+)/.exec(result.response)?.[1] ?? '?');
          } else if (result.code !== undefined && result.code >= 500) {
            stats.smtpPermanentFailures.push(`m${n}: ${result.response}`);
          } else if (result.code !== undefined) {
            stats.smtpTempFailures++;
          } else {
            throw new Error(result.response);
          }
          // A 421 closes the session; start a new one.
          if (!result.ok && result.code === 421) throw new Error(result.response);
          // A transaction refused after MAIL was accepted (a 4xx at RCPT) stays open on the
          // server: end it with RSET before the next MAIL, as a real client does (RFC 5321
          // §4.1.1.5), or that MAIL is a nested one and gets a permanent 503.
          if (!result.ok) {
            await new Promise<void>((resolve, reject) => conn.reset((err) => (err ? reject(err) : resolve())));
          }
        }
        conn.quit();
      } catch {
        stats.smtpConnectionFailures++;
        conn.close();
        await sleep(100);
      }
    }
  }

  async function httpLoop(httpPath: string): Promise<void> {
    while (!stopped) {
      const target = options.targets.http();
      if (!target) {
        await sleep(50);
        continue;
      }
      try {
        const res = await fetch(`http://${target}${httpPath}`, { signal: AbortSignal.timeout(5000) });
        const text = await res.text();
        answered.http++;
        stats.http.set(res.status, (stats.http.get(res.status) ?? 0) + 1);
        if (res.status >= 500) {
          let code: string | undefined;
          try {
            code = JSON.parse(text).code;
          } catch {
            code = undefined;
          }
          if (res.status !== 503 || !code) stats.httpBad.push(`${res.status} ${text.slice(0, 200)}`);
        }
      } catch {
        stats.httpConnectionFailures++;
        await sleep(100);
      }
      await sleep(pause);
    }
  }

  async function dnsLoop(): Promise<void> {
    while (!stopped) {
      const target = options.targets.dns();
      if (!target) {
        await sleep(50);
        continue;
      }
      const resolver = new Resolver({ timeout: 1000, tries: 1 });
      resolver.setServers([target]);
      try {
        await resolver.resolveTxt(options.dnsName);
        answered.dns++;
        stats.dnsAnswers++;
      } catch {
        stats.dnsFailures++;
        await sleep(100);
      }
      await sleep(pause);
    }
  }

  const loops = [
    ...Array.from({ length: options.smtpSessions ?? 4 }, smtpSession),
    ...options.httpPaths.map(httpLoop),
    dnsLoop(),
  ];

  return {
    stats,
    async progress(n, timeoutMs = 30_000) {
      const base = { ...answered };
      const deadline = Date.now() + timeoutMs;
      while (answered.smtp < base.smtp + n || answered.http < base.http + n || answered.dns < base.dns + n) {
        if (Date.now() > deadline) throw new Error(`load made no progress: ${JSON.stringify({ base, answered })}`);
        await sleep(20);
      }
    },
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

// The only module that reads process.env. Everything else receives a frozen slice of Config.
// Every variable here is listed, with its default, in the README's configuration table.
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { ListenAddress } from './protocol/listen-address.js';
import { accessSync, constants, statSync } from 'node:fs';
import { KP1_MAX_POW_BITS } from './protocol/kp1.js';
import { isHostName, normalizeDomain } from './protocol/address.js';
import { parseHop } from './smtp/hop.js';
import { embeddedSocketPath, MAX_SOCKET_PATH } from './db/embedded-paths.js';

/** A `host:port` listen address. Port 0 asks the OS for any free port. */
export type { ListenAddress };

function parseListen(value: string, ctx: z.RefinementCtx): ListenAddress {
  // IPv6 literals are written in brackets: [::1]:5300
  const match = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d+)$/.exec(value);
  if (!match) {
    ctx.addIssue({ code: 'custom', message: `expected host:port (e.g. 127.0.0.1:5300 or [::1]:5300), got "${value}"` });
    return z.NEVER;
  }
  const port = Number(match[3]);
  if (port > 65535) {
    ctx.addIssue({ code: 'custom', message: `port out of range (0-65535): "${value}"` });
    return z.NEVER;
  }
  return { host: match[1] ?? match[2], port };
}

/** A string variable with a default, checked and converted by `parse` (which reports in our words). */
const text = <T>(fallback: string | undefined, parse: (value: string, ctx: z.RefinementCtx) => T) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => parse(value || fallback || '', ctx));
function problem(ctx: z.RefinementCtx, message: string): never {
  ctx.addIssue({ code: 'custom', message });
  return z.NEVER as never;
}

const listen = (fallback: string) => text(fallback, parseListen);
const integer = (fallback: number, min: number, max: number) =>
  text(String(fallback), (value, ctx) => {
    const trimmed = value.trim();
    if (!/^\d+$/.test(trimmed) || Number(trimmed) < min || Number(trimmed) > max) {
      return problem(ctx, `must be a whole number from ${min} to ${max}, got "${value}"`);
    }
    return Number(trimmed);
  });
const oneOf = <const V extends string>(values: readonly V[], fallback: V) =>
  text(fallback, (value, ctx) =>
    (values as readonly string[]).includes(value) ? (value as V) : problem(ctx, `must be one of ${values.join(', ')}, got "${value}"`),
  );
const flag = (fallback: 'true' | 'false') => oneOf(['true', 'false'], fallback).transform((v) => v === 'true');
/** A duration: a number with an optional unit (ms, s, m, h, d); a bare number is seconds. */
const duration = (fallback: string) =>
  text(fallback, (value, ctx) => {
    const match = /^(\d+)(ms|s|m|h|d)?$/.exec(value.trim());
    if (!match) return problem(ctx, `expected a duration like 30s, 5m, 2h or 5d, got "${value}"`);
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? 's'] ?? 1000;
    return Number(match[1]) * unit;
  });
/** Unset and empty both mean "not configured". */
const optional = <T>(parse: (value: string, ctx: z.RefinementCtx) => T) =>
  text<T | undefined>(undefined, (value, ctx) => (value ? parse(value, ctx) : undefined));
const optionalListen = optional((value, ctx) => parseListen(value.replace(/^socks5h?:\/\//, ''), ctx));
const list = text('', (value) => value.split(/[\s,]+/).filter(Boolean));
/** Addresses or CIDR ranges, both families: `10.0.0.0/8, 192.0.2.7, ::1, 2001:db8::/32`. */
const networks = list.superRefine((specs, ctx) => {
  for (const spec of specs) {
    const [address, prefixText, extra] = spec.split('/');
    const family = isIP(address);
    const prefix = prefixText === undefined ? 0 : Number(prefixText);
    if (!family || extra !== undefined || prefixText === '' || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32)) {
      ctx.addIssue({ code: 'custom', message: `not an IP address or range: "${spec}" (expected e.g. 192.0.2.0/24)` });
    }
  }
});
/** An absolute URL with one of the given schemes and a host that is a name with a dot, localhost or an IP. */
const optionalUrl = (schemes: string[], example: string) =>
  optional((value, ctx) => {
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      // reported below
    }
    if (!url || !schemes.includes(url.protocol.slice(0, -1)) || !isHopHost(url.hostname.replace(/^\[|\]$/g, ''))) {
      return problem(ctx, `expected a URL like ${example}, got "${value}"`);
    }
    return value;
  });

/**
 * A host mail or HTTP is sent to: an IP address, `localhost`, or a name of two or more labels.
 * A single word ("nonsense") is nearly always a typo rather than a name resolved by a search list.
 */
function isHopHost(host: string): boolean {
  return isIP(host) !== 0 || host === 'localhost' || (isHostName(host) && host.replace(/\.$/, '').includes('.'));
}
function hopProblem(spec: string): string | undefined {
  try {
    const hop = parseHop(spec);
    return isHopHost(hop.host) ? undefined : `not a mail host: "${spec}" (expected smtp://host.example:25)`;
  } catch (err) {
    return (err as Error).message;
  }
}
/** `example.net` or `example.net=smtp://mail.example.net:25`, as the gateway reads them. */
const relayDomains = list.superRefine((specs, ctx) => {
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    try {
      normalizeDomain(eq < 0 ? spec : spec.slice(0, eq));
    } catch {
      ctx.addIssue({ code: 'custom', message: `not a relay domain: "${spec}" (expected example.net or example.net=smtp://host:25)` });
      continue;
    }
    const hop = eq < 0 ? undefined : hopProblem(spec.slice(eq + 1));
    if (hop) ctx.addIssue({ code: 'custom', message: hop });
  }
});
/** A mailbox, optionally with a display name: `keypost@example.org` or `Keypost <keypost@example.org>`. */
const mailbox = (fallback: string) =>
  text(fallback, (value, ctx) => {
    const address = /<([^<>]*)>\s*$/.exec(value)?.[1] ?? value.trim();
    const at = address.lastIndexOf('@');
    if (at < 1 || /[\s<>]/.test(address) || !isHostName(address.slice(at + 1))) {
      return problem(ctx, `not a mail address: "${value}" (expected keypost@example.org)`);
    }
    return value;
  });

/** A file keypost reads at start: it must exist and be readable now, not fail after DNS listens. */
function readableFile(file: string, ctx: z.RefinementCtx): string {
  try {
    if (!statSync(file).isFile()) return problem(ctx, `not a file: ${file}`);
    accessSync(file, constants.R_OK);
    return file;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return problem(ctx, code === 'ENOENT' ? `no such file: ${file}` : `cannot read ${file} (${code ?? (err as Error).message})`);
  }
}

/** The embedded database's directory: a directory (or not yet there) whose socket path fits sun_path. */
function dataDirProblems(dataDir: string): string[] {
  const problems: string[] = [];
  try {
    if (!statSync(dataDir).isDirectory()) problems.push(`not a directory: ${dataDir}`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') problems.push(`cannot use ${dataDir} (${code ?? (err as Error).message})`);
  }
  const socket = embeddedSocketPath(dataDir);
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    problems.push(`path too long: the database socket ${socket} would exceed ${MAX_SOCKET_PATH} bytes; choose a shorter directory`);
  }
  return problems;
}

const envSchema = z.object({
  DATABASE_URL: optional((value, ctx) =>
    /^postgres(ql)?:\/\/./.test(value) ? value : problem(ctx, 'must be a postgres:// URL (e.g. postgres://keypost@db.example/keypost)'),
  ),
  KEYPOST_DATA_DIR: text('./data', (value) => value || './data'),
  // The key-encryption key for secrets kept in the database (DNSSEC signing keys): without this
  // file a database dump cannot sign. Unset = <data dir>/secret.key, created at first start.
  KEYPOST_SECRET_KEY_FILE: optional((value) => value),
  KEYPOST_DNS_LISTEN: listen('127.0.0.1:5300'),
  KEYPOST_HTTP_LISTEN: listen('127.0.0.1:8080'),
  KEYPOST_SMTP_LISTEN: listen('127.0.0.1:2525'),
  // Authoritative DNS (src/dns/): TCP connection limits (RFC 7766 §6.2), response-rate limiting
  // for UDP with NSD's rate (200/s) and slip (2) and BIND's window (15 s) and /24 and /56
  // prefixes, and the server cookie secret (RFC 9018 §4; the same on every node of a set).
  // Threads answering DNS over UDP (src/dns/dns-workers.ts), one per core by default, as NSD's
  // server-count; 0 answers on the main thread alongside HTTP and SMTP.
  KEYPOST_DNS_WORKERS: integer(availableParallelism(), 0, 256),
  KEYPOST_DNS_TCP_IDLE_TIMEOUT: duration('10s'),
  KEYPOST_DNS_TCP_QUERY_TIMEOUT: duration('2s'),
  KEYPOST_DNS_TCP_MAX_CONNECTIONS: integer(1024, 1, 1_000_000),
  KEYPOST_DNS_TCP_MAX_PER_IP: integer(16, 1, 1_000_000),
  KEYPOST_DNS_RRL_RATE: integer(200, 0, 1_000_000),
  KEYPOST_DNS_RRL_SLIP: integer(2, 0, 10),
  KEYPOST_DNS_RRL_WINDOW: integer(15, 1, 3600),
  KEYPOST_DNS_RRL_IPV4_PREFIX: integer(24, 8, 32),
  KEYPOST_DNS_RRL_IPV6_PREFIX: integer(56, 16, 128),
  // Compact denial (RFC 9824) signs each missing name online at ~30 µs: fresh denial signatures
  // per second per client prefix (the RRL prefixes) and in all; over either, UDP gets TC=1.
  KEYPOST_DNS_DENIAL_RATE: integer(100, 0, 1_000_000),
  KEYPOST_DNS_DENIAL_BUDGET: integer(5000, 0, 1_000_000),
  KEYPOST_DNS_COOKIE_SECRET: optional((value, ctx) =>
    /^[0-9a-fA-F]{32}$/.test(value) ? value : problem(ctx, 'must be 32 hex digits (16 octets)'),
  ),
  // DNSSEC key rollover timing (src/dns/dnssec/rollover.ts, RFC 7583 §2): Dprp, how long a change
  // takes to reach every server of a zone (one SOA refresh, 1 h by default, covers a secondary
  // that missed the NOTIFY), and TTLds, the TTL of the zone's DS at its parent (1 d for most TLDs).
  KEYPOST_DNSSEC_PROPAGATION_DELAY: duration('1h'),
  KEYPOST_DNSSEC_PARENT_DS_TTL: duration('1d'),
  KEYPOST_LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
  // Reverse proxies whose X-Forwarded-For names the client. Default none: the header is ignored,
  // since any client can send it (it would pick its own rate-limit key).
  KEYPOST_TRUSTED_PROXIES: networks,

  // Hashcash policy (hashcash 1.22 defaults: 28 days validity, 2 days grace).
  KEYPOST_POW_DEFAULT_BITS: integer(20, 0, KP1_MAX_POW_BITS),
  KEYPOST_STAMP_VALIDITY_DAYS: integer(28, 1, 3650),
  KEYPOST_STAMP_GRACE_DAYS: integer(2, 0, 365),
  KEYPOST_STAMP_RESOURCE_CASE_SENSITIVE: flag('false'),

  // Directory: public base URL used in verification links; outgoing verification mail.
  KEYPOST_PUBLIC_URL: optionalUrl(['http', 'https'], 'https://keys.example.org'),
  KEYPOST_MAIL_SUBMISSION_URL: optionalUrl(['smtp', 'smtps'], 'smtp://user:pass@mail.example.org:587'),
  KEYPOST_MAIL_FROM: mailbox('keypost@localhost'),
  // Self-service limits: link lifetime, one mail per address and key per cooldown, and a per-client
  // request budget on the write endpoints (upload, request-verify, /pks/add, /v, delete-request).
  KEYPOST_VERIFY_TOKEN_TTL: duration('24h'),
  KEYPOST_VERIFY_MAIL_COOLDOWN: duration('5m'),
  // Verification mails per address (whatever the key) and per client, per window (mail bombing).
  // The window is at most a day: tokens, the mail ledger, are kept a day past their expiry.
  KEYPOST_VERIFY_MAIL_PER_ADDRESS: integer(3, 1, 1000),
  KEYPOST_VERIFY_MAIL_PER_CLIENT: integer(10, 1, 1_000_000),
  KEYPOST_VERIFY_MAIL_WINDOW: duration('1h').refine((ms) => ms >= 1000 && ms <= 86_400_000, { error: 'must be between 1s and 1d' }),
  KEYPOST_RATE_LIMIT_MAX: integer(20, 1, 1_000_000),
  // Key checks (parse + signature verification) run on worker threads, off the event loop that
  // answers DNS. 0 = one less than the cores, between 1 and 4. Checks waiting beyond the queue
  // are refused with 503 DIR_KEY_CHECK_BUSY.
  KEYPOST_KEY_CHECK_WORKERS: integer(0, 0, 256),
  KEYPOST_KEY_CHECK_QUEUE: integer(32, 0, 100_000),
  KEYPOST_RATE_LIMIT_WINDOW: duration('1m'),

  // SMTP gateway (src/gateway/): receiving limits, TLS, exemptions, relaying.
  KEYPOST_SMTP_HOSTNAME: text('localhost', (value, ctx) =>
    isHostName(value) ? value : problem(ctx, `not a host name: "${value}" (expected e.g. mx.example.org)`),
  ),
  // Up to 64 GiB: messages over one block are kept in block files, never whole in memory.
  KEYPOST_SMTP_MAX_SIZE: integer(10 * 1024 * 1024, 1024, 64 * 1024 * 1024 * 1024),
  KEYPOST_SMTP_MAX_RECIPIENTS: integer(100, 1, 10_000),
  KEYPOST_SMTP_MAX_LINE_LENGTH: integer(1000, 0, 1024 * 1024),
  KEYPOST_SMTP_MAX_CONNECTIONS: integer(500, 1, 100_000),
  KEYPOST_SMTP_MAX_BUFFERED: integer(256 * 1024 * 1024, 1024 * 1024, 64 * 1024 * 1024 * 1024),
  KEYPOST_SMTP_IDLE_TIMEOUT: duration('5m'),
  KEYPOST_SMTP_SESSION_TIMEOUT: duration('30m'),
  KEYPOST_SMTP_TLS_CERT: optional(readableFile),
  KEYPOST_SMTP_TLS_KEY: optional(readableFile),
  KEYPOST_SMTP_AUTH_USERS: optional(readableFile),
  KEYPOST_SMTP_ALLOW_INSECURE_AUTH: flag('false'),
  KEYPOST_SMTP_EXEMPT_NETWORKS: networks,
  KEYPOST_SMTP_MAX_CONNECTIONS_PER_IP: integer(20, 1, 100_000),
  KEYPOST_SMTP_LINE_TIMEOUT: duration('30s'),
  KEYPOST_SMTP_AUTH_MAX_FAILURES: integer(3, 1, 1000),
  KEYPOST_SMTP_AUTH_MAX_FAILURES_PER_IP: integer(10, 1, 1_000_000),
  KEYPOST_SMTP_AUTH_WINDOW: duration('15m'),
  KEYPOST_SMTP_AUTH_CONCURRENCY: integer(2, 1, 256),
  KEYPOST_SUBMISSION_MAX_BITS: integer(28, 0, 40),
  KEYPOST_SUBMISSION_MINT_TIMEOUT: duration('10m'),
  KEYPOST_RELAY_DOMAINS: relayDomains,
  KEYPOST_RELAY_SMARTHOST: optional((value, ctx) => {
    const hop = hopProblem(value);
    return hop ? problem(ctx, hop) : value;
  }),
  KEYPOST_RELAY_ENABLED: flag('true'),
  KEYPOST_RELAY_CONCURRENCY: integer(20, 1, 1000),
  KEYPOST_RELAY_RETRY_MIN: duration('5m'),
  KEYPOST_RELAY_RETRY_MAX: duration('1h'),
  KEYPOST_RELAY_MAX_AGE: duration('5d'),
  KEYPOST_RELAY_DELAY_WARNING: duration('4h'),
  KEYPOST_RELAY_LEASE: duration('2m'),
  KEYPOST_RELAY_POLL_INTERVAL: duration('1s'),
  KEYPOST_LIST_KEY_RECHECK_INTERVAL: duration('6h'),
  KEYPOST_RELAY_TIMEOUT: duration('2m'),
  KEYPOST_DNS_RESOLVER: optionalListen,
  KEYPOST_SOCKS_PROXY: optionalListen,
});

export type Env = z.input<typeof envSchema>;

export interface Config {
  database: { url: string | undefined; dataDir: string };
  secrets: SecretsConfig;
  log: { level: string };
  listen: { dns: ListenAddress; http: ListenAddress; smtp: ListenAddress };
  dns: DnsConfig;
  http: {
    /** Peers (addresses or CIDR ranges) trusted to set X-Forwarded-For; empty = trust none. */
    trustedProxies: string[];
  };
  pow: {
    defaultBits: number;
    validitySeconds: number;
    graceSeconds: number;
    resourceCaseSensitive: boolean;
  };
  directory: {
    publicUrl: string | undefined;
    mailSubmissionUrl: string | undefined;
    mailFrom: string;
    /** Milliseconds a mailed link / upload token stays valid. */
    verifyTokenTtlMs: number;
    /** Milliseconds before the same address and key get another verification mail. */
    mailCooldownMs: number;
    /** Write requests per client address per window. */
    rateLimit: { max: number; windowMs: number };
    /** Worker threads for key checks (0 = automatic) and how many checks may wait for one. */
    keyChecks: { workers: number; maxQueue: number };
    /** Verification mails per address and per client within the window, whatever the key. */
    mailBudget: { perAddress: number; perClient: number; windowSeconds: number };
  };
  gateway: GatewayConfig;
}

/** Where the key-encryption key lives (src/secrets/). */
export interface SecretsConfig {
  keyFile: string;
  /** True for the default path in the data directory: the file is made when missing. */
  createIfMissing: boolean;
}

/** The DNS listener's slice; durations are in milliseconds. */
export interface DnsConfig {
  /** Worker threads answering UDP; 0 = the main thread answers. */
  workers: number;
  tcp: {
    /** RFC 7766 §6.2.3: an idle connection is closed after this long. */
    idleTimeoutMs: number;
    /** A query begun on a connection must be complete within this long. */
    queryTimeoutMs: number;
    maxConnections: number;
    maxConnectionsPerIp: number;
  };
  rrl: {
    /** Responses per second per prefix and response kind; 0 = off. */
    responsesPerSecond: number;
    slip: number;
    windowSeconds: number;
    ipv4PrefixLength: number;
    ipv6PrefixLength: number;
  };
  /** Fresh denial signatures admitted on UDP (src/dns/denial-limiter.ts); 0 = unlimited. */
  denials: {
    perPrefixPerSecond: number;
    globalPerSecond: number;
    ipv4PrefixLength: number;
    ipv6PrefixLength: number;
  };
  /** 16 octets as hex, or undefined for a random secret per process. */
  cookieSecret: string | undefined;
  /** Key rollover waits (src/dns/dnssec/rollover.ts RolloverTiming), in seconds. */
  rollover: { propagationDelaySeconds: number; parentDsTtlSeconds: number };
}

/** The SMTP gateway's slice; durations are in milliseconds. */
export interface GatewayConfig {
  hostname: string;
  maxMessageBytes: number;
  maxRecipients: number;
  /** Longest DATA line in octets including CRLF (RFC 5321 section 4.5.3.1.6); 0 = unlimited. */
  maxLineLength: number;
  maxConnections: number;
  /** Concurrent connections from one IPv4 address or IPv6 /64 (exempt networks excepted). */
  maxConnectionsPerIp: number;
  /** Longest a command or message line may stay incomplete before the session is closed with 421. */
  lineTimeoutMs: number;
  /** AUTH failures allowed per connection, and per client address within `windowMs`. */
  auth: { maxFailures: number; maxFailuresPerIp: number; windowMs: number; concurrency: number };
  /** Submission mode: the highest stamp price minted for a remote recipient, and the time allowed. */
  submission: { maxBits: number; mintTimeoutMs: number };
  /** Message bytes all sessions together may hold in memory before new DATA is deferred. */
  maxBufferedBytes: number;
  idleTimeoutMs: number;
  sessionTimeoutMs: number;
  tls: { certFile: string; keyFile: string } | undefined;
  authUsersFile: string | undefined;
  allowInsecureAuth: boolean;
  exemptNetworks: string[];
  /** `domain` or `domain=smtp://host:port`. */
  relayDomains: string[];
  smarthost: string | undefined;
  relay: {
    enabled: boolean;
    concurrency: number;
    retryMinMs: number;
    retryMaxMs: number;
    maxAgeMs: number;
    /** A message still undelivered this long after it arrived gets one delay report (RFC 3464); 0 never. */
    delayWarningMs: number;
    leaseMs: number;
    pollIntervalMs: number;
    timeoutMs: number;
  };
  lists: {
    /** How often each member key found through DNS is looked up again (src/lists/). */
    keyRecheckIntervalMs: number;
  };
  dnsResolver: ListenAddress | undefined;
  socksProxy: ListenAddress | undefined;
}

/** Thrown for invalid configuration; the CLI prints one line per problem and exits 2. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly problems: readonly string[];
  constructor(problems: string | readonly string[]) {
    const list = typeof problems === 'string' ? [problems] : problems;
    super(list.join('\n'));
    this.problems = list;
  }
}

const DAY = 86_400;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<Config> {
  const parsed = envSchema.safeParse(env);
  // Every problem at once, each naming its variable: fixing them one start at a time is slow.
  const problems = parsed.success ? [] : parsed.error.issues.map((issue) => `${String(issue.path[0])}: ${issue.message}`);
  if (Boolean(env.KEYPOST_SMTP_TLS_CERT) !== Boolean(env.KEYPOST_SMTP_TLS_KEY)) {
    problems.push('KEYPOST_SMTP_TLS_CERT and KEYPOST_SMTP_TLS_KEY must be set together');
  }
  if (!env.DATABASE_URL) {
    problems.push(...dataDirProblems(env.KEYPOST_DATA_DIR || './data').map((p) => `KEYPOST_DATA_DIR: ${p}`));
  }
  if (!parsed.success || problems.length) throw new ConfigError(problems);
  const e = parsed.data;
  return deepFreeze({
    database: { url: e.DATABASE_URL, dataDir: e.KEYPOST_DATA_DIR },
    secrets: {
      keyFile: e.KEYPOST_SECRET_KEY_FILE ?? path.join(e.KEYPOST_DATA_DIR, 'secret.key'),
      createIfMissing: e.KEYPOST_SECRET_KEY_FILE === undefined,
    },
    log: { level: e.KEYPOST_LOG_LEVEL },
    listen: { dns: e.KEYPOST_DNS_LISTEN, http: e.KEYPOST_HTTP_LISTEN, smtp: e.KEYPOST_SMTP_LISTEN },
    dns: {
      workers: e.KEYPOST_DNS_WORKERS,
      tcp: {
        idleTimeoutMs: e.KEYPOST_DNS_TCP_IDLE_TIMEOUT,
        queryTimeoutMs: e.KEYPOST_DNS_TCP_QUERY_TIMEOUT,
        maxConnections: e.KEYPOST_DNS_TCP_MAX_CONNECTIONS,
        maxConnectionsPerIp: e.KEYPOST_DNS_TCP_MAX_PER_IP,
      },
      rrl: {
        responsesPerSecond: e.KEYPOST_DNS_RRL_RATE,
        slip: e.KEYPOST_DNS_RRL_SLIP,
        windowSeconds: e.KEYPOST_DNS_RRL_WINDOW,
        ipv4PrefixLength: e.KEYPOST_DNS_RRL_IPV4_PREFIX,
        ipv6PrefixLength: e.KEYPOST_DNS_RRL_IPV6_PREFIX,
      },
      denials: {
        perPrefixPerSecond: e.KEYPOST_DNS_DENIAL_RATE,
        globalPerSecond: e.KEYPOST_DNS_DENIAL_BUDGET,
        ipv4PrefixLength: e.KEYPOST_DNS_RRL_IPV4_PREFIX,
        ipv6PrefixLength: e.KEYPOST_DNS_RRL_IPV6_PREFIX,
      },
      cookieSecret: e.KEYPOST_DNS_COOKIE_SECRET?.toLowerCase(),
      rollover: {
        propagationDelaySeconds: Math.ceil(e.KEYPOST_DNSSEC_PROPAGATION_DELAY / 1000),
        parentDsTtlSeconds: Math.ceil(e.KEYPOST_DNSSEC_PARENT_DS_TTL / 1000),
      },
    },
    http: { trustedProxies: e.KEYPOST_TRUSTED_PROXIES },
    pow: {
      defaultBits: e.KEYPOST_POW_DEFAULT_BITS,
      validitySeconds: e.KEYPOST_STAMP_VALIDITY_DAYS * DAY,
      graceSeconds: e.KEYPOST_STAMP_GRACE_DAYS * DAY,
      resourceCaseSensitive: e.KEYPOST_STAMP_RESOURCE_CASE_SENSITIVE,
    },
    directory: {
      publicUrl: e.KEYPOST_PUBLIC_URL,
      mailSubmissionUrl: e.KEYPOST_MAIL_SUBMISSION_URL,
      mailFrom: e.KEYPOST_MAIL_FROM,
      verifyTokenTtlMs: e.KEYPOST_VERIFY_TOKEN_TTL,
      mailCooldownMs: e.KEYPOST_VERIFY_MAIL_COOLDOWN,
      rateLimit: { max: e.KEYPOST_RATE_LIMIT_MAX, windowMs: e.KEYPOST_RATE_LIMIT_WINDOW },
      keyChecks: { workers: e.KEYPOST_KEY_CHECK_WORKERS, maxQueue: e.KEYPOST_KEY_CHECK_QUEUE },
      mailBudget: {
        perAddress: e.KEYPOST_VERIFY_MAIL_PER_ADDRESS,
        perClient: e.KEYPOST_VERIFY_MAIL_PER_CLIENT,
        windowSeconds: Math.floor(e.KEYPOST_VERIFY_MAIL_WINDOW / 1000),
      },
    },
    gateway: {
      hostname: e.KEYPOST_SMTP_HOSTNAME,
      maxMessageBytes: e.KEYPOST_SMTP_MAX_SIZE,
      maxRecipients: e.KEYPOST_SMTP_MAX_RECIPIENTS,
      maxLineLength: e.KEYPOST_SMTP_MAX_LINE_LENGTH,
      maxConnections: e.KEYPOST_SMTP_MAX_CONNECTIONS,
      maxConnectionsPerIp: e.KEYPOST_SMTP_MAX_CONNECTIONS_PER_IP,
      lineTimeoutMs: e.KEYPOST_SMTP_LINE_TIMEOUT,
      auth: {
        maxFailures: e.KEYPOST_SMTP_AUTH_MAX_FAILURES,
        maxFailuresPerIp: e.KEYPOST_SMTP_AUTH_MAX_FAILURES_PER_IP,
        windowMs: e.KEYPOST_SMTP_AUTH_WINDOW,
        concurrency: e.KEYPOST_SMTP_AUTH_CONCURRENCY,
      },
      submission: { maxBits: e.KEYPOST_SUBMISSION_MAX_BITS, mintTimeoutMs: e.KEYPOST_SUBMISSION_MINT_TIMEOUT },
      maxBufferedBytes: e.KEYPOST_SMTP_MAX_BUFFERED,
      idleTimeoutMs: e.KEYPOST_SMTP_IDLE_TIMEOUT,
      sessionTimeoutMs: e.KEYPOST_SMTP_SESSION_TIMEOUT,
      tls:
        e.KEYPOST_SMTP_TLS_CERT && e.KEYPOST_SMTP_TLS_KEY
          ? { certFile: e.KEYPOST_SMTP_TLS_CERT, keyFile: e.KEYPOST_SMTP_TLS_KEY }
          : undefined,
      authUsersFile: e.KEYPOST_SMTP_AUTH_USERS || undefined,
      allowInsecureAuth: e.KEYPOST_SMTP_ALLOW_INSECURE_AUTH,
      exemptNetworks: e.KEYPOST_SMTP_EXEMPT_NETWORKS,
      relayDomains: e.KEYPOST_RELAY_DOMAINS,
      smarthost: e.KEYPOST_RELAY_SMARTHOST || undefined,
      relay: {
        enabled: e.KEYPOST_RELAY_ENABLED,
        concurrency: e.KEYPOST_RELAY_CONCURRENCY,
        retryMinMs: e.KEYPOST_RELAY_RETRY_MIN,
        retryMaxMs: e.KEYPOST_RELAY_RETRY_MAX,
        maxAgeMs: e.KEYPOST_RELAY_MAX_AGE,
        delayWarningMs: e.KEYPOST_RELAY_DELAY_WARNING,
        leaseMs: e.KEYPOST_RELAY_LEASE,
        pollIntervalMs: e.KEYPOST_RELAY_POLL_INTERVAL,
        timeoutMs: e.KEYPOST_RELAY_TIMEOUT,
      },
      lists: { keyRecheckIntervalMs: e.KEYPOST_LIST_KEY_RECHECK_INTERVAL },
      dnsResolver: e.KEYPOST_DNS_RESOLVER,
      socksProxy: e.KEYPOST_SOCKS_PROXY,
    },
  });
}

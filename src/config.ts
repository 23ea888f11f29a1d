// The only module that reads process.env. Everything else receives a frozen slice of Config.
// Every variable here is listed, with its default, in the README's configuration table.
import { z } from 'zod';

/** A `host:port` listen address. Port 0 asks the OS for any free port. */
export interface ListenAddress {
  host: string;
  port: number;
}

function parseListen(value: string, ctx: z.RefinementCtx): ListenAddress {
  // IPv6 literals are written in brackets: [::1]:5300
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    ctx.addIssue({ code: 'custom', message: `expected host:port, got "${value}"` });
    return z.NEVER;
  }
  return { host: match[1] ?? match[2], port };
}

const listen = (fallback: string) => z.string().default(fallback).transform(parseListen);
const integer = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);
const optionalUrl = z
  .string()
  .url()
  .optional()
  .or(z.literal('').transform(() => undefined));

const envSchema = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  KEYPOST_DATA_DIR: z.string().min(1).default('./data'),
  KEYPOST_DNS_LISTEN: listen('127.0.0.1:5300'),
  KEYPOST_HTTP_LISTEN: listen('127.0.0.1:8080'),
  KEYPOST_SMTP_LISTEN: listen('127.0.0.1:2525'),
  KEYPOST_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  // Hashcash policy (hashcash 1.22 defaults: 28 days validity, 2 days grace).
  KEYPOST_POW_DEFAULT_BITS: integer(20, 0, 40),
  KEYPOST_STAMP_VALIDITY_DAYS: integer(28, 1, 3650),
  KEYPOST_STAMP_GRACE_DAYS: integer(2, 0, 365),
  KEYPOST_STAMP_RESOURCE_CASE_SENSITIVE: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),

  // Directory: public base URL used in verification links; outgoing verification mail.
  KEYPOST_PUBLIC_URL: optionalUrl,
  KEYPOST_MAIL_SUBMISSION_URL: optionalUrl,
  KEYPOST_MAIL_FROM: z.string().default('keypost@localhost'),
});

export type Env = z.input<typeof envSchema>;

export interface Config {
  database: { url: string | undefined; dataDir: string };
  log: { level: string };
  listen: { dns: ListenAddress; http: ListenAddress; smtp: ListenAddress };
  pow: {
    defaultBits: number;
    validitySeconds: number;
    graceSeconds: number;
    resourceCaseSensitive: boolean;
  };
  directory: { publicUrl: string | undefined; mailSubmissionUrl: string | undefined; mailFrom: string };
}

/** Thrown for invalid configuration; the CLI turns it into one line and exit code 2. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
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
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${String(issue.path[0])}: ${issue.message}`);
  }
  const e = parsed.data;
  return deepFreeze({
    database: { url: e.DATABASE_URL, dataDir: e.KEYPOST_DATA_DIR },
    log: { level: e.KEYPOST_LOG_LEVEL },
    listen: { dns: e.KEYPOST_DNS_LISTEN, http: e.KEYPOST_HTTP_LISTEN, smtp: e.KEYPOST_SMTP_LISTEN },
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
    },
  });
}

// The shape of a CLI command and the helpers every command shares.
import { readFile } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { KeypostError } from '../errors.js';

/** A mistake in how keypost was called: exit code 2, one line, no stack trace. */
export class UsageError extends Error {
  readonly code = 'CLI_USAGE';
}

export interface CommandContext {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
}

export interface Command {
  name: string;
  /** Full help text printed for `keypost <name> --help`. */
  usage: string;
  /** Returns the process exit code. */
  run(argv: string[], ctx: CommandContext): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * `--bits -1` would be read as two options; joined as `--bits=-1` the value reaches the option's
 * own check, which says what is allowed. Only numbers are joined: `--domain -x` stays a mistake.
 */
function joinNegativeValues(argv: string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = /^--([^=]+)$/.exec(argv[i])?.[1];
    if (name && options[name]?.type === 'string' && /^-\d/.test(argv[i + 1] ?? '')) out.push(`${argv[i]}=${argv[++i]}`);
    else out.push(argv[i]);
  }
  return out;
}

/** parseArgs's complaint, in our words, naming the argument as it was typed. */
function usageProblem(err: NodeJS.ErrnoException, argv: string[]): string {
  const option = /'(--?[^' ]+)/.exec(err.message)?.[1];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const typed = argv.find((a) => option && a.startsWith(option)) ?? option;
      return `unknown option "${typed}"${typed && /^-[^-]/.test(typed) && typed.length > 2 ? ' (a name or value cannot start with "-")' : ''}`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /missing|ambiguous/.test(err.message) ? `${option} needs a value` : `${option} takes no value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${/'([^']*)'/.exec(err.message)?.[0].replace(/'/g, '"') ?? ''}`.trim();
    default:
      return err.message.split('\n')[0];
  }
}

/** parseArgs with keypost's conventions: unknown flags are usage errors; --help is always known. */
export function parseCommandArgs<O extends Options>(argv: string[], options: O, allowPositionals = true) {
  const args = joinNegativeValues(argv, options);
  try {
    return parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(usageProblem(err as NodeJS.ErrnoException, args));
  }
}

/** Runs a parser of user input (a domain, an address) and turns its error into a usage error. */
export function asUsage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof KeypostError) throw new UsageError(err.message);
    throw err;
  }
}

const READ_PROBLEMS: Record<string, string> = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'is a directory' };

/** The contents of `path`, or of standard input for `-` (or no path when `stdinPrompt` allows it). */
export async function readFileOrStdin(path: string | undefined, stdinPrompt?: { stderr: NodeJS.WritableStream; text: string }): Promise<Buffer> {
  if (path !== undefined && path !== '-') {
    try {
      return await readFile(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      throw new UsageError(`cannot read ${path}: ${READ_PROBLEMS[code] ?? code ?? (err as Error).message}`);
    }
  }
  if (stdinPrompt && process.stdin.isTTY) stdinPrompt.stderr.write(`${stdinPrompt.text}\n`);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function parseIntegerOption(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${value}"`);
  }
  return Number(value);
}

export function writeJson(stream: NodeJS.WritableStream, value: unknown): void {
  stream.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A short age for people: 45s, 12m, 5h, 3d. */
export function formatAge(since: Date, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - since.getTime()) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : s < 172800 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86400)}d`;
}

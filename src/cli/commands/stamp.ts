// keypost stamp mint|check|purge: hashcash v1 stamps from the command line, interchangeable with the
// hashcash(1) tool's (`hashcash -m -b N resource`, `hashcash -c -d -b N -r resource stamp`).
import { loadConfig } from '../../config.js';
import { ENGINE_PREFERENCES, type EnginePreference } from '../../pow/kernel/select-engine.js';
import { MAX_MINT_BITS, mintStamp } from '../../pow/mint.js';
import { purgeExpiredStamps, verifyAndSpend } from '../../pow/spent-store.js';
import { stampFromHeaderValue } from '../../pow/stamp.js';
import { verifyPolicy, verifyStamp, type VerifyOptions, type VerifyResult } from '../../pow/verify.js';
import { withDatabase } from '../database.js';
import { CONFIRM_AFTER_SECONDS, WARN_AFTER_SECONDS, describeEstimate, rateGauge, type MintEstimate } from '../mint-estimate.js';
import { createMintProgress } from '../mint-progress.js';
import { UsageError, parseCommandArgs, parseIntegerOption, writeJson, type Command, type CommandContext } from '../command.js';

const USAGE = `Usage: keypost stamp mint <resource> [--bits N] [--header] [--workers N] [--engine E] [--yes] [--json]
       keypost stamp check <stamp> --resource R [--bits N] [--spend] [--json]
       keypost stamp purge [--json]

  mint       mint a hashcash v1 stamp for <resource> (for mail: the recipient address) and
             print it; the hash rate goes to stderr. At a terminal a mint that runs over a second
             shows its progress, rate and ETA. After a second's measuring, a mint expected to take
             over a minute says so on stderr; one expected to take over an hour stops (exit 2) at a
             terminal unless --yes is given
  check      verify a stamp; exit 0 when valid, 1 when not (the reason and its code on stderr)
  purge      delete the records of spent stamps that have expired, and print how many (for cron)

  --bits N       bits of work to mint or require (default KEYPOST_POW_DEFAULT_BITS); mint: 0-${MAX_MINT_BITS}
  --header       mint: print the stamp as an "X-Hashcash: <stamp>" header line
  --workers N    mint: worker threads (default: one per core)
  --engine E     mint: the search engine, auto (default: WebAssembly SIMD where this node has it),
                 wasm or js (the JavaScript fallback)
  --yes          mint: go on with a mint expected to take over an hour (needed only at a terminal)
  --resource R   check: the resource the stamp must be for
  --spend        check: also record the stamp as spent in the database; a stamp spent before is
                 refused (POW_STAMP_SPENT)
  --json         print the result as JSON

Validity window, clock-skew grace and resource case rules come from KEYPOST_STAMP_VALIDITY_DAYS,
KEYPOST_STAMP_GRACE_DAYS and KEYPOST_STAMP_RESOURCE_CASE_SENSITIVE.`;

const HEADER_NAME = /^\s*x-hashcash\s*:/i;

async function mint(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    bits: { type: 'string' },
    header: { type: 'boolean' },
    workers: { type: 'string' },
    engine: { type: 'string' },
    yes: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError('stamp mint takes one resource, e.g. keypost stamp mint alice@example.org --bits 20');
  const resource = positionals[0];
  if (resource === '' || resource.includes(':') || /[\x00-\x1f\x7f]/.test(resource)) {
    throw new UsageError('the resource cannot be empty or contain ":" or control characters');
  }
  const config = loadConfig(ctx.env);
  const bits = parseIntegerOption('bits', values.bits, 0, MAX_MINT_BITS) ?? config.pow.defaultBits;
  const workers = parseIntegerOption('workers', values.workers, 1, 1024);
  const engine = (values.engine ?? 'auto') as EnginePreference;
  if (!ENGINE_PREFERENCES.includes(engine)) throw new UsageError(`--engine is one of ${ENGINE_PREFERENCES.join(', ')}`);

  const progress = createMintProgress(ctx.stderr);
  // Only a person at a terminal is asked to confirm; a script or cron job is warned and goes on.
  const atTerminal = (ctx.stderr as { isTTY?: boolean }).isTTY === true && process.stdin.isTTY === true;
  const stop = new AbortController();
  let refused: MintEstimate | undefined;
  const judge = rateGauge(bits, (estimate) => {
    if (estimate.seconds > CONFIRM_AFTER_SECONDS && atTerminal && !values.yes) {
      refused = estimate;
      stop.abort();
    } else if (estimate.seconds > WARN_AFTER_SECONDS) {
      progress.note(`keypost: warning: ${describeEstimate(estimate, 'will')}`);
    }
  });
  let result;
  try {
    result = await mintStamp(resource, bits, {
      workers,
      engine,
      caseSensitive: config.pow.resourceCaseSensitive,
      signal: stop.signal,
      onProgress: (hashes) => {
        judge(hashes);
        if (!refused) progress.progress(resource, bits, hashes);
      },
    });
  } catch (err) {
    if (refused) throw new UsageError(`${describeEstimate(refused, 'would')}; run again with --yes to mint anyway`);
    throw err;
  }
  progress.done(resource, bits, result.seconds);
  const header = `X-Hashcash: ${result.stamp}`;
  if (values.json) {
    writeJson(ctx.stdout, { ...result, ...(values.header ? { header } : {}), bits });
  } else {
    ctx.stdout.write(`${values.header ? header : result.stamp}\n`);
    const rate = (result.hashesPerSecond / 1e6).toFixed(2);
    ctx.stderr.write(`minted ${bits} bits: ${result.hashes} hashes in ${result.seconds.toFixed(3)} s, ${rate} Mhash/s (${result.engine})\n`);
  }
  return 0;
}

function report(ctx: CommandContext, json: boolean, verdict: VerifyResult, spent: boolean): number {
  if (json) {
    writeJson(
      ctx.stdout,
      verdict.ok
        ? { valid: true, value: verdict.value, resource: verdict.stamp.resource, expiresAt: verdict.expiresAt.toISOString(), spent }
        : { valid: false, code: verdict.code, reason: verdict.reason },
    );
  } else if (verdict.ok) {
    const also = spent ? ', now spent' : '';
    ctx.stdout.write(`valid: ${verdict.value} bits for ${verdict.stamp.resource}, expires ${verdict.expiresAt.toISOString()}${also}\n`);
  } else {
    ctx.stderr.write(`keypost: invalid stamp: ${verdict.reason} (${verdict.code})\n`);
  }
  return verdict.ok ? 0 : 1;
}

async function check(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    resource: { type: 'string', short: 'r' },
    bits: { type: 'string', short: 'b' },
    spend: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError('stamp check takes one stamp, e.g. keypost stamp check 1:20:... --resource alice@example.org');
  if (values.resource === undefined) throw new UsageError('stamp check needs --resource: a stamp for any resource proves nothing');
  const config = loadConfig(ctx.env);
  // Accept a pasted header line, and strip the whitespace a folded header leaves.
  const text = stampFromHeaderValue(positionals[0].replace(HEADER_NAME, ''));
  const options: VerifyOptions = {
    resource: values.resource,
    bits: parseIntegerOption('bits', values.bits, 0, 160) ?? config.pow.defaultBits,
    now: new Date(),
    ...verifyPolicy(config.pow),
  };

  // Verify before touching the database: an invalid stamp needs no connection and is never recorded.
  const verdict = verifyStamp(text, options);
  if (!verdict.ok || !values.spend) return report(ctx, values.json === true, verdict, false);
  const spent = await withDatabase(ctx.env, ({ db }) => verifyAndSpend(db, text, options));
  return report(ctx, values.json === true, spent, spent.ok);
}

async function purge(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } });
  if (positionals.length !== 0) throw new UsageError('stamp purge takes no arguments');
  const removed = await withDatabase(ctx.env, ({ db }) => purgeExpiredStamps(db, new Date()));
  if (values.json) writeJson(ctx.stdout, { removed });
  else ctx.stdout.write(`purged ${removed} expired spent stamp${removed === 1 ? '' : 's'}\n`);
  return 0;
}

export const stampCommand: Command = {
  name: 'stamp',
  usage: USAGE,
  async run(argv, ctx) {
    const [action, ...rest] = argv;
    if (action === 'mint') return mint(rest, ctx);
    if (action === 'check') return check(rest, ctx);
    if (action === 'purge') return purge(rest, ctx);
    throw new UsageError('stamp takes one of: mint, check, purge; run keypost stamp --help');
  },
};

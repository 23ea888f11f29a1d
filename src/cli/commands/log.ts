// keypost log verify <zone>: audit a zone's transparency log (src/client/log-audit.ts).
// keypost log watch <address>: list an address's leaves for its holder (src/client/log-watch.ts).
import { KeypostError } from '../../errors.js';
import { CLIENT_CODES } from '../../client/errors.js';
import { logStateDir } from '../../client/log-heads.js';
import { auditLog, type LogAuditResult } from '../../client/log-audit.js';
import { watchAddress, type LogWatchResult } from '../../client/log-watch.js';
import { createStubResolver } from '../../client/stub-resolver.js';
import { UsageError, parseCommandArgs, writeJson, type Command, type CommandContext } from '../command.js';
import { EXIT_LOG_INCONSISTENT, EXIT_LOOKUP_FAILED, dnsOption } from './lookup.js';

const USAGE = `Usage: keypost log verify <zone> [--api URL] [--dns host:port] [--state-dir DIR] [--json]
       keypost log watch <address> [--allow FPR ...] [--api URL] [--dns host:port] [--json]

watch lists every leaf ever logged for the address (publications, changes, withdrawals, with
their times and fingerprints), after checking that the zone's leaves hash to its signed tree head,
and exits 1 when a leaf carries a fingerprint not given with --allow (run it from cron).

verify
Audits the zone's key transparency log: downloads every leaf from the log API, rebuilds the
Merkle tree (RFC 9162), checks the signed tree head against the rebuilt root and against the
head published at _keypost-log.<zone>, and checks that DNS serves exactly the latest leaf of every
address label (its _keypost TXT and OPENPGPKEY). The head of the last clean run is kept per zone
in the state directory, and the log must prove that it extends it (a consistency proof).

  --api URL        the directory API (default: the api= of _keypost.<zone>)
  --dns host:port  ask this DNS server (default: the nameservers of /etc/resolv.conf)
  --state-dir DIR  where the last verified head per zone is kept
                   (default: $XDG_STATE_HOME/keypost/log-heads, ~/.local/state/keypost/log-heads)
  --json           print the result as JSON

Exit status: 0 the log verifies (watch: every leaf is allowed); 1 discrepancies (each named;
watch: a fingerprint not allowed, or a log that does not match its head); 2 usage error; 4 DNS or
the log API could not be reached; 6 the log does not extend the head seen before (rolled back or
forked).`;

export const EXIT_LOG_DISCREPANCY = 1;

function print(ctx: CommandContext, result: LogAuditResult): void {
  const state = result.discrepancies.length ? `${result.discrepancies.length} discrepanc${result.discrepancies.length === 1 ? 'y' : 'ies'}` : 'verified';
  ctx.stdout.write(`${result.zone}: ${state}\ntree size   ${result.treeSize}\nroot        ${result.root}\nlabels      ${result.labels}\n`);
  for (const d of result.discrepancies) ctx.stdout.write(`  ${d.kind}${d.index === undefined ? '' : ` (leaf ${d.index})`}: ${d.message}\n`);
}

function printWatch(ctx: CommandContext, result: LogWatchResult): void {
  ctx.stdout.write(`${result.address}: ${result.entries.length} leaves in the log of ${result.zone} (${result.treeSize} leaves)\n`);
  for (const e of result.entries) {
    const settings = [e.endpoint ? `ep=${e.endpoint}` : '', e.pow !== null ? `pow=${e.pow}` : ''].filter(Boolean).join(' ');
    ctx.stdout.write(`  ${e.time}  #${e.index}  ${e.action.padEnd(8)}  ${e.fingerprint}${settings ? `  ${settings}` : ''}${e.allowed ? '' : '  NOT ALLOWED'}\n`);
  }
  for (const p of result.problems) ctx.stdout.write(`  problem: ${p}\n`);
}

async function watch(address: string, values: { api?: string; allow?: string[]; json?: boolean }, dns: ReturnType<typeof dnsOption>, ctx: CommandContext): Promise<number> {
  for (const fpr of values.allow ?? []) if (!/^([0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$/.test(fpr.replace(/\s+/g, ''))) throw new UsageError(`--allow takes a fingerprint (40 or 64 hex digits), got "${fpr}"`);
  let result: LogWatchResult;
  try {
    result = await watchAddress(address, { api: values.api, allow: values.allow, resolver: createStubResolver({ servers: dns ? [dns] : undefined }) });
  } catch (err) {
    if (err instanceof KeypostError && err.code === CLIENT_CODES.addressInvalid) throw new UsageError(err.message);
    if (err instanceof KeypostError && (err.code === CLIENT_CODES.dnsFailed || err.code === CLIENT_CODES.logUnavailable)) {
      ctx.stderr.write(`keypost: ${err.message} (${err.code})\n`);
      return EXIT_LOOKUP_FAILED;
    }
    throw err;
  }
  if (values.json) writeJson(ctx.stdout, result);
  else printWatch(ctx, result);
  const foreign = result.entries.filter((e) => !e.allowed);
  if (foreign.length) ctx.stderr.write(`keypost: ${result.address} has leaves with keys not allowed: ${[...new Set(foreign.map((e) => e.fingerprint))].join(', ')}\n`);
  return foreign.length || result.problems.length ? EXIT_LOG_DISCREPANCY : 0;
}

export const logCommand: Command = {
  name: 'log',
  usage: USAGE,
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs(argv, {
      api: { type: 'string' },
      dns: { type: 'string' },
      allow: { type: 'string', multiple: true },
      'state-dir': { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.api !== undefined && !/^https?:\/\/[^\s]+$/.test(values.api)) throw new UsageError(`--api must be an http(s) URL, got "${values.api}"`);
    if (positionals[0] === 'watch' && positionals.length === 2) {
      if (values['state-dir'] !== undefined) throw new UsageError('--state-dir goes with log verify');
      return watch(positionals[1], values, dnsOption(values.dns), ctx);
    }
    if (values.allow !== undefined) throw new UsageError('--allow goes with log watch');
    if (positionals[0] !== 'verify' || positionals.length !== 2) throw new UsageError('usage: keypost log verify <zone> | keypost log watch <address>');
    const zone = positionals[1];
    if (!/^[A-Za-z0-9.-]{1,253}$/.test(zone)) throw new UsageError(`"${zone}" is not a zone name`);
    const dns = dnsOption(values.dns);
    let result: LogAuditResult;
    try {
      result = await auditLog(zone, {
        api: values.api,
        resolver: createStubResolver({ servers: dns ? [dns] : undefined }),
        stateDir: values['state-dir'] ?? logStateDir(ctx.env),
      });
    } catch (err) {
      if (err instanceof KeypostError && (err.code === CLIENT_CODES.dnsFailed || err.code === CLIENT_CODES.logUnavailable)) {
        ctx.stderr.write(`keypost: ${err.message} (${err.code})\n`);
        return EXIT_LOOKUP_FAILED;
      }
      throw err;
    }
    if (values.json) writeJson(ctx.stdout, result);
    else print(ctx, result);
    if (result.inconsistent) return EXIT_LOG_INCONSISTENT;
    return result.discrepancies.length ? EXIT_LOG_DISCREPANCY : 0;
  },
};

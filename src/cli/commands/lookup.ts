// keypost lookup <address>: what a sender learns from DNS about an address, and whether it holds up.
import { KeypostError } from '../../errors.js';
import { CLIENT_CODES } from '../../client/errors.js';
import { REQUIRED_CHECKS } from '../../client/checks.js';
import { insecureReason } from '../../client/dnssec.js';
import { logStateDir } from '../../client/log-heads.js';
import { lookupAddress, type LookupResult } from '../../client/lookup.js';
import type { TransparencyVerdict } from '../../client/transparency-check.js';
import { parseServer, type DnsServer } from '../../client/stub-resolver.js';
import { UsageError, parseCommandArgs, writeJson, type Command, type CommandContext } from '../command.js';

const USAGE = `Usage: keypost lookup <address> [--dns host:port] [--require-dnssec] [--require-transparency] [--json]

Finds the address's key, delivery endpoint and stamp price in DNS (its _keypost TXT record, its
OPENPGPKEY record, the zone policy at _keypost.<domain> and its PKA CERT record) and checks that
  fingerprint  the key's fingerprint equals the published fpr=
  pka          the PKA record names the same fingerprint (skipped when none is published)
  user-id      the key carries a self-signed user ID for the address
  key-valid    the key is neither expired nor revoked
  directory    the directory API named by the zone policy (api=) names the same key
  transparency the zone's key transparency log (head at _keypost-log.<domain>) has the served key
               as the address's latest leaf, with an inclusion proof to a tree head signed by the
               log key published there, and extends the head seen before (skipped, "none", when
               the zone publishes no log)

The last tree head seen per zone is kept in $XDG_STATE_HOME/keypost/log-heads
(~/.local/state/keypost/log-heads), shared with keypost log verify.

The DNSSEC status is "secure" when the resolver set AD (it validated the answer) on every answer
used, else "insecure". keypost does not validate signatures itself: ask a validating resolver you
trust, on this host or over a path you trust, as GnuPG does.

  --dns host:port   ask this DNS server (default: the nameservers of /etc/resolv.conf)
  --require-dnssec  fail (exit 5) unless the DNSSEC status is secure
  --require-transparency
                    fail the transparency check when the zone publishes no log
  --json            print the result as JSON

Exit status: 0 verified; 1 a check failed; 2 usage error; 3 nothing is published for the
address; 4 the DNS lookup itself failed; 5 --require-dnssec and the answers are insecure; 6 the
zone's log does not extend the head seen before (rolled back or forked: CLIENT_LOG_INCONSISTENT).`;

export const EXIT_NOT_VERIFIED = 1;
export const EXIT_NOT_PUBLISHED = 3;
export const EXIT_LOOKUP_FAILED = 4;
/** `--require-dnssec` (lookup and send): some answer was not DNSSEC-authenticated. */
export const EXIT_DNSSEC_INSECURE = 5;
/** The zone's log was rolled back or forked since the head this client remembers (as log verify). */
export const EXIT_LOG_INCONSISTENT = 6;

/** `--dns host:port` as a usage error when malformed. */
export function dnsOption(value: string | undefined): DnsServer | undefined {
  if (value === undefined) return undefined;
  const server = parseServer(value);
  if (!server) throw new UsageError(`--dns must be an IP address and port, e.g. 127.0.0.1:5300, got "${value}"`);
  return server;
}

export function lookupJson(result: LookupResult): object {
  const { keyBytes: _bytes, expires, ...rest } = result;
  return { ...rest, expires: expires ? expires.toISOString() : null };
}

function transparencyRow(verdict: TransparencyVerdict): string {
  if (verdict.status === 'ok') return `ok (leaf ${verdict.leafIndex} of ${verdict.treeSize})`;
  return verdict.status === 'none' ? 'none' : verdict.status.toUpperCase();
}

function printResult(ctx: CommandContext, result: LookupResult): void {
  const out = ctx.stdout;
  out.write(`${result.address}: ${result.verified ? 'verified' : 'NOT verified'}\n`);
  const rows: [string, string][] = [
    ['fingerprint', result.fingerprint ?? '-'],
    ['endpoint', result.endpoint ?? '- (none published)'],
    ['price', result.price === null ? '- (none published)' : `${result.price} bits`],
    ['requires', result.requirement === 'none' ? '- (any mail)' : `${result.requirement} mail`],
    ['directory', result.api ?? '-'],
    ['expires', result.key ? (result.expires ? result.expires.toISOString() : 'never') : '-'],
    ['dnssec', result.dnssec === 'secure' ? 'secure' : `insecure (no AD on ${result.unauthenticatedAnswers.join(', ')})`],
  ];
  if (result.transparency) rows.push(['transparency', transparencyRow(result.transparency)]);
  for (const [label, value] of rows) out.write(`${label.padEnd(12)} ${value}\n`);
  out.write('checks:\n');
  const width = Math.max(...result.checks.map((c) => c.name.length));
  for (const check of result.checks) out.write(`  ${check.status.padEnd(4)}  ${check.name.padEnd(width)}  ${check.detail}\n`);
  if (result.key) out.write(result.key.endsWith('\n') ? result.key : `${result.key}\n`);
}

export const lookupCommand: Command = {
  name: 'lookup',
  usage: USAGE,
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs(argv, {
      dns: { type: 'string' },
      'require-dnssec': { type: 'boolean' },
      'require-transparency': { type: 'boolean' },
      json: { type: 'boolean' },
    });
    if (positionals.length !== 1) throw new UsageError('lookup takes one address, e.g. keypost lookup alice@example.org');
    const dns = dnsOption(values.dns);
    let result: LookupResult;
    try {
      result = await lookupAddress(positionals[0], { dns, transparency: { stateDir: logStateDir(ctx.env), require: values['require-transparency'] === true } });
    } catch (err) {
      if (err instanceof KeypostError && err.code === CLIENT_CODES.addressInvalid) throw new UsageError(err.message);
      if (err instanceof KeypostError && err.code === CLIENT_CODES.dnsFailed) {
        ctx.stderr.write(`keypost: ${err.message} (${err.code})\n`);
        return EXIT_LOOKUP_FAILED;
      }
      throw err;
    }
    // An unauthenticated "nothing published" is refused too: stripping records is as easy for an
    // attacker on the path as forging them.
    const refuseInsecure = () => {
      ctx.stderr.write(`keypost: ${insecureReason(result.address, result)} (${CLIENT_CODES.dnssecInsecure})\n`);
      return EXIT_DNSSEC_INSECURE;
    };
    const insecure = values['require-dnssec'] === true && result.dnssec !== 'secure';
    if (!result.published) {
      if (values.json) writeJson(ctx.stdout, lookupJson(result));
      if (insecure) return refuseInsecure();
      ctx.stderr.write(`keypost: ${result.problem} (CLIENT_NOT_PUBLISHED)\n`);
      return EXIT_NOT_PUBLISHED;
    }
    if (values.json) writeJson(ctx.stdout, lookupJson(result));
    else printResult(ctx, result);
    if (insecure) return refuseInsecure();
    if (result.transparency?.status === 'inconsistent') {
      ctx.stderr.write(`keypost: ${result.transparency.detail} (${CLIENT_CODES.logInconsistent})\n`);
      return EXIT_LOG_INCONSISTENT;
    }
    if (!result.verified) {
      const failed = result.checks.filter((c) => c.status === 'fail' || (REQUIRED_CHECKS.includes(c.name) && c.status !== 'pass'));
      const code = failed.some((c) => c.name === 'transparency') ? CLIENT_CODES.transparencyFailed : CLIENT_CODES.keyUnverified;
      ctx.stderr.write(`keypost: ${result.address} is not verified: ${failed.map((c) => c.name).join(', ')} (${code})\n`);
      return EXIT_NOT_VERIFIED;
    }
    return 0;
  },
};

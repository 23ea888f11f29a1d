// keypost lookup <address>: what a sender learns from DNS about an address, and whether it holds up.
import { KeypostError } from '../../errors.js';
import { CLIENT_CODES } from '../../client/errors.js';
import { REQUIRED_CHECKS } from '../../client/checks.js';
import { insecureReason } from '../../client/dnssec.js';
import { lookupAddress, type LookupResult } from '../../client/lookup.js';
import { parseServer, type DnsServer } from '../../client/stub-resolver.js';
import { UsageError, parseCommandArgs, writeJson, type Command, type CommandContext } from '../command.js';

const USAGE = `Usage: keypost lookup <address> [--dns host:port] [--require-dnssec] [--json]

Finds the address's key, delivery endpoint and stamp price in DNS (its _keypost TXT record, its
OPENPGPKEY record, the zone policy at _keypost.<domain> and its PKA CERT record) and checks that
  fingerprint  the key's fingerprint equals the published fpr=
  pka          the PKA record names the same fingerprint (skipped when none is published)
  user-id      the key carries a self-signed user ID for the address
  key-valid    the key is neither expired nor revoked
  directory    the directory API named by the zone policy (api=) names the same key

The DNSSEC status is "secure" when the resolver set AD (it validated the answer) on every answer
used, else "insecure". keypost does not validate signatures itself: ask a validating resolver you
trust, on this host or over a path you trust, as GnuPG does.

  --dns host:port   ask this DNS server (default: the nameservers of /etc/resolv.conf)
  --require-dnssec  fail (exit 5) unless the DNSSEC status is secure
  --json            print the result as JSON

Exit status: 0 verified; 1 a check failed; 2 usage error; 3 nothing is published for the
address; 4 the DNS lookup itself failed; 5 --require-dnssec and the answers are insecure.`;

export const EXIT_NOT_VERIFIED = 1;
export const EXIT_NOT_PUBLISHED = 3;
export const EXIT_LOOKUP_FAILED = 4;
/** `--require-dnssec` (lookup and send): some answer was not DNSSEC-authenticated. */
export const EXIT_DNSSEC_INSECURE = 5;

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
      json: { type: 'boolean' },
    });
    if (positionals.length !== 1) throw new UsageError('lookup takes one address, e.g. keypost lookup alice@example.org');
    const dns = dnsOption(values.dns);
    let result: LookupResult;
    try {
      result = await lookupAddress(positionals[0], { dns });
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
    if (!result.verified) {
      const failed = result.checks.filter((c) => c.status === 'fail' || (REQUIRED_CHECKS.includes(c.name) && c.status !== 'pass'));
      ctx.stderr.write(`keypost: ${result.address} is not verified: ${failed.map((c) => c.name).join(', ')} (CLIENT_KEY_UNVERIFIED)\n`);
      return EXIT_NOT_VERIFIED;
    }
    return 0;
  },
};

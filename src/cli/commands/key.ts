// keypost key import: publish a keyring's addresses in one zone (the operator vouches for them).
import { importKeyring } from '../../directory/key-import.js';
import { normalizeDomain } from '../../protocol/address.js';
import { KeypostError } from '../../errors.js';
import { withDatabase } from '../database.js';
import { createProgress } from '../progress.js';
import { rebuildServedForms } from '../../keys/rebuild.js';
import { UsageError, parseCommandArgs, readFileOrStdin, writeJson, type Command, type CommandContext } from '../command.js';

const USAGE = `Usage: keypost key import --domain <domain> <file.asc> [--json]
       keypost key rebuild [--check] [--json]

Publishes every key in an armoured (or binary) keyring for its user IDs in <domain>, without mail
verification: the operator vouches for them, as the domain owner does through the API. Each key
passes the key policy first; keys that fail, user IDs outside <domain>, and addresses already given
to an earlier key of the same keyring are skipped and listed with the reason. A newly imported key
replaces the key an address had before. Use "-" to read the keyring from standard input.

  --domain D   the zone to publish in (must exist: keypost domain add)
  --json       print the summary as JSON

key rebuild derives every served form again from the stored certificates (the merge of every
accepted upload of each key): the key served by fingerprint, its facts in /v1/records, and the
minimal key DNS and WKD serve for each published address. It writes what differs and bumps the
zone serials, and lists each change. With --check it writes nothing and exits 1 when anything
would change (a migration check).

  --check      report only; exit 1 when a served form would change`;

async function importCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { domain: { type: 'string' }, json: { type: 'boolean' } });
  if (!values.domain) throw new UsageError('key import needs --domain <domain>');
  if (positionals.length !== 1) throw new UsageError('key import takes one keyring file (or - for standard input)');
  let domain: string;
  try {
    domain = normalizeDomain(values.domain);
  } catch (err) {
    throw new UsageError((err as KeypostError).message);
  }
  const input = new Uint8Array(await readFileOrStdin(positionals[0]));
  return withDatabase(ctx.env, async ({ db }) => {
    const progress = createProgress(ctx.stderr, 'importing');
    const summary = await importKeyring(db, input, { domain, onProgress: (done, total) => progress.update(done, total) });
    progress.finish();
    const rate = summary.seconds > 0 ? Math.round(summary.published / summary.seconds) : summary.published;
    if (values.json) {
      writeJson(ctx.stdout, { ...summary, addresses_per_second: rate });
      return 0;
    }
    ctx.stdout.write(
      `${summary.keys} key(s) read; published ${summary.published} address(es) in ${summary.domain}` +
        `${summary.replaced ? ` (${summary.replaced} replaced an older key)` : ''}; skipped ${summary.skipped.length}` +
        ` [${summary.seconds.toFixed(1)} s, ${rate} addresses/s]\n`,
    );
    for (const skip of summary.skipped) {
      const what = [`key #${skip.index}`, skip.fingerprint, skip.address].filter(Boolean).join(' ');
      ctx.stdout.write(`  skipped ${what}: ${skip.reason} (${skip.code})\n`);
    }
    return 0;
  });
}

async function rebuildCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { values } = parseCommandArgs(argv, { check: { type: 'boolean' }, json: { type: 'boolean' } }, false);
  return withDatabase(ctx.env, async ({ db }) => {
    const progress = createProgress(ctx.stderr, values.check ? 'checking' : 'rebuilding');
    const report = await rebuildServedForms(db, { apply: !values.check, onProgress: (done, total) => progress.update(done, total) });
    progress.finish();
    if (values.json) writeJson(ctx.stdout, report);
    else {
      const verb = values.check ? 'would change' : 'changed';
      ctx.stdout.write(`${report.certificates} certificate(s); ${report.changes.length} served form(s) ${verb}; ${report.failures.length} refused by the key policy\n`);
      for (const c of report.changes) ctx.stdout.write(`  ${verb} ${c.fingerprint} ${c.form}${c.address ? ` ${c.address}` : ''}\n`);
      for (const f of report.failures) ctx.stdout.write(`  left as served ${f.fingerprint}: ${f.reason} (${f.code})\n`);
    }
    return values.check && report.changes.length > 0 ? 1 : 0;
  });
}

export const keyCommand: Command = {
  name: 'key',
  usage: USAGE,
  async run(argv, ctx) {
    const [sub, ...rest] = argv;
    if (sub === 'import') return importCommand(rest, ctx);
    if (sub === 'rebuild') return rebuildCommand(rest, ctx);
    throw new UsageError('key takes: import, rebuild; run keypost key --help');
  },
};

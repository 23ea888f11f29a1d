// keypost dns records <domain>: what the DNS server publishes for a zone, in zone-file form, read
// the way a DNS node reads it (a full read of the zone, as the read model makes) and encoded by
// the same code.
import { KeypostError } from '../../errors.js';
import { encodeZone } from '../../dns/zone-encoding.js';
import { readZone } from '../../published/zone-reader.js';
import { zoneFileLines } from '../../dns/zone-file.js';
import { withDatabase } from '../database.js';
import { UsageError, asUsage, parseCommandArgs, writeJson, type Command, type CommandContext } from '../command.js';
import { normalizeDomain } from '../../protocol/address.js';
import { isServedDomain } from '../../directory/domains.js';
import { zoneDelegation } from '../../dns/dnssec/delegation.js';
import { rollover, status } from './dns-rollover.js';
import { DNSSEC_ALGORITHMS, isDnssecAlgorithm } from '../../dns/dnssec/algorithms.js';

const USAGE = `Usage: keypost dns <records|ds|status|rollover> <domain> [--json]
       keypost dns rollover <domain> [--algorithm 13|15] | --ds-published

  records <domain>   every record keypost's DNS server publishes for <domain> (SOA, NS, zone
                     policy, and the OPENPGPKEY, _keypost TXT and PKA CERT records of each
                     published address) in zone-file form, as secondaries transfer it
  ds <domain>        the DS record (SHA-256, digest type 2) and the DNSKEY to give the registrar,
                     so that resolvers can validate the signed zone
  status <domain>    the zone's signing keys (tag, algorithm, role, state, since) and the next
                     step of a key rollover with its earliest time
  rollover <domain>  rolls the zone's signing key with pre-publication (RFC 6781 §4.1): a new
                     key is published now and takes over on its own once caches hold it; then
                     \`dns status\` shows the DS to give the registrar
    --algorithm N    roll to another algorithm (RFC 6781 §4.1.4): the new key signs
                     everything before it is published, the old one after it has gone
    --ds-published   the parent's DS now names the new key: the old key is removed once no
                     cache can hold the old DS or data it signed`;

async function records(zone: string, ctx: CommandContext): Promise<number> {
  return withDatabase(ctx.env, async (handle, config) => {
    const read = await readZone(handle.db, zone, undefined);
    if (!read || read.kind !== 'full') throw new KeypostError('DNS_ZONE_UNKNOWN', `keypost does not serve the zone "${zone}"`);
    const { snapshot } = encodeZone(read, { powBits: config.pow.defaultBits, apiUrl: config.directory.publicUrl });
    for await (const line of zoneFileLines(snapshot)) ctx.stdout.write(`${line}\n`);
    return 0;
  });
}

/** RFC 4034 §5: what the parent zone publishes for this one, in presentation form. */
async function ds(zone: string, json: boolean, ctx: CommandContext): Promise<number> {
  return withDatabase(ctx.env, async ({ db }) => {
    if (!(await isServedDomain(db, zone))) throw new KeypostError('DNS_ZONE_UNKNOWN', `keypost does not serve the zone "${zone}"`);
    const records = await zoneDelegation(db, zone);
    if (!records.length) throw new KeypostError('DNS_ZONE_UNSIGNED', `${zone} is not signed; turn signing on with: keypost domain set ${zone} --dnssec on`);
    if (json) {
      writeJson(ctx.stdout, records.map((r) => ({ key_tag: r.keyTag, algorithm: r.algorithm, digest_type: r.digestType, ds: r.ds, dnskey: r.dnskey })));
      return 0;
    }
    for (const r of records) ctx.stdout.write(`${r.ds}\n${r.dnskey}\n`);
    return 0;
  });
}

const SUBCOMMANDS = ['records', 'ds', 'status', 'rollover'];

export const dnsCommand: Command = {
  name: 'dns',
  usage: USAGE,
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' }, 'ds-published': { type: 'boolean' }, algorithm: { type: 'string' } });
    const [sub, domain, ...extra] = positionals;
    if (!SUBCOMMANDS.includes(sub) || !domain || extra.length) throw new UsageError('usage: keypost dns <records|ds|status|rollover> <domain>');
    if ((values['ds-published'] || values.algorithm !== undefined) && sub !== 'rollover') throw new UsageError('--ds-published and --algorithm go with: keypost dns rollover <domain>');
    if (values['ds-published'] && values.algorithm !== undefined) throw new UsageError('--algorithm starts a rollover; --ds-published confirms one: give one of them');
    const algorithm = values.algorithm === undefined ? undefined : Number(values.algorithm);
    if (algorithm !== undefined && !isDnssecAlgorithm(algorithm)) throw new UsageError(`--algorithm takes ${DNSSEC_ALGORITHMS.join(' or ')}, not "${values.algorithm}"`);
    // A name that cannot be a zone is a usage error ("invalid name"), not a zone we lack.
    const zone = asUsage(() => normalizeDomain(domain));
    const json = values.json === true;
    if (sub === 'records') return records(zone, ctx);
    if (sub === 'ds') return ds(zone, json, ctx);
    if (sub === 'status') return status(zone, json, ctx);
    return rollover(zone, { dsPublished: values['ds-published'] === true, algorithm }, json, ctx);
  },
};

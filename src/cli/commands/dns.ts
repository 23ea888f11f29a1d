// keypost dns records <domain>: what the DNS server publishes for a zone, in zone-file form, read
// the way a DNS node reads it (a full read of the zone, as the read model makes) and encoded by
// the same code.
import { KeypostError } from '../../errors.js';
import { encodeZone } from '../../dns/zone-encoding.js';
import { readZone } from '../../published/zone-reader.js';
import { zoneFileLines } from '../../dns/zone-file.js';
import { withDatabase } from '../database.js';
import { UsageError, asUsage, parseCommandArgs, type Command } from '../command.js';
import { normalizeDomain } from '../../protocol/address.js';

const USAGE = `Usage: keypost dns records <domain>

Prints every record keypost's DNS server publishes for <domain> (SOA, NS, zone policy, and the
OPENPGPKEY, _keypost TXT and PKA CERT records of each published address) in zone-file form.`;

export const dnsCommand: Command = {
  name: 'dns',
  usage: USAGE,
  async run(argv, ctx) {
    const { positionals } = parseCommandArgs(argv, {});
    const [sub, domain, ...extra] = positionals;
    if (sub !== 'records' || !domain || extra.length) throw new UsageError('usage: keypost dns records <domain>');
    // A name that cannot be a zone is a usage error ("invalid name"), not a zone we lack.
    const zone = asUsage(() => normalizeDomain(domain));
    return withDatabase(ctx.env, async (handle, config) => {
      const read = await readZone(handle.db, zone, undefined);
      if (!read || read.kind !== 'full') throw new KeypostError('DNS_ZONE_UNKNOWN', `keypost does not serve the zone "${zone}"`);
      const { snapshot } = encodeZone(read, { powBits: config.pow.defaultBits, apiUrl: config.directory.publicUrl });
      for await (const line of zoneFileLines(snapshot)) ctx.stdout.write(`${line}\n`);
      return 0;
    });
  },
};

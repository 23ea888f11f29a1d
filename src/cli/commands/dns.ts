// keypost dns records <domain>: what the DNS server publishes for a zone, in zone-file form, read
// from the database the same way a DNS node builds its snapshot.
import { KeypostError } from '../../errors.js';
import { loadZone } from '../../dns/zone-loader.js';
import { zoneFileLines } from '../../dns/zone-file.js';
import { withDatabase } from '../database.js';
import { UsageError, parseCommandArgs, type Command } from '../command.js';

const USAGE = `Usage: keypost dns records <domain>

Prints every record keypost's DNS server publishes for <domain> (SOA, NS, zone policy, and the
OPENPGPKEY, _keypost TXT and PKA CERT records of each published address) in zone-file form.`;

export const dnsCommand: Command = {
  name: 'dns',
  summary: 'inspect what the DNS server publishes',
  usage: USAGE,
  async run(argv, ctx) {
    const { positionals } = parseCommandArgs(argv, {});
    const [sub, domain, ...extra] = positionals;
    if (sub !== 'records' || !domain || extra.length) throw new UsageError('usage: keypost dns records <domain>');
    const zone = domain.trim().toLowerCase().replace(/\.$/, '');
    return withDatabase(ctx.env, async (handle, config) => {
      const loaded = await loadZone(handle.db, zone, undefined, {
        powBits: config.pow.defaultBits,
        apiUrl: config.directory.publicUrl,
      });
      if (!loaded) throw new KeypostError('DNS_ZONE_UNKNOWN', `keypost does not serve the zone "${zone}"`);
      for await (const line of zoneFileLines(loaded.snapshot)) ctx.stdout.write(`${line}\n`);
      return 0;
    });
  },
};

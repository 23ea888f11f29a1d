// keypost domain <add|list|show|set|remove|token rotate>: zones and their owners' policy.
// On the embedded default these reach a running `serve` through its socket (withDatabase).
import type { Db, ZoneDnsSettings } from '../../db/database.js';
import { KeypostError } from '../../errors.js';
import {
  createDomain,
  listDomains,
  removeDomain,
  requireDomain,
  rotateOwnerToken,
  updateDomain,
  type Domain,
  type DomainChange,
} from '../../directory/domains.js';
import { normalizeApiUrl, normalizeSmtpUri } from '../../directory/names.js';
import { normalizeDomain } from '../../protocol/address.js';
import { KP1_MAX_POW_BITS } from '../../protocol/kp1.js';
import { parseRequirement } from '../../protocol/requirement.js';
import {
  applyDnsChange,
  parseHostmaster,
  parseNameServer,
  parseOpenpgpkeyAddress,
  parseSecondary,
  parseTsigKey,
  redactDnsSettings,
  type DnsSettingsChange,
} from '../../directory/zone-settings.js';
import { DEFAULT_DNSSEC_ALGORITHM, DNSSEC_ALGORITHMS, isDnssecAlgorithm } from '../../dns/dnssec/algorithms.js';
import { replaceSigningKey, zoneSigningKeys, type StoredKeyInfo } from '../../dns/dnssec/key-store.js';
import { applyDnssecChange, type DnssecChange } from '../../dns/dnssec/signing-change.js';
import { nameServers } from '../../dns/zone-records.js';
import { openSecretBox } from '../../secrets/sealed-box.js';
import { withDatabase } from '../database.js';
import { missingAddressWarning, nameServersWithoutAddress } from '../name-server-addresses.js';
import { UsageError, asUsage, parseCommandArgs, parseIntegerOption, writeJson, type Command, type CommandContext } from '../command.js';

const POLICY_OPTIONS = {
  pow: { type: 'string' },
  endpoint: { type: 'string' },
  'next-hop': { type: 'string' },
  api: { type: 'string' },
  require: { type: 'string' },
  transparency: { type: 'string' },
  ns: { type: 'string', multiple: true },
  hostmaster: { type: 'string' },
  'openpgpkey-address': { type: 'string', multiple: true },
  dnssec: { type: 'string' },
  'dnssec-algorithm': { type: 'string' },
  json: { type: 'boolean' },
} as const;

const SET_OPTIONS = {
  ...POLICY_OPTIONS,
  secondary: { type: 'string', multiple: true },
  'tsig-key': { type: 'string', multiple: true },
  'clear-secondaries': { type: 'boolean' },
  'soa-refresh': { type: 'string' },
  'soa-retry': { type: 'string' },
  'soa-expire': { type: 'string' },
  'soa-minimum': { type: 'string' },
  'soa-ttl': { type: 'string' },
} as const;

const USAGE = `Usage: keypost domain <subcommand> [options]

  add <domain> [policy options]   serve a new zone; prints its owner token once
  list                            every zone with its serial and published addresses
  show <domain>                   one zone's policy and DNS settings
  set <domain> [policy options] [DNS options]
  token rotate <domain>           replace the owner token (the old one stops working)
  remove <domain>                 stop serving the zone and withdraw all its addresses

Policy options:
  --pow N                    stamp price in bits (0-40) for the zone's addresses; "default" clears
  --endpoint URI             published ep, e.g. smtp://mx.example.org:25 or smtp://<name>.onion:25
  --next-hop URI             private relay target of the gateway, e.g. smtp://10.0.0.5:25
  --api URL                  published directory URL, e.g. https://keys.example.org
  --require WHAT             protection mail for the zone must carry: encrypted (PGP/MIME or an
                             inline PGP message), signed (a signature that verifies against the
                             sender's key in DNS), encrypted,signed, or none (the default).
                             Published as req= in _keypost; the gateway refuses other mail at
                             DATA with 550 5.7.1. Addresses override it through the owner API
  --transparency on|off      keep the zone's key transparency log (default on): every change to a
                             served key appends a leaf and a signed head is published at
                             _keypost-log. off: no leaves or heads are written and the head leaves
                             DNS (what was logged stays); on again logs every address's state
  --ns NAME[=IP,...]         a name server (repeat; the first is the SOA MNAME); IPs give glue
  --hostmaster MAILBOX       SOA RNAME, e.g. hostmaster@example.org
  --openpgpkey-address IP    A/AAAA of openpgpkey.<domain> for WKD (repeat)
  --dnssec on|off            sign the zone (default on for a new zone); off removes its key, so
                             remove the DS at the registrar first
  --dnssec-algorithm 13|15   13 = ECDSA P-256/SHA-256 (default), 15 = Ed25519; on a signed zone
                             a change starts an algorithm rollover (RFC 6781 §4.1.4): follow it
                             with keypost dns status
  An empty value (--endpoint "") clears a setting.

DNS options (set only):
  --secondary IP[:PORT][/TSIGNAME]   allow AXFR and send NOTIFY to a secondary (repeat; adds)
  --clear-secondaries                remove all secondaries first
  --tsig-key NAME=BASE64SECRET       define an HMAC-SHA256 TSIG key (NAME= removes it)
  --soa-refresh N --soa-retry N --soa-expire N --soa-minimum N --soa-ttl N   SOA timers, seconds

  --json   print the result as JSON`;

/** Input mistakes found by the shared validators are usage errors here (exit 2). */
function oneDomain(positionals: string[], sub: string): string {
  if (positionals.length !== 1) throw new UsageError(`domain ${sub} takes exactly one domain name`);
  return asUsage(() => normalizeDomain(positionals[0]));
}

type PolicyValues = {
  pow?: string;
  endpoint?: string;
  'next-hop'?: string;
  api?: string;
  require?: string;
  transparency?: string;
  ns?: string[];
  hostmaster?: string;
  'openpgpkey-address'?: string[];
  dnssec?: string;
  'dnssec-algorithm'?: string;
};

function policyChange(values: PolicyValues): DomainChange {
  return asUsage(() => {
    const change: DomainChange = {};
    if (values.pow !== undefined) change.powBits = values.pow === 'default' || values.pow === '' ? null : parseIntegerOption('pow', values.pow, 0, KP1_MAX_POW_BITS)!;
    if (values.endpoint !== undefined) change.endpoint = values.endpoint === '' ? null : normalizeSmtpUri(values.endpoint, 'endpoint');
    if (values['next-hop'] !== undefined) change.nextHop = values['next-hop'] === '' ? null : normalizeSmtpUri(values['next-hop'], 'next hop');
    if (values.api !== undefined) change.apiUrl = values.api === '' ? null : normalizeApiUrl(values.api);
    if (values.require !== undefined) {
      const requirement = values.require === '' ? 'none' : parseRequirement(values.require);
      if (!requirement) throw new UsageError(`--require takes encrypted, signed, encrypted,signed or none, not "${values.require}"`);
      change.requirement = requirement;
    }
    if (values.transparency !== undefined) {
      if (values.transparency !== 'on' && values.transparency !== 'off') throw new UsageError(`--transparency takes on or off, not "${values.transparency}"`);
      change.transparency = values.transparency === 'on';
    }
    return change;
  });
}

function dnsChange(values: PolicyValues & Record<string, unknown>): DnsSettingsChange {
  return asUsage(() => {
    const change: DnsSettingsChange = {};
    if (values.ns) change.nameservers = values.ns.map(parseNameServer);
    if (values.hostmaster !== undefined) change.hostmaster = parseHostmaster(values.hostmaster);
    if (values['openpgpkey-address']) change.openpgpkeyAddresses = values['openpgpkey-address'].map(parseOpenpgpkeyAddress);
    if (values['clear-secondaries']) change.clearSecondaries = true;
    if (values.secondary) change.addSecondaries = (values.secondary as string[]).map(parseSecondary);
    if (values['tsig-key']) change.tsigKeys = (values['tsig-key'] as string[]).map(parseTsigKey);
    const soa: Record<string, number> = {};
    for (const timer of ['refresh', 'retry', 'expire', 'minimum', 'ttl']) {
      const raw = values[`soa-${timer}`] as string | undefined;
      if (raw !== undefined) soa[timer] = parseIntegerOption(`soa-${timer}`, raw, 0, 2_147_483_647)!;
    }
    if (Object.keys(soa).length) change.soa = soa;
    return change;
  });
}

function dnssecChange(values: PolicyValues): DnssecChange {
  const change: DnssecChange = {};
  if (values.dnssec !== undefined) {
    if (values.dnssec !== 'on' && values.dnssec !== 'off') throw new UsageError(`--dnssec takes on or off, not "${values.dnssec}"`);
    change.enabled = values.dnssec === 'on';
  }
  if (values['dnssec-algorithm'] !== undefined) {
    const algorithm = Number(values['dnssec-algorithm']);
    if (!isDnssecAlgorithm(algorithm)) throw new UsageError(`--dnssec-algorithm takes ${DNSSEC_ALGORITHMS.join(' or ')}, not "${values['dnssec-algorithm']}"`);
    if (change.enabled === false) throw new UsageError('--dnssec-algorithm cannot go with --dnssec off');
    change.algorithm = algorithm;
  }
  return change;
}

const describeKeys = (keys: StoredKeyInfo[]) => (keys.length ? keys.map((k) => ({ algorithm: k.algorithm, flags: k.flags, key_tag: k.keyTag, state: k.state })) : null);

function describe(domain: Domain, keys: StoredKeyInfo[]): object {
  return {
    name: domain.name,
    serial: domain.serial,
    pow: domain.powBits,
    endpoint: domain.endpoint,
    next_hop: domain.nextHop,
    api: domain.apiUrl,
    require: domain.requirement,
    transparency: domain.transparency,
    dns: redactDnsSettings(domain.dns),
    dnssec: describeKeys(keys),
    created_at: domain.createdAt.toISOString(),
    updated_at: domain.updatedAt.toISOString(),
  };
}

function printDomain(ctx: CommandContext, domain: Domain, keys: StoredKeyInfo[], extra: Record<string, string | number> = {}): void {
  const dns = domain.dns;
  const lines: [string, string | number][] = [
    ['domain', domain.name],
    ['serial', domain.serial],
    ['pow', domain.powBits ?? 'server default'],
    ['endpoint', domain.endpoint ?? '-'],
    ['next hop', domain.nextHop ?? '-'],
    ['api', domain.apiUrl ?? '-'],
    ['require', domain.requirement],
    ['transparency', domain.transparency ? 'on' : 'off'],
    ['name servers', dns.nameservers.map((ns) => [ns.name, ...(ns.ipv4 ?? []), ...(ns.ipv6 ?? [])].join(' ')).join(', ') || '-'],
    ['hostmaster', dns.hostmaster ?? '-'],
    ['soa', dns.soa ? Object.entries(dns.soa).map(([k, v]) => `${k}=${v}`).join(' ') : 'defaults'],
    ['openpgpkey', (dns.openpgpkeyAddresses ?? []).join(', ') || '-'],
    ['secondaries', (dns.secondaries ?? []).map((s) => `${s.address}${s.port ? `:${s.port}` : ''}${s.tsigKey ? `/${s.tsigKey}` : ''}`).join(', ') || '-'],
    ['tsig keys', Object.keys(dns.tsigKeys ?? {}).join(', ') || '-'],
    ['dnssec', keys.map((k) => `algorithm ${k.algorithm}, key tag ${k.keyTag}${keys.length > 1 ? ` (${k.state})` : ''}`).join('; ') || 'off'],
    ...Object.entries(extra),
  ];
  for (const [label, value] of lines) ctx.stdout.write(`${label.padEnd(13)} ${value}\n`);
}

/** Warns on stderr about each name server of `domain` that resolvers could not reach. */
async function warnUnreachableNameServers(db: Db, domain: Domain, ctx: CommandContext): Promise<void> {
  const others = (await listDomains(db)).filter((d) => d.name !== domain.name).flatMap((d) => d.dns.nameservers);
  for (const name of await nameServersWithoutAddress(nameServers(domain), others)) ctx.stderr.write(`${missingAddressWarning(name)}\n`);
}

async function add(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, POLICY_OPTIONS);
  const name = oneDomain(positionals, 'add');
  const policy = policyChange(values);
  const dns = applyDnsChangeAsUsage({ nameservers: [] }, dnsChange(values));
  // Every zone is signed unless the operator says otherwise.
  const signing = { enabled: true, ...dnssecChange(values) };
  return withDatabase(ctx.env, async ({ db }, config) => {
    const box = signing.enabled ? openSecretBox(config.secrets) : undefined;
    const { domain, ownerToken, keys } = await db.transaction().execute(async (tx) => {
      const created = await createDomain(tx, { name, policy, dns, now: new Date() });
      if (box) await replaceSigningKey(tx, box, name, signing.algorithm ?? DEFAULT_DNSSEC_ALGORITHM);
      return { ...created, keys: await zoneSigningKeys(tx, name) };
    });
    if (values.json) {
      writeJson(ctx.stdout, { domain: describe(domain, keys), owner_token: ownerToken });
    } else {
      ctx.stdout.write(`added ${domain.name} (serial ${domain.serial})${keys.length ? `, signed with algorithm ${keys[0].algorithm}` : ''}\n`);
      if (keys.length) ctx.stdout.write(`give the registrar the DS record printed by: keypost dns ds ${domain.name}\n`);
      ctx.stdout.write(`owner token (shown once; keypost stores only its hash):\n${ownerToken}\n`);
    }
    await warnUnreachableNameServers(db, domain, ctx);
    return 0;
  });
}

function applyDnsChangeAsUsage(current: ZoneDnsSettings, change: DnsSettingsChange): ZoneDnsSettings {
  return asUsage(() => applyDnsChange(current, change));
}

async function set(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, SET_OPTIONS);
  const name = oneDomain(positionals, 'set');
  const change = policyChange(values);
  const dns = dnsChange(values);
  const signing = dnssecChange(values);
  if (Object.keys(change).length === 0 && Object.keys(dns).length === 0 && Object.keys(signing).length === 0) throw new UsageError('domain set: nothing to change');
  return withDatabase(ctx.env, async ({ db }, config) => {
    const box = signing.enabled !== false && Object.keys(signing).length ? openSecretBox(config.secrets) : undefined;
    const { domain, keys } = await db.transaction().execute(async (tx) => {
      const current = await requireDomain(tx, name);
      if (Object.keys(dns).length) change.dns = applyDnsChangeAsUsage(current.dns, dns);
      let updated = await updateDomain(tx, name, change);
      if (Object.keys(signing).length && (await applyDnssecChange(tx, box!, name, signing))) updated = await requireDomain(tx, name);
      return { domain: updated, keys: await zoneSigningKeys(tx, name) };
    });
    if (values.json) writeJson(ctx.stdout, { domain: describe(domain, keys) });
    else {
      printDomain(ctx, domain, keys);
      if (keys.length > 1) ctx.stdout.write(`the signing key is rolling; the next step and when: keypost dns status ${domain.name}\n`);
    }
    if (dns.nameservers) await warnUnreachableNameServers(db, domain, ctx);
    return 0;
  });
}

async function list(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } });
  if (positionals.length) throw new UsageError('domain list takes no arguments');
  return withDatabase(ctx.env, async ({ db }) => {
    const domains = await listDomains(db);
    if (values.json) {
      const keys = await Promise.all(domains.map((d) => zoneSigningKeys(db, d.name)));
      writeJson(ctx.stdout, domains.map((d, i) => ({ ...describe(d, keys[i]), published_addresses: d.publishedAddresses })));
      return 0;
    }
    if (domains.length === 0) {
      ctx.stdout.write('no domains; add one with: keypost domain add <domain>\n');
      return 0;
    }
    const width = Math.max(6, ...domains.map((d) => d.name.length));
    ctx.stdout.write(`${'DOMAIN'.padEnd(width)}  ${'SERIAL'.padEnd(10)}  ${'ADDRESSES'.padStart(9)}  POW      ENDPOINT\n`);
    for (const d of domains) {
      ctx.stdout.write(
        `${d.name.padEnd(width)}  ${String(d.serial).padEnd(10)}  ${String(d.publishedAddresses).padStart(9)}  ${String(d.powBits ?? 'default').padEnd(7)}  ${d.endpoint ?? '-'}\n`,
      );
    }
    return 0;
  });
}

async function show(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } });
  const name = oneDomain(positionals, 'show');
  return withDatabase(ctx.env, async ({ db }) => {
    const domain = (await listDomains(db)).find((d) => d.name === name);
    if (!domain) throw new KeypostError('DIR_DOMAIN_NOT_FOUND', `domain ${name} is not served here`);
    const keys = await zoneSigningKeys(db, name);
    if (values.json) writeJson(ctx.stdout, { ...describe(domain, keys), published_addresses: domain.publishedAddresses });
    else printDomain(ctx, domain, keys, { addresses: domain.publishedAddresses });
    return 0;
  });
}

async function remove(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } });
  const name = oneDomain(positionals, 'remove');
  return withDatabase(ctx.env, async ({ db }) => {
    const { addresses } = await db.transaction().execute((tx) => removeDomain(tx, name));
    if (values.json) writeJson(ctx.stdout, { removed: name, withdrawn_addresses: addresses });
    else ctx.stdout.write(`removed ${name}; ${addresses} published address(es) withdrawn\n`);
    return 0;
  });
}

async function token(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } });
  if (positionals[0] !== 'rotate') throw new UsageError('usage: keypost domain token rotate <domain>');
  const name = oneDomain(positionals.slice(1), 'token rotate');
  return withDatabase(ctx.env, async ({ db }) => {
    const ownerToken = await db.transaction().execute((tx) => rotateOwnerToken(tx, name));
    if (values.json) writeJson(ctx.stdout, { domain: name, owner_token: ownerToken });
    else ctx.stdout.write(`new owner token for ${name} (shown once; the old token no longer works):\n${ownerToken}\n`);
    return 0;
  });
}

const SUBCOMMANDS: Record<string, (argv: string[], ctx: CommandContext) => Promise<number>> = { add, list, show, set, remove, token };

export const domainCommand: Command = {
  name: 'domain',
  usage: USAGE,
  async run(argv, ctx) {
    const [sub, ...rest] = argv;
    const handler = sub ? SUBCOMMANDS[sub] : undefined;
    if (!handler) throw new UsageError(`domain takes one of: ${Object.keys(SUBCOMMANDS).join(', ')}; run keypost domain --help`);
    return handler(rest, ctx);
  },
};

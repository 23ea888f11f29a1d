// Every keypost command, in the order `keypost --help` lists them. An area adds its commands here.
// Modules load only when their command runs: `keypost --help` and `--version` must not pay for
// PGlite, openpgp and fastify (issue: every call took a second before anything happened).
import type { Command } from '../command.js';

export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: CommandEntry[] = [
  { name: 'serve', summary: 'run the DNS server, directory API and SMTP gateway', load: async () => (await import('./serve.js')).serveCommand },
  { name: 'status', summary: 'show the database, running servers, zones and queue', load: async () => (await import('./status.js')).statusCommand },
  { name: 'migrate', summary: 'apply, undo or list database migrations', load: async () => (await import('./migrate.js')).migrateCommand },
  { name: 'domain', summary: 'add, list, show, change and remove the zones keypost serves', load: async () => (await import('./domain.js')).domainCommand },
  { name: 'key', summary: 'bulk-import a keyring into a zone; rebuild served keys from stored certificates', load: async () => (await import('./key.js')).keyCommand },
  { name: 'stamp', summary: 'mint, check or purge hashcash v1 stamps', load: async () => (await import('./stamp.js')).stampCommand },
  { name: 'dns', summary: 'inspect what the DNS server publishes', load: async () => (await import('./dns.js')).dnsCommand },
  { name: 'lookup', summary: "find an address's key, endpoint and stamp price in DNS and verify them", load: async () => (await import('./lookup.js')).lookupCommand },
  { name: 'send', summary: 'look recipients up, mint their stamps and deliver a message (optionally PGP/MIME encrypted)', load: async () => (await import('./send.js')).sendCommand },
  { name: 'log', summary: "audit a zone's key transparency log (verify) or list an address's logged keys (watch)", load: async () => (await import('./log.js')).logCommand },
  { name: 'verify', summary: "check a message's OpenPGP signatures against the keys its signers publish in DNS", load: async () => (await import('./verify.js')).verifyCommand },
  { name: 'list', summary: 'encrypted mailing lists: add, show, change and remove lists and their members', load: async () => (await import('./list.js')).listCommand },
  { name: 'queue', summary: 'list, show, retry or delete messages in the gateway queue', load: async () => (await import('./queue.js')).queueCommand },
  { name: 'backup', summary: 'write a consistent copy of the database to a file, while serve runs', load: async () => (await import('./backup.js')).backupCommand },
  { name: 'restore', summary: 'restore a backup into a new data directory or empty database', load: async () => (await import('./backup.js')).restoreCommand },
  { name: 'smtp-passwd', summary: 'hash an SMTP AUTH password into a line for KEYPOST_SMTP_AUTH_USERS', load: async () => (await import('./smtp-passwd.js')).smtpPasswdCommand },
];

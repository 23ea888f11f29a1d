// Every keypost command, in the order `keypost --help` lists them. An area adds its commands here.
import type { Command } from '../command.js';
import { serveCommand } from './serve.js';
import { migrateCommand } from './migrate.js';
import { domainCommand } from './domain.js';
import { keyCommand } from './key.js';
import { stampCommand } from './stamp.js';
import { dnsCommand } from './dns.js';
import { lookupCommand } from './lookup.js';
import { sendCommand } from './send.js';
import { verifyCommand } from './verify.js';
import { queueCommand } from './queue.js';
import { smtpPasswdCommand } from './smtp-passwd.js';

export const COMMANDS: Command[] = [serveCommand, migrateCommand, domainCommand, keyCommand, stampCommand, dnsCommand, lookupCommand, sendCommand, verifyCommand, queueCommand, smtpPasswdCommand];

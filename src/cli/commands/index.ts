// Every keypost command, in the order `keypost --help` lists them. An area adds its commands here.
import type { Command } from '../command.js';
import { serveCommand } from './serve.js';
import { migrateCommand } from './migrate.js';

export const COMMANDS: Command[] = [serveCommand, migrateCommand];

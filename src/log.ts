// pino logger: JSON lines for machines, pretty output when a person watches a terminal.
// Logs go to stderr so that commands printing data on stdout stay machine-readable.
import { pino, type Logger } from 'pino';

export function createLogger(level: string): Logger {
  if (process.stderr.isTTY) {
    return pino({ level, transport: { target: 'pino-pretty', options: { destination: 2, colorize: true } } });
  }
  return pino({ level }, pino.destination({ fd: 2, sync: true }));
}

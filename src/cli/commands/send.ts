// keypost send: look each recipient up, mint its stamp, optionally encrypt, deliver to its endpoint.
import { readFile } from 'node:fs/promises';
import { loadConfig } from '../../config.js';
import { KeypostError } from '../../errors.js';
import { CLIENT_CODES } from '../../client/errors.js';
import { sendMessage, type RecipientOutcome, type SendReport } from '../../client/send.js';
import { UsageError, parseCommandArgs, writeJson, type Command, type CommandContext } from '../command.js';
import { EXIT_DNSSEC_INSECURE, dnsOption } from './lookup.js';

const USAGE = `Usage: keypost send --from <address> --to <address> [--to <address> ...]
                    [--dns host:port] [--require-dnssec] [--encrypt] [--json] [file.eml | -]

Sends a message (a file, or standard input when the file is "-" or left out) to each recipient:
looks the recipient up in DNS (as keypost lookup does), mints a hashcash stamp for it at its
published price and delivers the message with that stamp in an X-Hashcash header to its published
endpoint (ep=, smtp://host:port) over SMTP. Missing From, To, Date and Message-ID headers are added;
input without headers is sent as a plain-text body.

  --from ADDRESS    envelope sender (and From header when the message has none)
  --to ADDRESS      a recipient (repeat for more)
  --dns host:port   ask this DNS server (default: the nameservers of /etc/resolv.conf)
  --require-dnssec  send only to recipients whose DNSSEC status is secure: the resolver set AD on
                    every answer of their lookup (see keypost lookup --help)
  --encrypt         encrypt the message to every recipient's verified key as PGP/MIME (RFC 3156);
                    a recipient whose key fails verification is not sent to
  --json            print the outcome per recipient as JSON

A domain that publishes no price is paid KEYPOST_POW_DEFAULT_BITS. The EHLO name is
KEYPOST_SMTP_HOSTNAME; .onion endpoints are reached through KEYPOST_SOCKS_PROXY.
Exit status: 0 every recipient delivered; 1 at least one failed; 2 usage error; 5 at least one
recipient was refused by --require-dnssec (its code is CLIENT_DNSSEC_INSECURE).`;

async function readInput(path: string | undefined, ctx: CommandContext): Promise<Buffer> {
  if (path !== undefined && path !== '-') {
    try {
      return await readFile(path);
    } catch (err) {
      throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (process.stdin.isTTY) ctx.stderr.write('reading the message from standard input; end it with Ctrl-D\n');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** "1.2M" style counts for the progress line. */
function count(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

/** Minting progress on a terminal, only once a mint has run for a second (most take less). */
function mintProgress(stream: NodeJS.WritableStream & { isTTY?: boolean }) {
  let started = 0;
  let lastDraw = 0;
  let current = '';
  let drawn = false;
  return {
    progress(address: string, bits: number, hashes: number) {
      if (!stream.isTTY) return;
      if (address !== current) {
        current = address;
        started = Date.now();
      }
      const now = Date.now();
      const seconds = (now - started) / 1000;
      // Workers report several times a second each; four redraws a second are enough to read.
      if (seconds < 1 || now - lastDraw < 250) return;
      lastDraw = now;
      const expected = 2 ** bits;
      stream.write(`\rminting ${bits} bits for ${address}: ${count(hashes)} of ~${count(expected)} hashes, ${count(hashes / seconds)}/s `);
      drawn = true;
    },
    done(address: string, bits: number, seconds: number) {
      if (drawn) stream.write(`\rminted ${bits} bits for ${address} in ${seconds.toFixed(1)} s${' '.repeat(30)}\n`);
      drawn = false;
      current = '';
    },
  };
}

function printOutcome(ctx: CommandContext, outcome: RecipientOutcome, width: number): void {
  const address = outcome.address.padEnd(width);
  if (outcome.delivered) {
    const how = [
      `${outcome.price} bits`,
      outcome.encrypted ? 'encrypted' : 'not encrypted',
      ...(outcome.verified ? [] : ['key not verified']),
      `DNSSEC ${outcome.dnssec}`,
    ].join(', ');
    ctx.stdout.write(`delivered  ${address}  ${outcome.endpoint}  (${how})  ${outcome.detail}\n`);
  } else {
    ctx.stdout.write(`failed     ${address}  ${outcome.stage}: ${outcome.detail} (${outcome.code})\n`);
  }
}

export const sendCommand: Command = {
  name: 'send',
  summary: 'look recipients up, mint their stamps and deliver a message (optionally PGP/MIME encrypted)',
  usage: USAGE,
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs(argv, {
      from: { type: 'string' },
      to: { type: 'string', multiple: true },
      dns: { type: 'string' },
      'require-dnssec': { type: 'boolean' },
      encrypt: { type: 'boolean' },
      json: { type: 'boolean' },
    });
    if (!values.from) throw new UsageError('send needs --from <address>');
    if (!values.to?.length) throw new UsageError('send needs at least one --to <address>');
    if (positionals.length > 1) throw new UsageError('send takes at most one message file (or - for standard input)');
    const dns = dnsOption(values.dns);
    const config = loadConfig(ctx.env);
    const message = await readInput(positionals[0], ctx);
    if (message.length === 0) throw new UsageError('the message is empty');

    const progress = mintProgress(ctx.stderr);
    let report: SendReport;
    try {
      report = await sendMessage({
        from: values.from,
        to: values.to,
        message,
        encrypt: values.encrypt === true,
        requireDnssec: values['require-dnssec'] === true,
        dns,
        defaultBits: config.pow.defaultBits,
        hostname: config.gateway.hostname,
        socksProxy: config.gateway.socksProxy,
        onMintProgress: progress.progress,
        onMinted: progress.done,
      });
    } catch (err) {
      if (err instanceof KeypostError && (err.code === CLIENT_CODES.addressInvalid || err.code === CLIENT_CODES.messageInvalid)) {
        throw new UsageError(err.message);
      }
      throw err;
    }
    if (values.json) {
      writeJson(ctx.stdout, report);
    } else {
      const width = Math.max(...report.recipients.map((r) => r.address.length));
      for (const outcome of report.recipients) printOutcome(ctx, outcome, width);
    }
    if (report.recipients.some((r) => r.code === CLIENT_CODES.dnssecInsecure)) return EXIT_DNSSEC_INSECURE;
    return report.delivered ? 0 : 1;
  },
};

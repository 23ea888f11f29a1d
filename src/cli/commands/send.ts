// keypost send: look each recipient up, mint its stamp, optionally encrypt, deliver to its endpoint.
import { readFile } from 'node:fs/promises';
import { loadConfig } from '../../config.js';
import { KeypostError } from '../../errors.js';
import { CLIENT_CODES } from '../../client/errors.js';
import { logStateDir } from '../../client/log-heads.js';
import { sendMessage, type RecipientOutcome, type SendReport } from '../../client/send.js';
import { UsageError, parseCommandArgs, writeJson, type Command, type CommandContext } from '../command.js';
import { EXIT_DNSSEC_INSECURE, dnsOption } from './lookup.js';
import { readMessageInput } from '../message-input.js';
import { loadSigningKey } from '../../client/pgp-sign.js';
import { promptHidden } from '../prompt.js';
import { createMintProgress } from '../mint-progress.js';

const USAGE = `Usage: keypost send --from <address> --to <address> [--to <address> ...]
                    [--dns host:port] [--require-dnssec] [--require-transparency] [--encrypt]
                    [--sign KEYFILE [--hide-subject]] [--notify EVENTS] [--json]
                    [file.eml | -]

Sends a message (a file, or standard input when the file is "-" or left out) to each recipient:
looks the recipient up in DNS (as keypost lookup does), mints a hashcash stamp for it at its
published price and delivers the message with that stamp in an X-Hashcash header to its published
endpoint (ep=, smtp://host:port) over SMTP. Missing From, To, Date and Message-ID headers are added;
input without headers is sent as a plain-text body.
A recipient whose zone publishes a key transparency log is sent to only when the log shows the key
DNS serves (the transparency check of keypost lookup); one that fails it is refused (code
CLIENT_TRANSPARENCY_FAILED, or CLIENT_LOG_INCONSISTENT when the log was rolled back or forked since
the head kept in $XDG_STATE_HOME/keypost/log-heads).

  --from ADDRESS    envelope sender (and From header when the message has none)
  --to ADDRESS      a recipient (repeat for more)
  --dns host:port   ask this DNS server (default: the nameservers of /etc/resolv.conf)
  --require-dnssec  send only to recipients whose DNSSEC status is secure: the resolver set AD on
                    every answer of their lookup (see keypost lookup --help)
  --require-transparency
                    send only to recipients whose zone publishes a key transparency log
  --encrypt         encrypt the message to every recipient's verified key as PGP/MIME (RFC 3156);
                    a recipient whose key fails verification is not sent to
  --sign KEYFILE    sign as the sender with this armoured secret key (PGP/MIME, RFC 3156): the
                    message alone as multipart/signed, or with --encrypt signed and encrypted in
                    one; Subject, From, To, Date and Message-ID are signed too (RFC 9788). The key
                    needs a user ID for --from. Its passphrase comes from KEYPOST_SIGN_PASSPHRASE,
                    or is asked for on a terminal
  --hide-subject    with --encrypt: the outer Subject reads "[...]", the real one travels inside
  --notify EVENTS   delivery reports to ask each endpoint for (RFC 3461 DSN): NEVER, or a comma
                    list of SUCCESS, FAILURE and DELAY (default SUCCESS,FAILURE); reports come
                    back to --from
  --json            print the outcome per recipient as JSON

A domain that publishes no price is paid KEYPOST_POW_DEFAULT_BITS. The EHLO name is
KEYPOST_SMTP_HOSTNAME; .onion endpoints are reached through KEYPOST_SOCKS_PROXY.
A recipient whose zone or address publishes req= (keypost lookup shows it) gets only what it asks
for: req=encrypted needs --encrypt, req=signed needs --sign. Without them the recipient is not sent
to (code CLIENT_PROTECTION_REQUIRED, nothing minted for it); keypost never encrypts or signs what
it was not asked to. With --encrypt and --sign, a recipient that requires signed mail gets its
encrypted copy signed outside as well, so that its gateway can check the signature.

Exit status: 0 every recipient delivered; 1 at least one failed; 2 usage error; 5 at least one
recipient was refused by --require-dnssec (its code is CLIENT_DNSSEC_INSECURE); 6 at least one
recipient requires encrypted or signed mail that was not asked for (CLIENT_PROTECTION_REQUIRED);
7 at least one recipient's zone log does not extend the head seen before (CLIENT_LOG_INCONSISTENT).`;

/** A recipient requires --encrypt or --sign that was not given (its req=). */
export const EXIT_PROTECTION_REQUIRED = 6;
/** A recipient's zone log was rolled back or forked (lookup exits 6 for it; send's 6 was taken). */
export const EXIT_SEND_LOG_INCONSISTENT = 7;

/** --notify: NEVER, or any of SUCCESS, FAILURE, DELAY (RFC 3461 §4.1). */
function notifyOption(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const events = value.toUpperCase().split(',').map((e) => e.trim());
  const valid = events.length > 0 && (events.join() === 'NEVER' || events.every((e) => ['SUCCESS', 'FAILURE', 'DELAY'].includes(e)));
  if (!valid || new Set(events).size !== events.length) {
    throw new UsageError(`--notify must be NEVER or a comma list of SUCCESS, FAILURE and DELAY, got "${value}"`);
  }
  return events.join(',');
}

/** Reads and unlocks the --sign key before anything is looked up or minted. */
async function signingKeyOption(file: string, ctx: CommandContext, messageFile: string | undefined) {
  let armored: string;
  try {
    armored = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the signing key ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  // The terminal can be asked only when the message does not come from it.
  const fromTerminal = messageFile === undefined || messageFile === '-';
  try {
    return await loadSigningKey(armored, async () => ctx.env.KEYPOST_SIGN_PASSPHRASE ?? (fromTerminal ? undefined : promptHidden(`passphrase for ${file}: `)));
  } catch (err) {
    if (err instanceof KeypostError) throw new UsageError(err.message);
    throw err;
  }
}

function printOutcome(ctx: CommandContext, outcome: RecipientOutcome, width: number): void {
  const address = outcome.address.padEnd(width);
  if (outcome.delivered) {
    const how = [
      `${outcome.price} bits`,
      outcome.encrypted ? 'encrypted' : 'not encrypted',
      ...(outcome.signed ? ['signed'] : []),
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
  usage: USAGE,
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs(argv, {
      from: { type: 'string' },
      to: { type: 'string', multiple: true },
      dns: { type: 'string' },
      'require-dnssec': { type: 'boolean' },
      'require-transparency': { type: 'boolean' },
      encrypt: { type: 'boolean' },
      sign: { type: 'string' },
      'hide-subject': { type: 'boolean' },
      notify: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values['hide-subject'] && !values.sign) throw new UsageError('--hide-subject goes with --sign and --encrypt');
    if (values['hide-subject'] && !values.encrypt) throw new UsageError('--hide-subject needs --encrypt: only an encrypted message can carry its Subject inside');
    if (!values.from) throw new UsageError('send needs --from <address>');
    if (!values.to?.length) throw new UsageError('send needs at least one --to <address>');
    if (positionals.length > 1) throw new UsageError('send takes at most one message file (or - for standard input)');
    const dns = dnsOption(values.dns);
    const config = loadConfig(ctx.env);
    const sign = values.sign ? await signingKeyOption(values.sign, ctx, positionals[0]) : undefined;
    const message = await readMessageInput(positionals[0], ctx);

    const progress = createMintProgress(ctx.stderr);
    let report: SendReport;
    try {
      report = await sendMessage({
        from: values.from,
        to: values.to,
        message,
        encrypt: values.encrypt === true,
        requireDnssec: values['require-dnssec'] === true,
        transparency: { stateDir: logStateDir(ctx.env), require: values['require-transparency'] === true },
        sign: sign ? { key: sign, hideSubject: values['hide-subject'] === true } : undefined,
        notify: notifyOption(values.notify),
        dns,
        defaultBits: config.pow.defaultBits,
        hostname: config.gateway.hostname,
        socksProxy: config.gateway.socksProxy,
        onMintProgress: progress.progress,
        onMinted: progress.done,
      });
    } catch (err) {
      const usage: string[] = [CLIENT_CODES.addressInvalid, CLIENT_CODES.messageInvalid, CLIENT_CODES.signingKeyMismatch];
      if (err instanceof KeypostError && usage.includes(err.code)) {
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
    if (report.recipients.some((r) => r.code === CLIENT_CODES.logInconsistent)) return EXIT_SEND_LOG_INCONSISTENT;
    if (report.recipients.some((r) => r.code === CLIENT_CODES.protectionRequired)) return EXIT_PROTECTION_REQUIRED;
    return report.delivered ? 0 : 1;
  },
};

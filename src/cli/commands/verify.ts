// keypost verify: who signed this message, checked against the keys their addresses publish in DNS.
import { KeypostError } from '../../errors.js';
import { verifyMessage, type SignatureFinding } from '../../client/verify.js';
import { UsageError, parseCommandArgs, writeJson, type Command, type CommandContext } from '../command.js';
import { dnsOption } from './lookup.js';
import { readMessageInput } from '../message-input.js';

/** Exit status when the message carries no OpenPGP signature at all. */
export const EXIT_NO_SIGNATURE = 3;

const USAGE = `Usage: keypost verify [--dns host:port] [--json] [file.eml | -]

Finds every OpenPGP signature in a message (a file, or standard input when the file is "-" or left
out): PGP/MIME (multipart/signed), inline signed text, and those inside forwarded messages, attached
(message/rfc822) or quoted inline. Each signature is tied to its signer's address (the signature's
Signer's User ID, else the From of the message it belongs to), that address's key is looked up in
DNS with the same checks as keypost lookup, and the signature is checked against it.

  --dns host:port   ask this DNS server (default: the nameservers of /etc/resolv.conf)
  --json            print every signature's verdict as JSON

Verdicts: good, bad-signature, unknown-signer, key-mismatch, from-mismatch, key-unverified.
Exit status: 0 every signature good; 1 at least one is not; 2 usage error; ${EXIT_NO_SIGNATURE} no signature.`;

function describe(finding: SignatureFinding): string {
  const where = [finding.forwarded ? 'forwarded message' : 'message', finding.part ? `part ${finding.part}` : '', finding.form].filter(Boolean).join(', ');
  if (finding.status === 'good') {
    return `good: signed by ${finding.signer}, key ${finding.fingerprint}, ${finding.detail} at ${finding.signedAt} (${where}; DNSSEC ${finding.dnssec})`;
  }
  return `${finding.status}: ${finding.detail} (${where}; signature key ${finding.issuer})`;
}

export const verifyCommand: Command = {
  name: 'verify',
  usage: USAGE,
  async run(argv, ctx: CommandContext) {
    const { values, positionals } = parseCommandArgs(argv, { dns: { type: 'string' }, json: { type: 'boolean' } });
    if (positionals.length > 1) throw new UsageError('verify takes at most one message file (or - for standard input)');
    const dns = dnsOption(values.dns);
    const raw = await readMessageInput(positionals[0], ctx);
    let report;
    try {
      report = await verifyMessage(raw, { dns });
    } catch (err) {
      if (err instanceof KeypostError) throw new UsageError(err.message);
      throw err;
    }
    if (values.json) writeJson(ctx.stdout, report);
    else if (!report.signatures.length) ctx.stdout.write('no OpenPGP signature found\n');
    else for (const finding of report.signatures) ctx.stdout.write(`${describe(finding)}\n`);
    if (!report.signatures.length) return EXIT_NO_SIGNATURE;
    return report.ok ? 0 : 1;
  },
};

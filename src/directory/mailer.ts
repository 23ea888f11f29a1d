// Outgoing directory mail (verification and deletion links). With a submission URL configured the
// message goes to that SMTP server; without one (the embedded default) it goes to the log, so a
// person running keypost locally can still read the link and finish the flow.
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import { KeypostError } from '../errors.js';

export interface OutgoingMail {
  /** Envelope recipient (the address being verified). */
  to: string;
  subject: string;
  /** The complete RFC 5322 message, already encrypted. */
  raw: string;
  /** What the log shows when no submission server is configured: the clear text and its link. */
  clearText: string;
  link: string;
}

export interface Mailer {
  readonly from: string;
  /** True when mail really leaves (a submission server is configured). */
  readonly delivers: boolean;
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

export interface MailerOptions {
  submissionUrl: string | undefined;
  from: string;
  log: Logger;
}

export function createMailer(options: MailerOptions): Mailer {
  const { log, from } = options;
  let transport: Transporter | undefined;
  if (options.submissionUrl) {
    // nodemailer reads smtp://user:pass@host:port and smtps:// (implicit TLS) from the URL.
    transport = nodemailer.createTransport({ url: options.submissionUrl, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 });
  }
  return {
    from,
    delivers: transport !== undefined,
    async send(mail) {
      if (!transport) {
        log.warn(
          { to: mail.to, subject: mail.subject, link: mail.link, message: mail.clearText },
          `no KEYPOST_MAIL_SUBMISSION_URL; mail to ${mail.to} not sent. Its link: ${mail.link}`,
        );
        return;
      }
      try {
        await transport.sendMail({ envelope: { from, to: [mail.to] }, raw: mail.raw });
        log.info({ to: mail.to, subject: mail.subject }, 'verification mail submitted');
      } catch (err) {
        log.error({ err, to: mail.to }, 'mail submission failed');
        throw new KeypostError('DIR_MAIL_FAILED', 'the verification mail could not be sent; try again later');
      }
    },
    close() {
      transport?.close();
    },
  };
}

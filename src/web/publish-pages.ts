// Publish: a key uploaded as a file or pasted. Like `gpg --send-keys` (HKP add), every address of
// the key in a served domain is mailed its confirmation link at once, since a page without
// JavaScript has no second step; the page then says which addresses were mailed, and why any other
// was not. Nothing is published until a link is confirmed (link-pages.ts).
import type { FastifyPluginAsync } from 'fastify';
import { KeypostError } from '../errors.js';
import type { AddressStatus } from '../directory/directory.js';
import { describeError } from './page-errors.js';
import type { WebContext } from './web-context.js';

export interface PublishBody {
  _csrf?: string;
  keytext?: string;
  /** The file input's bytes (multipart); empty when no file was chosen. */
  keyfile?: Buffer | string;
}

export interface SkippedAddress {
  address: string;
  why: string;
}

/** Why an address of an accepted upload got no mail, from its status after the upload. */
export function whySkipped(status: AddressStatus, cooldownMinutes: number): string {
  switch (status) {
    case 'published':
      return 'Already published with this key; nothing to confirm.';
    case 'pending':
      return `A confirmation link was mailed to it recently and is still valid; check that inbox. No second mail is sent within ${cooldownMinutes} minutes.`;
    case 'revoked':
      return 'The key is revoked, so the address was withdrawn instead.';
    case 'unpublished':
      return 'No mail was sent for it.';
  }
}

/** The key the form carries: the chosen file if any, else the pasted text. */
export function submittedKey(body: PublishBody | undefined): string | Uint8Array | undefined {
  const file = body?.keyfile;
  if (Buffer.isBuffer(file) && file.length > 0) return new Uint8Array(file);
  if (typeof file === 'string' && file.trim()) return file;
  const text = typeof body?.keytext === 'string' ? body.keytext.trim() : '';
  return text || undefined;
}

export function publishPages({ directory, services, writeLimit }: WebContext): FastifyPluginAsync {
  const cooldownMinutes = Math.max(1, Math.round(services.config.directory.mailCooldownMs / 60_000));
  return async (app) => {
    app.get('/publish', async (_request, reply) => {
      return reply.header('cache-control', 'no-store').view('publish.eta', { title: 'Publish your key', nav: 'publish', csrf: reply.generateCsrf() });
    });

    app.post<{ Body: PublishBody }>('/publish', { config: writeLimit, preHandler: app.csrfProtection }, async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const form = (error: string, status: number) =>
        reply.status(status).view('publish.eta', { title: 'Publish your key', nav: 'publish', csrf: reply.generateCsrf(), error });
      const key = submittedKey(request.body);
      if (key === undefined) return form('Choose a key file or paste an armoured public key.', 400);
      let answer;
      try {
        answer = await directory.selfService.upload(key, { requestAll: true, client: request.ip });
      } catch (err) {
        if (!(err instanceof KeypostError)) throw err;
        const { status, message } = describeError(err);
        return form(message, status);
      }
      const mailed = answer.mailed;
      const skipped: SkippedAddress[] = Object.entries(answer.status)
        .filter(([address]) => !mailed.includes(address))
        .map(([address, status]) => ({ address, why: whySkipped(status, cooldownMinutes) }));
      return reply.view('publish-done.eta', { title: 'Check your mail', nav: 'publish', fingerprint: answer.key_fpr, mailed, skipped });
    });
  };
}

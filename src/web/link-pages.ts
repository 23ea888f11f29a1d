// The page behind a mailed link (/v/<token>). A GET shows what the link would do and a button,
// and changes nothing, because mail scanners and link previews follow GET links; only the
// button's POST (with its CSRF token) publishes or deletes. JSON clients POST /v/<token> on the
// API (src/directory/self-service-routes.ts); both end in the same SelfService.confirm().
import type { FastifyPluginAsync } from 'fastify';
import { refusalInWords } from './refusal-words.js';
import type { WebContext } from './web-context.js';

interface TokenParams {
  token: string;
}

export function linkPages({ directory, writeLimit }: WebContext): FastifyPluginAsync {
  return async (app) => {
    // The token is a capability: no cache keeps the page and no referrer carries its URL on.
    app.addHook('onSend', async (_request, reply, payload) => {
      reply.header('cache-control', 'no-store');
      return payload;
    });

    app.get<{ Params: TokenParams }>('/v/:token', async (request, reply) => {
      const found = await directory.peekLink(request.params.token);
      if (!found) return reply.status(404).view('error.eta', { title: 'Unknown link', nav: '', message: refusalInWords('DIR_TOKEN_UNKNOWN', '') });
      if (found.state !== 'valid') {
        const code = found.state === 'used' ? 'DIR_TOKEN_USED' : 'DIR_TOKEN_EXPIRED';
        return reply.status(410).view('error.eta', { title: found.state === 'used' ? 'Link already used' : 'Link expired', nav: '', message: refusalInWords(code, '') });
      }
      const { purpose, address, fingerprint } = found.token;
      return reply.view('confirm.eta', {
        title: purpose === 'publish' ? 'Confirm publication' : 'Confirm deletion',
        nav: '',
        purpose,
        address,
        fingerprint,
        action: `/v/${encodeURIComponent(request.params.token)}/confirm`,
        csrf: reply.generateCsrf(),
      });
    });

    app.post<{ Params: TokenParams }>('/v/:token/confirm', { config: writeLimit, preHandler: app.csrfProtection }, async (request, reply) => {
      const done = await directory.selfService.confirm(request.params.token);
      return reply.view('confirmed.eta', {
        title: done.purpose === 'publish' ? 'Published' : 'Deleted',
        nav: '',
        purpose: done.purpose,
        address: done.address,
        fingerprint: done.fingerprint,
      });
    });
  };
}

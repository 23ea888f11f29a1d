// Remove: the address holder asks for a deletion link, mailed to the address and encrypted to its
// published key (the API's POST /v1/delete-request, through the same service). The link's page is
// link-pages.ts. The answer is the same whether or not the address is published, so the form
// cannot be used to learn which addresses are in the directory.
import type { FastifyPluginAsync } from 'fastify';
import { KeypostError } from '../errors.js';
import { describeError } from './page-errors.js';
import type { WebContext } from './web-context.js';

export function removePages({ directory, writeLimit }: WebContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/remove', async (_request, reply) => {
      return reply.header('cache-control', 'no-store').view('remove.eta', { title: 'Remove your address', nav: 'remove', csrf: reply.generateCsrf() });
    });

    app.post<{ Body: { _csrf?: string; address?: string } }>('/remove', { config: writeLimit, preHandler: app.csrfProtection }, async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const address = typeof request.body?.address === 'string' ? request.body.address.trim() : '';
      const form = (error: string, status: number) =>
        reply.status(status).view('remove.eta', { title: 'Remove your address', nav: 'remove', csrf: reply.generateCsrf(), address, error });
      if (!address) return form('Enter the address to remove.', 400);
      try {
        await directory.selfService.requestDelete(address, { client: request.ip });
      } catch (err) {
        // Not published: answered like a mailed one (see above). Other refusals are shown.
        if (!(err instanceof KeypostError)) throw err;
        if (err.code !== 'DIR_ADDRESS_NOT_PUBLISHED') {
          const { status, message } = describeError(err);
          return form(message, status);
        }
      }
      return reply.view('remove-sent.eta', { title: 'Check your mail', nav: 'remove', address });
    });
  };
}

// Stamp: mint a Hashcash stamp for an address in the browser, with the browser minter bundle
// (dist/browser/, src/pow/kernel/browser.ts: WebAssembly SIMD where the browser has it), served
// under /assets/mint/. The server only fills in the price: the address's published price from
// the read model, or the server default for an address that publishes none.
import type { FastifyPluginAsync } from 'fastify';
import { addressRecord } from '../directory/address-record.js';
import { canonicalAddress } from '../protocol/address.js';
import type { WebContext } from './web-context.js';

/** Bits a page may ask for: a stamp above this takes a browser hours, so a form offers no more. */
export const PAGE_MAX_BITS = 30;

export function stampPage({ directory, services }: WebContext): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: { address?: string } }>('/stamp', async (request, reply) => {
      const typed = typeof request.query.address === 'string' ? request.query.address.trim().slice(0, 320) : '';
      const address = typed ? canonicalAddress(typed) : undefined;
      let bits = services.config.pow.defaultBits;
      let published = false;
      if (address) {
        const entry = await directory.lookups.address(address);
        const zone = entry && (await directory.lookups.zone(entry.domain));
        if (entry && zone) {
          bits = addressRecord(entry, zone, directory.lookups, services.now()).pow;
          published = true;
        }
      }
      return reply.view('stamp.eta', {
        title: 'Mint a stamp',
        nav: 'stamp',
        script: 'stamp.js',
        address: address ?? typed,
        invalid: typed !== '' && !address,
        bits: Math.min(bits, PAGE_MAX_BITS),
        maxBits: PAGE_MAX_BITS,
        published,
      });
    });
  };
}

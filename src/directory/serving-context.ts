// What the read-side route groups (VKS, HKP, WKD, records) share: the read model's lookups, the database
// for key lookups, the clock, and the reply shapes VKS and HKP clients expect.
import type { FastifyReply } from 'fastify';
import type { Db } from '../db/database.js';
import { armor } from '../protocol/armor.js';
import type { ServedKey } from './key-lookup.js';
import type { PublishedLookups } from './published-lookups.js';

export interface ServingContext {
  db: Db;
  lookups: PublishedLookups;
  now(): Date;
}

/** VKS and HKP errors are plain text: gpg prints them, and rejects bodies that look like HTML. */
export function sendText(reply: FastifyReply, status: number, text: string): FastifyReply {
  return reply.status(status).type('text/plain; charset=utf-8').send(text.endsWith('\n') ? text : `${text}\n`);
}

export function sendArmoredKey(reply: FastifyReply, key: Uint8Array): FastifyReply {
  return reply.type('application/pgp-keys').send(armor(key));
}

/** Several keys as one transferable-key sequence (RFC 9580 §10.1), armoured once. */
export function concatKeys(keys: ServedKey[]): Uint8Array {
  return Buffer.concat(keys.map((k) => k.key));
}

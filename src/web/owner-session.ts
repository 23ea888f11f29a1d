// The domain owner's console session: the owner token travels once, in the sign-in form's POST
// body, and then lives only in an HttpOnly, SameSite=Strict cookie (Secure when the request came
// over HTTPS) scoped to /console, never in a URL. The session ends when the cookie's time is up
// (checked here too, not only by the browser), when the owner signs out, or when the token is
// rotated: every request checks the token against the zone again.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.js';
import { ownerZone } from '../directory/owner-service.js';

export const SESSION_COOKIE = 'kp_owner';
export const SESSION_PATH = '/console';
/** How long a console session lasts after sign-in. */
export const SESSION_SECONDS = 30 * 60;

interface SessionValue {
  zone: string;
  token: string;
  /** Expiry, ms since the epoch. */
  expires: number;
}

const cookieOptions = { path: SESSION_PATH, httpOnly: true, sameSite: 'strict', secure: 'auto' } as const;

export function startSession(reply: FastifyReply, zone: string, token: string, now: Date): void {
  const value: SessionValue = { zone, token, expires: now.getTime() + SESSION_SECONDS * 1000 };
  reply.setCookie(SESSION_COOKIE, Buffer.from(JSON.stringify(value)).toString('base64url'), { ...cookieOptions, maxAge: SESSION_SECONDS });
}

export function endSession(reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, cookieOptions);
}

/** The zone of a live session, or undefined (no cookie, expired, or the token no longer matches). */
export async function sessionZone(db: Db, request: FastifyRequest, now: Date): Promise<string | undefined> {
  const raw = request.cookies[SESSION_COOKIE];
  if (!raw) return undefined;
  let value: Partial<SessionValue>;
  try {
    value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<SessionValue>;
  } catch {
    return undefined;
  }
  if (typeof value.zone !== 'string' || typeof value.token !== 'string' || typeof value.expires !== 'number') return undefined;
  if (value.expires <= now.getTime()) return undefined;
  return ownerZone(db, value.zone, value.token);
}

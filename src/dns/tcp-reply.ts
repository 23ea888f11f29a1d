// What one DNS message over TCP gets (RFC 7766): one answer, nothing, or a stream of messages (a
// zone transfer, RFC 5936, or an answer that waits on work not done yet). Written once for the TCP
// listener of every thread and for the loading thread answering what a worker hands it
// (tcp-handoff.ts).
import type { AnswerContext } from './answer.js';
import { answerTcp, type MessageStream, type TcpHandOff } from './transfer.js';
import type { SnapshotSet } from './zone-snapshot.js';

export type TcpReply =
  | { kind: 'answer'; message: Uint8Array }
  | { kind: 'none' }
  /** `transfer`: a zone transfer (counted as one), not an answer that waited or was handed off. */
  | { kind: 'stream'; messages: MessageStream; transfer: boolean };

/**
 * Answers `msg` from the snapshots served when it is read. An answer that needs work not done yet
 * (the zone digest for ZONEMD, AnswerContext.defer) becomes a stream of that one answer, asked
 * again from the snapshots served once the work has settled.
 */
export function tcpReply(snapshots: () => SnapshotSet, msg: Uint8Array, ctx: Omit<AnswerContext, 'defer' | 'handOff'>, handOff?: TcpHandOff): TcpReply {
  let deferred: Promise<unknown> | undefined;
  const reply = answerTcp(snapshots(), msg, { ...ctx, defer: (work) => (deferred = work) }, handOff);
  if (reply instanceof Uint8Array) return { kind: 'answer', message: reply };
  // With a hand-off, every stream is the loading thread's (which counts its transfers there);
  // without, a stream that is not deferred work is a transfer.
  if (reply) return { kind: 'stream', messages: reply, transfer: !handOff };
  if (!deferred) return { kind: 'none' };
  const work = deferred;
  // The listener goes on reading into the buffer `msg` lies in; keep the query's own copy.
  const query = Buffer.from(msg);
  return {
    kind: 'stream',
    transfer: false,
    messages: (async function* () {
      await work;
      const again = answerTcp(snapshots(), query, ctx);
      if (again instanceof Uint8Array) yield again;
    })(),
  };
}

/** The reply as messages, for a caller that only streams (the loading thread's side of a hand-off). */
export function replyMessages(reply: TcpReply): MessageStream {
  return reply.kind === 'answer' ? [reply.message] : reply.kind === 'none' ? [] : reply.messages;
}

// keypost queue <list|show|retry|delete>: the gateway's mail queue, for operators. On the embedded
// default these reach a running `serve` through its socket (withDatabase).
import { deleteMessages, listQueue, retryNow, showMessage, type QueueEntry } from '../../gateway/queue-admin.js';
import { withDatabase } from '../database.js';
import { UsageError, formatAge, parseCommandArgs, parseIntegerOption, writeJson, type Command } from '../command.js';

const USAGE = `Usage: keypost queue <subcommand> [options]

  list [--limit N] [--json]       queued messages, oldest first
  show <id> [--json] [--message]  one message: envelope, recipients, attempts, last errors;
                                  --message prints the message as it will be relayed
  retry <id>... | --all           attempt deferred recipients now instead of at their next retry
  delete <id>...                  remove messages without delivering them (no bounce is sent)`;

function listLine(e: QueueEntry): string {
  const state = e.active ? 'active' : e.nextAttemptAt.getTime() <= Date.now() ? 'due' : `retry in ${formatAge(new Date(2 * Date.now() - e.nextAttemptAt.getTime()))}`;
  return [
    e.id,
    formatAge(e.receivedAt).padStart(4),
    String(e.size).padStart(8),
    `<${e.sender}>`,
    `${e.recipients} rcpt`,
    `${e.attempts} tries`,
    state,
    e.lastError ? `(${e.lastError})` : '',
  ].join('  ');
}

export const queueCommand: Command = {
  name: 'queue',
  usage: USAGE,
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs(argv, {
      json: { type: 'boolean' },
      limit: { type: 'string' },
      all: { type: 'boolean' },
      message: { type: 'boolean' },
    });
    const [action, ...ids] = positionals;
    if (!['list', 'show', 'retry', 'delete'].includes(action)) throw new UsageError('queue takes one of: list, show, retry, delete');
    if (action === 'show' && ids.length !== 1) throw new UsageError('queue show takes one queue id');
    if (action === 'delete' && ids.length === 0) throw new UsageError('queue delete takes one or more queue ids');
    if (action === 'retry' && (ids.length === 0) === !values.all) throw new UsageError('queue retry takes queue ids or --all');
    const limit = parseIntegerOption('limit', values.limit, 1, 100_000) ?? 100;

    return withDatabase(ctx.env, async ({ db }) => {
      switch (action) {
        case 'list': {
          const entries = await listQueue(db, limit);
          if (values.json) writeJson(ctx.stdout, entries);
          else if (entries.length === 0) ctx.stdout.write('queue is empty\n');
          else for (const e of entries) ctx.stdout.write(`${listLine(e)}\n`);
          return 0;
        }
        case 'show': {
          const detail = await showMessage(db, ids[0]);
          if (values.message) {
            ctx.stdout.write(detail.message);
            return 0;
          }
          const { message, ...rest } = detail;
          if (values.json) {
            writeJson(ctx.stdout, { ...rest, message: message.toString('latin1') });
            return 0;
          }
          ctx.stdout.write(
            [
              `id:        ${detail.id} (${detail.kind})`,
              `received:  ${detail.receivedAt.toISOString()} from ${detail.clientAddress ?? '?'} (${detail.clientHelo ?? '?'})${detail.authUser ? ` as ${detail.authUser}` : ''}`,
              `sender:    <${detail.sender}>`,
              `size:      ${detail.size}`,
              `dsn:       RET=${detail.dsn.ret ?? '-'} ENVID=${detail.dsn.envid ?? '-'}${detail.dsn.delayWarned ? ', delay warning sent' : ''}`,
              ...detail.recipients.map(
                (r) =>
                  `recipient: <${r.recipient}> via ${r.nextHop}, ${r.attempts} tries, ` +
                  `${r.active ? 'being delivered' : `next ${r.nextAttemptAt.toISOString()}`}${r.lastError ? `, last error: ${r.lastError}` : ''}` +
                  `, NOTIFY=${r.dsn.notify ?? '-'}${r.dsn.orcpt ? ` ORCPT=${r.dsn.orcpt}` : ''}`,
              ),
            ].join('\n') + '\n',
          );
          return 0;
        }
        case 'retry': {
          const n = await retryNow(db, values.all ? 'all' : ids);
          if (values.json) writeJson(ctx.stdout, { due: n });
          else ctx.stdout.write(`${n} recipient(s) due now\n`);
          return 0;
        }
        default: {
          const n = await deleteMessages(db, ids);
          if (values.json) writeJson(ctx.stdout, { deleted: n });
          else ctx.stdout.write(`deleted ${n} message(s)\n`);
          return 0;
        }
      }
    });
  },
};

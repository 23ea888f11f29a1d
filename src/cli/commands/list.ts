// keypost list ...: encrypted mailing lists (src/lists/). On the embedded default these reach a
// running `serve` through its socket (withDatabase).
import { addMember, changeList, createList, listMembers, removeList, removeMember, showList, type ListView, type MemberView } from '../../lists/list-admin.js';
import { dnsMemberKeys } from '../../lists/member-keys.js';
import { openSecretBox } from '../../secrets/sealed-box.js';
import { withDatabase } from '../database.js';
import { UsageError, parseCommandArgs, readFileOrStdin, writeJson, type Command } from '../command.js';
import { dnsOption } from './lookup.js';

const USAGE = `Usage: keypost list <subcommand> [options]

  add <list@domain> [--owner ADDR] [--open] [--any]
                      make a list in a served zone: keypost generates its key and publishes it
                      like any address (OPENPGPKEY, _keypost TXT, PKA, directory, log)
                      --owner   gets bounces of members' copies and notices of paused members
                      --open    anyone may post (default: only posts signed by a member's key)
                      --any     posts in the clear are taken (default: encrypted to the list key only)
  set <list> [--owner ADDR | --no-owner] [--posting members|open] [--content encrypted|any]
  show <list> [--json]
  remove <list>       withdraw the list's address and forget its members and key

  member add <list> <address> [--key FILE] [--dns host:port]
                      add a member; its key is found through DNS with the checks of
                      \`keypost lookup\` (any domain), or given by you with --key (- for stdin)
  member remove <list> <address>
  member list <list> [--json]`;

function listLines(list: ListView): string {
  return [`list        ${list.address}`, `fingerprint ${list.fingerprint}`, `owner       ${list.owner ?? '(none)'}`, `posting     ${list.posting}`, `content     ${list.content}`, ''].join('\n');
}

function memberLine(m: MemberView): string {
  return [m.address, m.status, m.key_source, m.fingerprint, m.paused_reason ? `(${m.paused_reason})` : ''].join('  ').trimEnd();
}

function choice<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${name} takes one of: ${allowed.join(', ')}`);
  return value as T;
}

export const listCommand: Command = {
  name: 'list',
  usage: USAGE,
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs(argv, {
      owner: { type: 'string' },
      'no-owner': { type: 'boolean' },
      open: { type: 'boolean' },
      any: { type: 'boolean' },
      posting: { type: 'string' },
      content: { type: 'string' },
      key: { type: 'string' },
      dns: { type: 'string' },
      json: { type: 'boolean' },
    });
    const [action, ...rest] = positionals;
    const want = (n: number, what: string) => {
      if (rest.length !== n) throw new UsageError(`list ${what}`);
    };
    return withDatabase(ctx.env, async ({ db }, config) => {
      switch (action) {
        case 'add': {
          want(1, 'add takes one list address');
          const list = await createList(db, { box: openSecretBox(config.secrets), now: new Date() }, { address: rest[0], owner: values.owner, membersOnly: !values.open, encryptedOnly: !values.any });
          if (values.json) writeJson(ctx.stdout, list);
          else ctx.stdout.write(listLines(list));
          return 0;
        }
        case 'set': {
          want(1, 'set takes one list address');
          if (values.owner !== undefined && values['no-owner']) throw new UsageError('--owner and --no-owner exclude each other');
          const posting = choice('posting', values.posting, ['members', 'open'] as const);
          const content = choice('content', values.content, ['encrypted', 'any'] as const);
          const list = await changeList(db, rest[0], {
            owner: values['no-owner'] ? null : values.owner,
            membersOnly: posting === undefined ? undefined : posting === 'members',
            encryptedOnly: content === undefined ? undefined : content === 'encrypted',
          });
          ctx.stdout.write(listLines(list));
          return 0;
        }
        case 'show': {
          want(1, 'show takes one list address');
          const list = await showList(db, rest[0]);
          if (values.json) writeJson(ctx.stdout, list);
          else ctx.stdout.write(listLines(list));
          return 0;
        }
        case 'remove': {
          want(1, 'remove takes one list address');
          await removeList(db, rest[0]);
          ctx.stdout.write(`removed ${rest[0]}\n`);
          return 0;
        }
        case 'member': {
          const [sub, listAddress, member] = rest;
          if (sub === 'add') {
            if (rest.length !== 3) throw new UsageError('list member add takes a list and a member address');
            const keytext = values.key !== undefined ? await readFileOrStdin(values.key) : undefined;
            const findKey = dnsMemberKeys({ dns: dnsOption(values.dns) ?? config.gateway.dnsResolver });
            const added = await addMember(db, { findKey, now: new Date() }, listAddress, member, keytext);
            if (values.json) writeJson(ctx.stdout, added);
            else ctx.stdout.write(`${memberLine(added)}\n`);
            return 0;
          }
          if (sub === 'remove') {
            if (rest.length !== 3) throw new UsageError('list member remove takes a list and a member address');
            await removeMember(db, listAddress, member);
            ctx.stdout.write(`removed ${member} from ${listAddress}\n`);
            return 0;
          }
          if (sub === 'list') {
            if (rest.length !== 2) throw new UsageError('list member list takes one list address');
            const members = await listMembers(db, listAddress);
            if (values.json) writeJson(ctx.stdout, members);
            else if (!members.length) ctx.stdout.write('no members\n');
            else for (const m of members) ctx.stdout.write(`${memberLine(m)}\n`);
            return 0;
          }
          throw new UsageError('list member takes one of: add, remove, list');
        }
        default:
          throw new UsageError('list takes one of: add, set, show, remove, member');
      }
    });
  },
};

// The gateway's durable mail queue: one row per accepted message and one per recipient still to
// deliver. A recipient row disappears once it is delivered or bounced, and the message with its
// last recipient, so the tables hold only pending work.
//
// `next_attempt_at` doubles as the claim lease: a relay worker claims due rows with
// FOR UPDATE SKIP LOCKED and pushes next_attempt_at past the lease, so a worker that dies
// mid-delivery leaves rows that become due again when the lease runs out.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('mail_queue')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('inbound', 'submission', 'dsn')`))
    // Envelope reverse-path; '' is the null sender of bounces (RFC 5321 section 4.5.5).
    .addColumn('sender', 'text', (c) => c.notNull())
    // Trace and verdict header lines added in front of the message at relay time.
    .addColumn('trace_headers', 'text', (c) => c.notNull())
    .addColumn('body', 'bytea', (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('client_address', 'text')
    .addColumn('client_helo', 'text')
    .addColumn('auth_user', 'text')
    .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('mail_queue_recipients')
    .addColumn('message_id', 'text', (c) => c.notNull().references('mail_queue.id').onDelete('cascade'))
    .addColumn('recipient', 'text', (c) => c.notNull())
    // smtp://host:port of the next hop, or mx:<domain> to route by MX at delivery time.
    .addColumn('next_hop', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('lease_owner', 'text')
    .addColumn('last_attempt_at', 'timestamptz')
    .addColumn('last_error', 'text')
    // Submission mode: the stamp price the recipient's domain asks, and the stamp once minted.
    .addColumn('mint_bits', 'integer')
    .addColumn('stamp', 'text')
    .addPrimaryKeyConstraint('mail_queue_recipients_pkey', ['message_id', 'recipient'])
    .execute();
  await db.schema
    .createIndex('mail_queue_recipients_due_idx')
    .on('mail_queue_recipients')
    .column('next_attempt_at')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('mail_queue_recipients').execute();
  await db.schema.dropTable('mail_queue').execute();
}

// A log of which addresses changed, written by a trigger, so DNS nodes can rebuild only the names
// that changed instead of re-reading a whole zone on every publish. Each row records the writing
// transaction's id (xid8); a reader that remembers the pg_snapshot it last read asks for the rows
// that snapshot could not see, which is exact even when transactions commit out of id order.
// Rows are pruned by the DNS nodes once no reader can need them.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('dns_address_changes')
    .addColumn('xid', sql`xid8`, (c) => c.notNull().defaultTo(sql`pg_current_xact_id()`))
    .addColumn('domain', 'text', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('changed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('dns_address_changes_domain_xid_idx').on('dns_address_changes').columns(['domain', 'xid']).execute();
  await db.schema.createIndex('dns_address_changes_changed_at_idx').on('dns_address_changes').column('changed_at').execute();
  await sql`
    create function keypost_dns_address_changed() returns trigger language plpgsql as $$
    begin
      if tg_op <> 'INSERT' then
        insert into dns_address_changes (domain, address) values (old.domain, old.address);
      end if;
      if tg_op <> 'DELETE' and (tg_op = 'INSERT' or new.domain <> old.domain or new.address <> old.address) then
        insert into dns_address_changes (domain, address) values (new.domain, new.address);
      end if;
      return null;
    end $$`.execute(db);
  await sql`
    create trigger addresses_dns_change after insert or update or delete on addresses
    for each row execute function keypost_dns_address_changed()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger if exists addresses_dns_change on addresses`.execute(db);
  await sql`drop function if exists keypost_dns_address_changed()`.execute(db);
  await db.schema.dropTable('dns_address_changes').execute();
}

// A zone that is removed and added again must not come back with a lower SOA serial than its
// secondaries hold, or they keep the old zone (RFC 1982 comparison; RFC 1996 §3.11). Its last
// serial is kept here when its domains row is deleted, and a new row for the same name starts
// above it. Triggers, so every writer of `domains` gets this without remembering to.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('zone_serial_marks')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('serial', 'bigint', (c) => c.notNull())
    .addColumn('removed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`
    create function keypost_zone_serial_mark() returns trigger language plpgsql as $$
    begin
      insert into zone_serial_marks (name, serial) values (old.name, old.serial)
      on conflict (name) do update set serial = excluded.serial, removed_at = now();
      return null;
    end $$`.execute(db);
  await sql`
    create trigger domains_serial_mark after delete on domains
    for each row execute function keypost_zone_serial_mark()`.execute(db);
  // RFC 1982 §3.2: the new serial must be "greater" than the mark in 32-bit serial arithmetic,
  // that is, ahead of it by 1 to 2^31 - 1; otherwise it starts just past the mark.
  await sql`
    create function keypost_zone_serial_start() returns trigger language plpgsql as $$
    declare
      mark bigint;
    begin
      select serial into mark from zone_serial_marks where name = new.name;
      if found and ((new.serial - mark) % 4294967296 + 4294967296) % 4294967296 not between 1 and 2147483647 then
        new.serial := (mark + 1) % 4294967296;
      end if;
      return new;
    end $$`.execute(db);
  await sql`
    create trigger domains_serial_start before insert on domains
    for each row execute function keypost_zone_serial_start()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger if exists domains_serial_start on domains`.execute(db);
  await sql`drop trigger if exists domains_serial_mark on domains`.execute(db);
  await sql`drop function if exists keypost_zone_serial_start()`.execute(db);
  await sql`drop function if exists keypost_zone_serial_mark()`.execute(db);
  await db.schema.dropTable('zone_serial_marks').execute();
}

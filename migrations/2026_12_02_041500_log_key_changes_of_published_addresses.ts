// The read model of what is published (src/published/) serves each address with a summary of its
// key (algorithm, size, creation, expiry, revocation) and refreshes only the addresses named in the
// change log. A change to those columns of `keys` therefore logs every address using the key, in
// the same transaction, as a change to the address row itself does.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function keypost_key_summary_changed() returns trigger language plpgsql as $$
    begin
      insert into dns_address_changes (domain, address)
        select domain, address from addresses where fingerprint = new.fingerprint;
      return null;
    end $$`.execute(db);
  await sql`
    create trigger keys_published_change after update on keys
    for each row
    when (old.algorithm is distinct from new.algorithm or old.bits is distinct from new.bits
      or old.created_at is distinct from new.created_at or old.expires_at is distinct from new.expires_at
      or old.revoked is distinct from new.revoked)
    execute function keypost_key_summary_changed()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger if exists keys_published_change on keys`.execute(db);
  await sql`drop function if exists keypost_key_summary_changed()`.execute(db);
}

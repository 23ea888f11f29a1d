// The key served by fingerprint or key id (keys.key_data) carries exactly the user IDs of its
// currently published addresses: an address that was withdrawn, or never verified, must not be
// discoverable through the key's other names. The input keys already passed the key policy
// (stripped of third-party certifications), so this only selects and merges user IDs.
import * as openpgp from 'openpgp';
import { addressOfUserId } from '../protocol/address.js';

function addressOf(user: openpgp.User): string | undefined {
  return user.userID ? addressOfUserId(user.userID.userID) : undefined;
}

/**
 * Builds the key for `keep` (canonical addresses) from one or more stripped copies of the same key.
 * The first copy is the newest (its primary key signatures and subkeys win); user IDs missing from
 * it are taken from the later copies, whose self-signatures openpgp.js verifies while merging.
 */
export async function keyWithUserIds(copies: Uint8Array[], keep: ReadonlySet<string>): Promise<Uint8Array> {
  const [first, ...rest] = copies;
  let key = await openpgp.readKey({ binaryKey: first });
  for (const older of rest) {
    const other = await openpgp.readKey({ binaryKey: older });
    // update() returns a merged copy and only accepts copies with the same fingerprint.
    key = await key.update(other);
  }
  const seen = new Set<string>();
  key.users = key.users.filter((user) => {
    const email = addressOf(user);
    if (!email || !keep.has(email) || seen.has(email)) return false;
    seen.add(email);
    return true;
  });
  return key.write();
}

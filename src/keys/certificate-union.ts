// The union of two copies of one certificate, packet by packet (the way Sequoia's and Hagrid's
// merge works): the primary key with the signatures over it, each user ID and each subkey with the
// signatures over it, every signature once. Nothing is verified here; the store re-verifies the
// union (src/keys/key-signatures.ts), so a junk signature in an upload cannot count, and
// nothing a copy lacks is ever taken away from the other.
import { TAG, readPackets, type RawPacket } from './packet-limits.js';

interface Component {
  packet: RawPacket;
  signatures: RawPacket[];
}

interface Sections {
  primary: Component;
  /** User IDs and subkeys in order of appearance, keyed by tag and body. */
  components: Map<string, Component>;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

function sectionsOf(bytes: Uint8Array): Sections {
  const packets = readPackets(bytes);
  if (packets[0]?.tag !== TAG.publicKey) throw new Error('a certificate starts with its public key packet');
  const primary: Component = { packet: packets[0], signatures: [] };
  const components = new Map<string, Component>();
  let current = primary;
  for (const packet of packets.slice(1)) {
    if (packet.tag === TAG.signature) {
      current.signatures.push(packet);
      continue;
    }
    const id = `${packet.tag}:${hex(packet.body)}`;
    const existing = components.get(id);
    current = existing ?? { packet, signatures: [] };
    if (!existing) components.set(id, current);
  }
  return { primary, components };
}

function withSignatures(into: Component, from: Component): void {
  const seen = new Set(into.signatures.map((s) => hex(s.body)));
  for (const sig of from.signatures) {
    const id = hex(sig.body);
    if (!seen.has(id)) {
      seen.add(id);
      into.signatures.push(sig);
    }
  }
}

/** Whether both copies are of the same primary key (same key packet body). */
export function samePrimaryKey(a: Uint8Array, b: Uint8Array): boolean {
  return hex(readPackets(a)[0].body) === hex(readPackets(b)[0].body);
}

/**
 * Everything in `stored` in its order, then what `incoming` adds: new signatures of known
 * components after theirs, new components (with their signatures) at the end of their kind.
 * Both must be copies of the same primary key.
 */
export function unionCertificates(stored: Uint8Array, incoming: Uint8Array): Uint8Array {
  const base = sectionsOf(stored);
  const added = sectionsOf(incoming);
  if (hex(base.primary.packet.body) !== hex(added.primary.packet.body)) throw new Error('cannot merge copies of different keys');
  withSignatures(base.primary, added.primary);
  for (const [id, component] of added.components) {
    const existing = base.components.get(id);
    if (existing) withSignatures(existing, component);
    else base.components.set(id, { packet: component.packet, signatures: [...component.signatures] });
  }
  // RFC 9580 §10.1: user IDs come before subkeys.
  const all = [...base.components.values()];
  const ordered = [...all.filter((c) => c.packet.tag !== TAG.publicSubkey), ...all.filter((c) => c.packet.tag === TAG.publicSubkey)];
  const out: Uint8Array[] = [];
  for (const component of [base.primary, ...ordered]) out.push(component.packet.raw, ...component.signatures.map((s) => s.raw));
  return Buffer.concat(out);
}

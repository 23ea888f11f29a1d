// Stamp price and endpoint precedence, written once: an address's own setting, else its zone's,
// else the server default. DNS (the _keypost TXT records), the directory (/v1/records) and the
// gateway (the price it charges at RCPT, the hop it relays to) all ask here.

export interface PriceSettings {
  /** Hashcash bits; null = inherit. */
  powBits: number | null;
}

/** The price a zone charges addresses that set none. */
export function zonePrice(zone: PriceSettings, defaultBits: number): number {
  return zone.powBits ?? defaultBits;
}

/** The price a message to `address` must pay: the address's, else the zone's, else the default. */
export function addressPrice(address: PriceSettings, zone: PriceSettings, defaultBits: number): number {
  return address.powBits ?? zonePrice(zone, defaultBits);
}

/** Where senders deliver: the address's `ep`, else the zone's; null when neither sets one. */
export function addressEndpoint(address: { endpoint: string | null }, zone: { endpoint: string | null }): string | null {
  return address.endpoint ?? zone.endpoint;
}

/** Where the gateway relays what it accepted: the address's hop, else the zone's (else the caller's smarthost). */
export function addressNextHop(address: { nextHop: string | null }, zone: { nextHop: string | null }): string | null {
  return address.nextHop ?? zone.nextHop;
}

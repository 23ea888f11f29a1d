// Which setting applies to an address, written once: the address's own, else its zone's, else a
// fallback (the server's default price; none for an endpoint or hop). The same rule combines the
// operator's settings in the read model of what is published (src/published/model.ts, for DNS,
// /v1/records and the gateway's served recipients), the two kp1 TXT records a remote zone
// publishes (the gateway's resolver for foreign recipients, src/gateway/keypost-resolver.ts), and
// what the sender's client reads from DNS (src/client/lookup.ts):
//   <h(local)>._keypost.<domain>  v=kp1; fpr=...; ep=...; pow=...   the address's own
//   _keypost.<domain>             v=kp1; api=...; ep=...; pow=...   the zone's
// An absent field (undefined) and an unset setting (null) both mean "inherit".

/** The address's own value, else the zone's, else `fallback`. */
export function addressSetting<T, F>(own: T | null | undefined, zone: T | null | undefined, fallback: F): T | F {
  return own ?? zone ?? fallback;
}

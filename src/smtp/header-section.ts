// Where a message's header section ends: shared by the gateway (stamp checks, DSNs) and outbound
// delivery (what a next hop must support), so the rule is written once.

/**
 * Offset where the body begins: just after the empty line ending the header section (RFC 5322
 * section 2.1), or the message length when there is no body.
 */
export function headerSectionEnd(message: Buffer): number {
  if (message.length >= 2 && message[0] === 0x0d && message[1] === 0x0a) return 2;
  if (message.length >= 1 && message[0] === 0x0a) return 1;
  const crlf = message.indexOf('\r\n\r\n');
  const lf = message.indexOf('\n\n');
  if (crlf < 0 && lf < 0) return message.length;
  if (lf >= 0 && (crlf < 0 || lf < crlf)) return lf + 2;
  return crlf + 4;
}

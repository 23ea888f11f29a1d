// What a sender asked to be told about a message (RFC 3461): NOTIFY per recipient, ORCPT (the
// address the sender first wrote, reported back as Original-Recipient), RET (whole message or
// headers in a failure report) and ENVID (the sender's own id for the transaction).

export type DsnEvent = 'SUCCESS' | 'FAILURE' | 'DELAY';

export interface MessageDsn {
  ret: 'FULL' | 'HDRS' | null;
  envid: string | null;
}

export interface RecipientDsn {
  /** Comma list as given ("SUCCESS,DELAY", "NEVER"); null when RCPT TO had no NOTIFY. */
  notify: string | null;
  /** "rfc822;alice@example.org"; null when not given. */
  orcpt: string | null;
}

/**
 * Whether the sender wants a report for this event. Without NOTIFY, RFC 3461 §4.1 leaves the
 * choice to the MTA and the common one is failure and delay reports, which is what keypost sends;
 * NOTIFY=NEVER asks for none at all.
 */
export function wantsReport(notify: string | null, event: DsnEvent): boolean {
  if (notify === null) return event !== 'SUCCESS';
  return notify.toUpperCase().split(',').includes(event);
}

/** ORCPT as RFC 3464 §2.3.1 wants it in Original-Recipient: "rfc822; address". */
export function originalRecipientField(orcpt: string): string {
  const semi = orcpt.indexOf(';');
  return semi < 0 ? `rfc822; ${orcpt}` : `${orcpt.slice(0, semi)}; ${orcpt.slice(semi + 1)}`;
}

/** xtext (RFC 3461 §4): "+XX" stands for the octet XX; ENVID and ORCPT arrive so encoded. */
export function decodeXtext(text: string): string {
  return text.replace(/\+([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

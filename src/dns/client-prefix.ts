// The network a UDP client belongs to, for the limits that count per network rather than per
// address (response-rate limiting, rrl.ts; fresh denial signatures, denial-limiter.ts): a spoofer
// can pick any address inside a prefix, and one resolver farm sits behind one. /24 and /56 by
// default, as NSD and BIND count.

export interface PrefixLengths {
  ipv4PrefixLength: number;
  ipv6PrefixLength: number;
}

export class ClientPrefixes {
  private readonly v4Mask: number;
  private readonly v6Bits: number;

  constructor(lengths: PrefixLengths) {
    this.v4Mask = lengths.ipv4PrefixLength === 0 ? 0 : (~0 << (32 - lengths.ipv4PrefixLength)) >>> 0;
    this.v6Bits = lengths.ipv6PrefixLength;
  }

  /** The prefix of `remote` as a short string (IPv4-mapped IPv6 counts as IPv4). */
  of(remote: string): string {
    const ip = remote.startsWith('::ffff:') ? remote.slice(7) : remote;
    if (!ip.includes(':')) {
      // Dotted quad, parsed by hand: this runs once per UDP answer.
      let n = 0;
      let part = 0;
      for (let i = 0; i < ip.length; i++) {
        const c = ip.charCodeAt(i);
        if (c === 46) {
          n = (n << 8) | part;
          part = 0;
        } else part = part * 10 + c - 48;
      }
      n = ((n << 8) | part) >>> 0;
      return String((n & this.v4Mask) >>> 0);
    }
    // IPv6: keep the leading prefix bits of the expanded address.
    const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...new Array(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
    let out = '';
    for (let g = 0; g * 16 < this.v6Bits && g < 8; g++) {
      let value = parseInt(groups[g] ?? '0', 16) || 0;
      const keep = Math.min(16, this.v6Bits - g * 16);
      value &= (0xffff << (16 - keep)) & 0xffff;
      out += `${value.toString(16)}:`;
    }
    return out;
  }
}

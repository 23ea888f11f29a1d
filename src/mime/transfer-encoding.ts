// Content-Transfer-Encoding (RFC 2045 §6): reading base64 and quoted-printable bodies, and writing
// quoted-printable, which keeps a signed text part 7-bit and free of trailing white space as
// RFC 3156 §5 requires (a relay may re-encode 8-bit data or strip trailing blanks, and either
// breaks the signature).

/** Reverses base64 and quoted-printable (RFC 2045 §6.7, §6.8); other encodings are identity. */
export function decodeBody(body: Buffer, encoding: string | undefined): Buffer {
  const cte = (encoding ?? '7bit').trim().toLowerCase();
  if (cte === 'base64') return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  if (cte === 'quoted-printable') {
    const text = body
      .toString('latin1')
      .replace(/[ \t]+\r\n/g, '\r\n') // trailing white space is not part of the data
      .replace(/=\r\n/g, ''); // soft line breaks
    return Buffer.from(text.replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
  }
  return body;
}

/** True when a body must be encoded before it is signed: 8-bit octets, trailing blanks, "From ". */
export function needsEncodingForSigning(body: Buffer): boolean {
  if (body.some((b) => b > 0x7e || (b < 0x20 && b !== 0x0d && b !== 0x0a && b !== 0x09))) return true;
  const text = body.toString('latin1');
  return /[ \t]\r\n|[ \t]$/.test(text) || /(^|\r\n)From /.test(text) || text.split('\r\n').some((l) => l.length > 998);
}

/**
 * Quoted-printable (RFC 2045 §6.7): lines of at most 76 characters, "=" and octets outside
 * printable ASCII as =XX, white space at a line end encoded, and "From " at a line start
 * protected so that no mbox writer changes it.
 */
export function encodeQuotedPrintable(data: Buffer): Buffer {
  const lines = data.toString('latin1').split('\r\n');
  const out: string[] = [];
  for (const line of lines) {
    let encoded = '';
    for (let i = 0; i < line.length; i++) {
      const code = line.charCodeAt(i);
      const last = i === line.length - 1;
      const literal =
        (code >= 33 && code <= 126 && code !== 61) ||
        ((code === 32 || code === 9) && !last);
      let piece = literal ? line[i] : `=${code.toString(16).toUpperCase().padStart(2, '0')}`;
      if (i === 0 && line.startsWith('From ')) piece = '=46';
      encoded += piece;
    }
    // Soft breaks keep every line within 76 characters, never splitting an =XX triple.
    while (encoded.length > 76) {
      let cut = 75;
      if (encoded[cut - 1] === '=') cut -= 1;
      else if (encoded[cut - 2] === '=') cut -= 2;
      out.push(`${encoded.slice(0, cut)}=`);
      encoded = encoded.slice(cut);
    }
    out.push(encoded);
  }
  return Buffer.from(out.join('\r\n'), 'latin1');
}

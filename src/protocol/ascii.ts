// ASCII-only case folding. GnuPG lowercases an address with ascii_strlwr() before hashing it for
// DANE and WKD, and hashcash compares resources with C's tolower() in the "C" locale: both leave
// every non-ASCII byte alone, so this must too (a Unicode-aware toLowerCase() would not).

/** Lowercases A-Z only; every other character is left as it is. */
export function asciiLowercase(text: string): string {
  return text.replace(/[A-Z]+/g, (s) => s.toLowerCase());
}

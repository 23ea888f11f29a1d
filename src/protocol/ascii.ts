// ASCII-only case folding. GnuPG lowercases an address with ascii_strlwr() before hashing it for
// DANE and WKD, and hashcash compares resources with C's tolower() in the "C" locale: both leave
// every non-ASCII byte alone, so this must too (a Unicode-aware toLowerCase() would not).

/** Lowercases A-Z only; every other character is left as it is. */
export function asciiLowercase(text: string): string {
  // Most text is lowercase already: a test is cheaper than a replace that finds nothing.
  return HAS_UPPER.test(text) ? text.replace(/[A-Z]+/g, (s) => s.toLowerCase()) : text;
}
const HAS_UPPER = /[A-Z]/;

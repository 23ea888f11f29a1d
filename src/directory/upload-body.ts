// The body of a VKS upload, `{"keytext": "<armoured key>"}` (draft VKS API, POST /vks/v1/upload),
// is read on a key-check worker together with the key it carries, not on the event loop that
// answers DNS, SMTP and HTTP. A flooded upload is a 1 MiB body: decoding it to a string and
// parsing it as JSON cost tens of milliseconds of main thread each, and 30 concurrent uploads
// arrive together, so their parses ran back to back and held DNS answers for hundreds of
// milliseconds. The HTTP edge hands the raw bytes over (self-service-routes.ts) and this module
// turns them into the keytext, or the reason the body is not a valid upload.

/** The raw JSON body of a VKS upload, as it came off the socket. */
export interface JsonUpload {
  json: Uint8Array;
}

/** What a key check may be given: armoured text, binary OpenPGP, or an upload body still to read. */
export type KeyInput = string | Uint8Array | JsonUpload;

export function isJsonUpload(input: KeyInput): input is JsonUpload {
  return typeof input === 'object' && !(input instanceof Uint8Array);
}

/**
 * The keytext of an upload body, or why the body is refused (REQUEST_INVALID): not UTF-8 JSON, not
 * an object, or no `keytext` string with something other than blanks in it (the same rule as
 * KEYTEXT_SCHEMA, which the owner API applies through its schema).
 */
export function keytextOfUpload(body: Uint8Array): { keytext: string } | { problem: string } {
  let parsed: unknown;
  try {
    // fatal: bytes that are not UTF-8 are a broken body, not text with replacement characters.
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch (err) {
    return { problem: `the body is not valid JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { problem: 'body must be a JSON object' };
  const keytext = (parsed as Record<string, unknown>).keytext;
  if (keytext === undefined) return { problem: "body must have required property 'keytext'" };
  if (typeof keytext !== 'string') return { problem: 'body/keytext must be string' };
  if (!/\S/.test(keytext)) return { problem: 'body/keytext must hold a key' };
  return { keytext };
}

// The JSON schema of an uploaded `keytext` (VKS upload, owner PUT). It must hold something, but not
// through `minLength`: ajv counts code points over the whole string, tens of milliseconds of event
// loop per 1 MB upload, while this pattern stops at the first non-blank character.
export const KEYTEXT_SCHEMA = { type: 'string', pattern: '\\S' } as const;

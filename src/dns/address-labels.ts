// Owner-name labels of an address, re-exported for DNS-side code; the one implementation lives in
// src/directory/address-hashes.ts so the API (WKD, /v1/records) and the zone always agree.
export { openpgpkeyLabel, wkdHash as pkaLabel, zbase32 } from '../directory/address-hashes.js';

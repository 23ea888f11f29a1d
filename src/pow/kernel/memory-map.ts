// The search kernel's linear memory, shared by the WAT generator and the host that fills it.
// Offsets are in octets; v128 slots are 16-aligned.

/** u32 inputs the host writes before prepare(): the midstate H0-H4, then the last block's W0-W15. */
export const INPUTS = 0;
export const INPUT_MIDSTATE = 0;
export const INPUT_WORDS = 5;
/** Up to 4 v128: the digests' first words that firstWords() computed, one v128 per group. */
export const FIRST_WORDS = 96;
/** v128: the mask of the leading bits that must be zero in the digest's first word, in every lane. */
export const MASK = 160;
/** 64 octets: the counter alphabet, digit value -> ASCII. */
export const DIGITS = 176;
/** 64 u32: ASCII of digit j in the low octet, so lanes j..j+3 of one v128 load are 4 last digits. */
export const LAST_DIGITS = 240;
/** v128 slots of the values prepare() computes once per block and search() reads per candidate. */
export const CONSTANTS = 496;
/** One 64 KiB page holds all of it. */
export const PAGE = 65536;

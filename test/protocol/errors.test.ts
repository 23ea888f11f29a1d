// The one error table. Before it, each area registered its HTTP statuses at import time and any
// code nobody registered answered 400, so a new code silently became "the user's fault"; the
// gateway's verdicts and replies imported each other to learn whether a code was permanent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_TABLE, errorSpec, httpStatusFor, isErrorCode, isPermanent } from '../../src/protocol/errors.js';

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

// A code is an upper-case string literal of words joined by `_` with a known area prefix. The
// environment variables (KEYPOST_*) and other constants are not codes.
const CODE_LITERAL = /(['"`])((?:AUTH|CLI|CLIENT|CONFIG|DB|DIR|DNS|GW|INTERNAL|NOT|PAYLOAD|POW|RATE|REQUEST)(?:_[A-Z0-9]+)+|INTERNAL)\1/g;

test('every error code written anywhere in src/ is in the table', () => {
  const unknown: string[] = [];
  let seen = 0;
  for (const file of sourceFiles(SRC)) {
    if (file.endsWith(join('protocol', 'errors.ts'))) continue;
    for (const match of readFileSync(file, 'utf8').matchAll(CODE_LITERAL)) {
      seen++;
      if (!isErrorCode(match[2])) unknown.push(`${match[2]} (${file.slice(SRC.length)})`);
    }
  }
  assert.deepEqual(unknown, [], 'codes used in src/ but missing from src/protocol/errors.ts');
  assert.ok(seen > 50, `only ${seen} code literals found: is the scan looking at src/?`);
});

test('an unknown code is an internal error, not a 400', () => {
  assert.equal(isErrorCode('DIR_NO_SUCH_THING'), false);
  assert.equal(httpStatusFor('DIR_NO_SUCH_THING'), 500);
  assert.equal(isPermanent('DIR_NO_SUCH_THING'), false);
});

test('each entry is consistent: permanence, SMTP reply class and enhanced status agree', () => {
  for (const [code, spec] of Object.entries(ERROR_TABLE)) {
    assert.equal(errorSpec(code), spec);
    assert.ok(spec.http >= 400 && spec.http <= 599, code);
    // RFC 5321 §4.2.1: 4yz is transient, 5yz permanent; RFC 3463 §3.1: class 4 / 5 likewise.
    assert.equal(spec.smtp.code >= 500, spec.permanent, `${code}: reply ${spec.smtp.code} vs permanent=${spec.permanent}`);
    assert.match(spec.smtp.enhanced, spec.permanent ? /^5\.\d{1,3}\.\d{1,3}$/ : /^4\.\d{1,3}\.\d{1,3}$/, code);
    assert.equal(String(spec.smtp.code)[0], spec.smtp.enhanced[0], code);
  }
});

test('the statuses the areas used to register are the ones the table gives', () => {
  const expected: Record<string, number> = {
    DIR_KEY_UNPARSABLE: 400,
    DIR_KEY_WEAK_ALGORITHM: 422,
    DIR_ADDRESS_OUTSIDE_DOMAIN: 403,
    DIR_DOMAIN_EXISTS: 409,
    DIR_TOKEN_USED: 410,
    DIR_MAIL_FAILED: 503,
    POW_STAMP_SPENT: 409,
    GW_MESSAGE_NOT_FOUND: 404,
    GW_CONFIG_INVALID: 500,
    DNS_ZONE_UNKNOWN: 404,
    RATE_LIMITED: 429,
  };
  for (const [code, status] of Object.entries(expected)) assert.equal(httpStatusFor(code), status, code);
});

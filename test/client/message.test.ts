// How keypost send reads the message it is given and what it encrypts (RFC 5322 §2.1, RFC 3156 §4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { completeHeaders, formatMessage, headerValue, parseMessage } from '../../src/client/message.js';
import { innerEntity } from '../../src/client/content-entity.js';

test('header fields, folding and body are split; LF and CR line ends become CRLF', () => {
  const message = parseMessage(Buffer.from('Subject: a long\n subject\nX-Thing:value\r\n\nline one\rline two\n'));
  assert.deepEqual(message.fields, [
    { name: 'Subject', value: ' a long\r\n subject' },
    { name: 'X-Thing', value: 'value' },
  ]);
  assert.equal(headerValue(message, 'subject'), 'a long subject');
  assert.equal(message.body.toString(), 'line one\r\nline two\r\n');
  assert.equal(formatMessage(message).toString(), 'Subject: a long\r\n subject\r\nX-Thing: value\r\n\r\nline one\r\nline two\r\n');
});

test('input without a header section is all body', () => {
  for (const text of ['hello world\n', 'Dear Bob, how are you?\n', '\nstarts with a blank line\n']) {
    const message = parseMessage(Buffer.from(text));
    assert.deepEqual(message.fields, [], text);
    assert.equal(message.body.toString(), text.replace(/^\n/, '').replace(/\n/g, '\r\n'));
  }
});

test('a header section broken in the middle is refused', () => {
  assert.throws(() => parseMessage(Buffer.from('Subject: x\nthis is not a field\n\nbody\n')), { code: 'CLIENT_MESSAGE_INVALID' });
});

test('missing From, To, Date and Message-ID are added; present ones are kept', () => {
  const now = new Date('2026-11-27T23:05:09Z');
  const bare = completeHeaders(parseMessage(Buffer.from('hi\n')), { from: 'a@x.example', to: ['b@y.example', 'c@y.example'] }, now);
  assert.equal(headerValue(bare, 'from'), '<a@x.example>');
  assert.equal(headerValue(bare, 'to'), '<b@y.example>, <c@y.example>');
  assert.equal(headerValue(bare, 'date'), 'Fri, 27 Nov 2026 23:05:09 +0000');
  assert.match(headerValue(bare, 'message-id')!, /^<[0-9a-f]{24}@x\.example>$/);

  const full = parseMessage(Buffer.from('From: A <a@x.example>\nCc: d@y.example\nDate: Thu, 26 Nov 2026 10:00:00 +0100\nMessage-ID: <m@x>\n\nhi\n'));
  assert.deepEqual(completeHeaders(full, { from: 'a@x.example', to: ['d@y.example'] }, now).fields, full.fields);
});

test('the encrypted entity carries the Content-* fields, or defaults that fit the body', () => {
  const declared = parseMessage(Buffer.from('Subject: s\nContent-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n<p>x</p>\n'));
  assert.equal(innerEntity(declared).toString(), 'Content-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>x</p>\r\n');
  assert.equal(innerEntity(parseMessage(Buffer.from('plain\n'))).toString(), 'Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\nplain\r\n');
  assert.equal(
    innerEntity(parseMessage(Buffer.from('grüße\n'))).toString('utf8'),
    'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\ngrüße\r\n',
  );
});

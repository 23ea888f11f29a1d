// The small HTML pages behind a mailed link. GET shows what the link would do and a button; only
// the button's POST changes anything, because mail scanners and link previews follow GET links.
import type { TokenState, VerificationToken } from './verification-tokens.js';

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex">
<title>${escape(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36em;margin:3em auto;padding:0 1em;line-height:1.5}
code{word-break:break-all}button{font-size:1.1em;padding:.5em 1.5em}</style>
</head>
<body>
<h1>${escape(title)}</h1>
${body}
</body>
</html>
`;
}

export function confirmationPage(token: string, state: TokenState, record: VerificationToken): string {
  if (state === 'used') return page('Link already used', '<p>This link has already been used. Nothing more to do.</p>');
  if (state === 'expired') return page('Link expired', '<p>This link has expired. Ask for a new one.</p>');
  const what =
    record.purpose === 'publish'
      ? `<p>Publish the OpenPGP key</p><p><code>${escape(record.fingerprint)}</code></p><p>for <strong>${escape(record.address)}</strong>?</p>`
      : `<p>Delete <strong>${escape(record.address)}</strong> from the directory?</p>`;
  const label = record.purpose === 'publish' ? 'Publish' : 'Delete';
  return page(
    record.purpose === 'publish' ? 'Confirm publication' : 'Confirm deletion',
    `${what}
<form method="post" action="/v/${encodeURIComponent(token)}">
<button type="submit">${label}</button>
</form>`,
  );
}

export function unknownTokenPage(): string {
  return page('Unknown link', '<p>This link is not valid. Check that it was copied completely.</p>');
}

export function donePage(purpose: 'publish' | 'delete', address: string, fingerprint: string): string {
  return purpose === 'publish'
    ? page('Published', `<p><strong>${escape(address)}</strong> is now published with key <code>${escape(fingerprint)}</code>.</p>`)
    : page('Deleted', `<p><strong>${escape(address)}</strong> has been removed from the directory.</p>`);
}

export function errorPage(message: string): string {
  return page('Not done', `<p>${escape(message)}</p>`);
}

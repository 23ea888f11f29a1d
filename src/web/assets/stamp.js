// Mints in the page with keypost's browser minter (served from /assets/mint/), showing progress.
// Without JavaScript the form only reloads the page with the address's price filled in.
import { mintStamp } from './mint/keypost-mint.js';

const form = document.getElementById('mint');
const button = document.getElementById('mint-button');
const cancel = document.getElementById('cancel');
const area = document.getElementById('progress-area');
const bar = document.getElementById('progress');
const status = document.getElementById('status');
const result = document.getElementById('result');
const output = document.getElementById('stamp');
let controller;

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!form.reportValidity()) return;
  const address = form.elements.address.value.trim();
  const bits = Number(form.elements.bits.value);
  // A stamp of b bits takes 2^b hashes on average; the bar fills against that, and the text
  // says how many were tried (a lucky or unlucky run ends before or after the bar is full).
  const expected = 2 ** bits;
  controller = new AbortController();
  button.disabled = true;
  cancel.hidden = false;
  area.hidden = false;
  result.hidden = true;
  bar.value = 0;
  status.textContent = `Minting a ${bits}-bit stamp for ${address}…`;
  try {
    const minted = await mintStamp(address, bits, {
      signal: controller.signal,
      onProgress: (hashes) => {
        bar.value = Math.min(hashes / expected, 0.99);
        status.textContent = `${hashes.toLocaleString()} hashes tried (about ${expected.toLocaleString()} expected)`;
      },
    });
    bar.value = 1;
    status.textContent = `Done: ${minted.hashes.toLocaleString()} hashes in ${minted.seconds.toFixed(1)} s.`;
    output.value = minted.stamp;
    result.hidden = false;
    output.focus();
  } catch (err) {
    status.textContent = err && err.code === 'POW_MINT_ABORTED' ? 'Cancelled.' : `Minting failed: ${err && err.message ? err.message : err}`;
  } finally {
    button.disabled = false;
    cancel.hidden = true;
  }
});

cancel.addEventListener('click', () => controller?.abort());

// A one-line progress bar for long CLI work, drawn on stderr only when it is a terminal (so pipes
// and logs stay clean), redrawn at most ten times a second.
export interface Progress {
  update(done: number, total: number): void;
  finish(): void;
}

const WIDTH = 30;

export function createProgress(stream: NodeJS.WritableStream & { isTTY?: boolean }, label: string): Progress {
  if (!stream.isTTY) return { update() {}, finish() {} };
  const started = Date.now();
  let lastDraw = 0;
  let drawn = false;
  const draw = (done: number, total: number) => {
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(fraction * WIDTH);
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    const rate = Math.round(done / seconds);
    stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${done}/${total}  ${rate}/s `);
    drawn = true;
  };
  return {
    update(done, total) {
      const now = Date.now();
      if (done < total && now - lastDraw < 100) return;
      lastDraw = now;
      draw(done, total);
    },
    finish() {
      if (drawn) stream.write('\n');
    },
  };
}

// A worker loop's nap between polls: it ends when the poll interval passes or when wake() is called
// (new work was queued), and a wake that comes while the loop is busy is kept, so the next nap ends
// at once instead of waiting out a poll interval with work waiting.
export class WakeSignal {
  private pending = false;
  private endNap: (() => void) | undefined;

  /** Ends the nap in progress, or the next one as soon as it starts. */
  wake(): void {
    this.pending = true;
    this.endNap?.();
  }

  /** Resolves after `ms`, or as soon as wake() is called. */
  nap(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      // Ending clears both ways in, so a wake after a nap that timed out is kept for the next one.
      const end = () => {
        clearTimeout(timer);
        this.endNap = undefined;
        this.pending = false;
        resolve();
      };
      const timer = setTimeout(end, ms);
      this.endNap = end;
    });
  }
}

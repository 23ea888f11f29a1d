// Background worker threads (key checks) yield the CPU to the main thread, which answers DNS, SMTP
// and HTTP. On a machine with fewer cores than busy threads, a worker at the same priority shares
// the CPU with the main thread in scheduler slices of several milliseconds, so a DNS answer could
// wait for a slice to end; at a lower priority the scheduler runs the main thread as soon as a
// packet wakes it (Linux CFS weights nice 10 at about 1/10 of nice 0).
//
// Linux keeps a nice value per thread: setpriority(2) with PRIO_PROCESS and a thread ID changes
// that thread only. Node has no call for the current thread ID; /proc/thread-self names it.
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/** The nice value of background worker threads. */
export const BACKGROUND_NICE = 10;

/** The kernel's ID of the calling thread, or undefined where /proc/thread-self does not exist. */
export function currentThreadId(): number | undefined {
  try {
    // "<pid>/task/<tid>"
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Lowers the calling thread's priority to BACKGROUND_NICE. Returns whether it did: elsewhere than
 * Linux, or where lowering is refused, the thread keeps its priority and works as before.
 */
export function lowerCurrentThreadPriority(): boolean {
  const tid = currentThreadId();
  if (tid === undefined) return false;
  try {
    setPriority(tid, BACKGROUND_NICE);
    return true;
  } catch {
    return false;
  }
}

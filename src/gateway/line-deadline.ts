// A deadline per line: once a client starts a command or message line, it has `timeoutMs` to
// finish it. smtp-server's idle timeout restarts on every byte, so without this a client trickling
// one byte a minute holds its connection (and a slot of KEYPOST_SMTP_MAX_CONNECTIONS) for the whole
// session time. This is Postfix's smtpd_per_record_deadline: a time limit to receive a complete
// record rather than per read.
import type { Socket } from 'node:net';

/**
 * Watches the bytes `socket` delivers and calls `onExpired` when a line stays incomplete for
 * `timeoutMs`. Only observes: the bytes still go to the SMTP parser. Returns a function that stops
 * watching. A socket the server itself has paused (it is busy with earlier commands) is not the
 * client's fault, so the deadline waits for it to flow again.
 */
export function watchLineDeadline(socket: Socket, timeoutMs: number, onExpired: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(expire, timeoutMs);
    timer.unref();
  };
  const expire = () => {
    timer = undefined;
    if (socket.readableFlowing === false) arm();
    else onExpired();
  };
  const onData = (chunk: Buffer) => {
    const lastNewline = chunk.lastIndexOf(0x0a);
    if (lastNewline === chunk.length - 1) {
      // Every line in the chunk is complete.
      clearTimeout(timer);
      timer = undefined;
    } else if (lastNewline >= 0 || timer === undefined) {
      // A new line began in this chunk: its deadline starts now.
      arm();
    }
  };
  // Listening to 'data' on a socket that is already piped into the parser adds an observer; it
  // would set a socket that nothing reads yet flowing, so the caller attaches after the pipe.
  socket.on('data', onData);
  return () => {
    clearTimeout(timer);
    socket.off('data', onData);
  };
}

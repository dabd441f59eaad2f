/**
 * Keeps the process alive when its stdout or stderr reader goes away (a log shipper that died,
 * `switchyard keys list | head`). Node reports a write to a closed pipe as an 'error' event on the
 * stream, and with no listener that event ends the process: a gateway draining on SIGTERM would
 * die with its requests in flight just because it said "draining". A line nobody can read any
 * more is dropped instead; there is nowhere left to report it.
 */
export function surviveClosedOutput(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) stream.on('error', dropWhenClosed);
}

function dropWhenClosed(err: NodeJS.ErrnoException): void {
  if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return;
  throw err;
}

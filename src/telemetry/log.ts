/**
 * The operator's log: one JSON object per line on stderr. Details that clients must not see
 * (a cloud's credential error text, a gateway bug's stack) go here and nowhere else. Callers pass
 * only what is safe to keep: never a key, a token or a request body.
 */

export type LogLevel = 'info' | 'warn' | 'error';

export interface Logger {
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

export type LogSink = (line: string) => void;

export function createLogger(sink: LogSink = (line) => process.stderr.write(line)): Logger {
  const write = (level: LogLevel, event: string, fields?: Record<string, unknown>) => {
    const entry = { time: new Date().toISOString(), level, event, ...fields };
    sink(`${JSON.stringify(entry, errorsAsText)}\n`);
  };
  return {
    info: (event, fields) => write('info', event, fields),
    warn: (event, fields) => write('warn', event, fields),
    error: (event, fields) => write('error', event, fields),
  };
}

/** Errors do not serialise to JSON by themselves; their name, message and stack do. */
function errorsAsText(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return value;
}

/** For tests and embedding: remembers every entry. */
export function memoryLogger(): Logger & {
  entries: Array<{ level: LogLevel; event: string } & Record<string, unknown>>;
} {
  const entries: Array<{ level: LogLevel; event: string } & Record<string, unknown>> = [];
  const logger = createLogger((line) => entries.push(JSON.parse(line)));
  return Object.assign(logger, { entries });
}

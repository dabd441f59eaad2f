/**
 * The SQLite request log's writing thread (started by `SqliteLogThread`, sqlite-log-thread.ts).
 * `node:sqlite` is synchronous: a batch of a few hundred records written on the gateway's own
 * thread holds every request behind it for milliseconds (`node bench/request-log.ts`). Here the
 * batch runs on a connection of its own to the same file (WAL: the gateway's readers never wait
 * for it), and the main thread only pays for handing the rows over.
 *
 * Protocol (`LogThreadMessage`, `LogThreadReply`): each `write` message is one batch, answered with
 * its id and either `ok` or the error's message; `close` closes the connection and ends the thread.
 * One batch is one transaction, as on the main thread.
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';
import { ADD_SPEND_SQL, insertRequestSql } from './sqlite.ts';
import type { LogThreadMessage, LogThreadReply, LogThreadSettings } from './sqlite-log-thread.ts';

const port = parentPort;
if (!port) throw new Error('sqlite-log-worker.ts runs only as a worker thread');
const settings = workerData as LogThreadSettings;

let db: DatabaseSync | undefined;
let statements: { insertRequest: StatementSync; addSpend: StatementSync };

/** Opened on the first batch (a failure to open is that batch's error; the next one tries again). */
function connection() {
  if (!db?.isOpen) {
    db = new DatabaseSync(settings.path, { timeout: settings.busyTimeoutMs });
    db.exec('PRAGMA synchronous = NORMAL');
    statements = { insertRequest: db.prepare(insertRequestSql()), addSpend: db.prepare(ADD_SPEND_SQL) };
  }
  return { db, statements };
}

function write(batch: string): void {
  const { rows, spend } = JSON.parse(batch) as {
    rows: SQLInputValue[][];
    spend: [scope: string, day: string, usd: number, requests: number][];
  };
  const { db, statements } = connection();
  db.exec('BEGIN IMMEDIATE');
  try {
    for (const row of rows) statements.insertRequest.run(...row);
    for (const s of spend) statements.addSpend.run(...s);
    db.exec('COMMIT');
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw err;
  }
}

port.on('message', (message: LogThreadMessage) => {
  if (message.type === 'close') {
    if (db?.isOpen) db.close();
    port.close();
    return;
  }
  let reply: LogThreadReply;
  try {
    write(message.batch);
    reply = { id: message.id, ok: true };
  } catch (err) {
    reply = { id: message.id, ok: false, message: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(reply);
});

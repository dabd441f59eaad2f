/**
 * Whether the shared-state servers (PostgreSQL on 127.0.0.1:5432, Redis on 127.0.0.1:6379) are
 * reachable. On a developer's machine without them, their suites are skipped and say why; with
 * SWITCHYARD_REQUIRE_SERVICES=1 (as .ci/run sets) a missing server fails the run instead.
 */
import { connect } from 'node:net';

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const required = process.env.SWITCHYARD_REQUIRE_SERVICES === '1';

async function probe(name: string, port: number): Promise<{ skip?: string }> {
  if (await reachable(port)) return {};
  if (required)
    throw new Error(`${name} is not reachable on 127.0.0.1:${port} (SWITCHYARD_REQUIRE_SERVICES=1)`);
  return { skip: `${name} is not running on 127.0.0.1:${port}` };
}

/** `describe(name, POSTGRES, ...)`: skipped when no server runs (and not required). */
export const POSTGRES = await probe('PostgreSQL', 5432);
export const REDIS = await probe('Redis', 6379);

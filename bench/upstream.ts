/**
 * Benchmark child: the simulated OpenAI upstream. Started by bench/run.ts in its own process so
 * its CPU and memory are not mixed with the load generator's. Prints `listening on URL` once it
 * accepts requests; SIGTERM or SIGINT closes it.
 *
 *   node bench/upstream.ts [--latency-ms N]
 */

import { parseArgs } from 'node:util';
import { startSimCloud } from '../src/sim/index.ts';
import { UPSTREAM_API_KEY, UPSTREAM_MODEL } from './lib/constants.ts';

const { values } = parseArgs({ options: { 'latency-ms': { type: 'string', default: '0' } } });
const latencyMs = Number(values['latency-ms']);
if (!Number.isFinite(latencyMs) || latencyMs < 0) {
  process.stderr.write(`upstream: --latency-ms must be a number >= 0, got "${values['latency-ms']}"\n`);
  process.exit(2);
}

const sim = await startSimCloud({
  kind: 'openai',
  apiKeys: [UPSTREAM_API_KEY],
  models: [UPSTREAM_MODEL],
  latencyMs,
});
process.stdout.write(`listening on ${sim.url}\n`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void sim.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

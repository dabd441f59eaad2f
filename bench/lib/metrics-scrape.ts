/**
 * Reads a gateway's /metrics (Prometheus text format) the way a Prometheus server would, and picks
 * out the counters the benchmark reports: the request log's (written, dropped, queued) and the
 * requests answered per provider (how the routing scenario spread its traffic).
 */

import { request } from 'node:http';

export interface GatewayCounters {
  /** When it was read (performance.now(), ms). */
  atMs: number;
  requestLogWritten: number;
  requestLogDropped: number;
  requestLogQueued: number;
  requestLogFailedFlushes: number;
  /** switchyard_requests_total summed over every label but the provider. */
  requestsByProvider: Record<string, number>;
  /** switchyard_requests_total summed over every label: every request the gateway recorded. */
  requests: number;
  /** Size of the scrape's body, bytes. */
  bytes: number;
}

/** GET url → body; the benchmark's own agent-less request, so it never holds a pooled socket. */
function get(url: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 200) resolve(body);
        else reject(new Error(`GET ${url}: HTTP ${res.statusCode}: ${body.slice(0, 200)}`));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** One sample line: `name{a="x",b="y"} 12` or `name 12`. */
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/;

export function parseCounters(text: string, atMs: number): GatewayCounters {
  const out: GatewayCounters = {
    atMs,
    requestLogWritten: 0,
    requestLogDropped: 0,
    requestLogQueued: 0,
    requestLogFailedFlushes: 0,
    requestsByProvider: {},
    requests: 0,
    bytes: Buffer.byteLength(text),
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    switch (m[1]) {
      case 'switchyard_request_log_written_total':
        out.requestLogWritten += value;
        break;
      case 'switchyard_request_log_dropped_total':
        out.requestLogDropped += value;
        break;
      case 'switchyard_request_log_queue_depth':
        out.requestLogQueued += value;
        break;
      case 'switchyard_request_log_failed_flushes_total':
        out.requestLogFailedFlushes += value;
        break;
      case 'switchyard_requests_total': {
        const provider = /provider="([^"]*)"/.exec(m[2] ?? '')?.[1] ?? '';
        out.requestsByProvider[provider] = (out.requestsByProvider[provider] ?? 0) + value;
        out.requests += value;
        break;
      }
    }
  }
  return out;
}

export async function scrape(gatewayUrl: string, timeoutMs = 5_000): Promise<GatewayCounters> {
  const body = await get(`${gatewayUrl}/metrics`, timeoutMs);
  return parseCounters(body, performance.now());
}

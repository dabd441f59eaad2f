/**
 * A small OTLP/HTTP trace receiver for tests: collects what an exporter POSTs as JSON to
 * `/v1/traces` and hands it back as flat spans. Binds 127.0.0.1 on a free port; `close()` stops it.
 */
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';

export type AttributeValue = string | number | boolean;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** Undefined for a root span (or a span whose parent is the client's remote span: see traceId). */
  parentSpanId: string | undefined;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client. */
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Record<string, AttributeValue>;
  events: Array<{ name: string; attributes: Record<string, AttributeValue> }>;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string | undefined };
  resource: Record<string, AttributeValue>;
}

export interface OtlpReceiver {
  /** Base URL to configure as `telemetry.otlpEndpoint`. */
  url: string;
  spans: ReceivedSpan[];
  /** Headers of every export request, in arrival order. */
  requestHeaders: IncomingHttpHeaders[];
  /** Resolves once at least `count` spans arrived; rejects after `timeoutMs`. */
  waitForSpans(count: number, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

// OTLP/JSON: ids are hex strings, 64-bit integers may be strings or numbers.
const anyValueSchema = z.object({
  stringValue: z.string().optional(),
  boolValue: z.boolean().optional(),
  intValue: z.union([z.string(), z.number()]).optional(),
  doubleValue: z.number().optional(),
});
const keyValuesSchema = z.array(z.object({ key: z.string(), value: anyValueSchema })).default([]);
const spanSchema = z.object({
  traceId: z.string(),
  spanId: z.string(),
  parentSpanId: z.string().optional(),
  name: z.string(),
  kind: z.number(),
  startTimeUnixNano: z.union([z.string(), z.number()]),
  endTimeUnixNano: z.union([z.string(), z.number()]),
  attributes: keyValuesSchema,
  events: z.array(z.object({ name: z.string(), attributes: keyValuesSchema })).default([]),
  status: z.object({ code: z.number().optional(), message: z.string().optional() }).default({}),
});
const exportRequestSchema = z.object({
  resourceSpans: z.array(
    z.object({
      resource: z.object({ attributes: keyValuesSchema }).default({ attributes: [] }),
      scopeSpans: z.array(z.object({ spans: z.array(spanSchema).default([]) })).default([]),
    }),
  ),
});

function attributesOf(list: z.infer<typeof keyValuesSchema>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const { key, value } of list) {
    const v = value.stringValue ?? value.boolValue ?? value.doubleValue ?? value.intValue;
    if (v !== undefined) out[key] = value.intValue !== undefined ? Number(value.intValue) : v;
  }
  return out;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const requestHeaders: IncomingHttpHeaders[] = [];
  const waiters = new Set<() => void>();

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      if (!req.headers['content-type']?.startsWith('application/json')) {
        res.writeHead(415).end();
        return;
      }
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400).end();
        return;
      }
      const parsed = exportRequestSchema.safeParse(body);
      if (!parsed.success) {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify(parsed.error.issues));
        return;
      }
      requestHeaders.push(req.headers);
      for (const rs of parsed.data.resourceSpans) {
        const resource = attributesOf(rs.resource.attributes);
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            spans.push({
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId:
                s.parentSpanId === undefined || s.parentSpanId === '' ? undefined : s.parentSpanId,
              name: s.name,
              kind: s.kind,
              startTimeUnixNano: BigInt(s.startTimeUnixNano),
              endTimeUnixNano: BigInt(s.endTimeUnixNano),
              attributes: attributesOf(s.attributes),
              events: s.events.map((e) => ({ name: e.name, attributes: attributesOf(e.attributes) })),
              status: { code: s.status.code ?? 0, message: s.status.message },
              resource,
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      for (const wake of waiters) wake();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    requestHeaders,
    waitForSpans(count, timeoutMs = 5000) {
      if (spans.length >= count) return Promise.resolve(spans);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`OTLP receiver: ${spans.length} of ${count} spans after ${timeoutMs} ms`));
        }, timeoutMs);
        const check = (): void => {
          if (spans.length < count) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(spans);
        };
        waiters.add(check);
      });
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

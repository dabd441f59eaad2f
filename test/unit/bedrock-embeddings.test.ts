/** Bedrock embeddings through InvokeModel: Titan (one input per call) and Cohere (≤ 96 texts per call). */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request as undiciRequest } from 'undici';
import { parseConfigText } from '../../src/config/index.ts';
import type { EmbeddingRequest } from '../../src/core/chat.ts';
import { GatewayError } from '../../src/core/errors.ts';
import {
  decodeEmbeddingsBody,
  embeddingsBatchSize,
  encodeEmbeddingsBody,
} from '../../src/providers/bedrock/embeddings.ts';
import { createProvider } from '../../src/providers/registry.ts';
import type { Provider } from '../../src/providers/types.ts';
import { EMBEDDING_CALLS_IN_FLIGHT } from '../../src/server/embeddings.ts';
import { type RunningGateway, startGateway } from '../../src/server/http.ts';
import { embed } from '../../src/sim/engine.ts';
import { type SimCloud, startSimCloud } from '../../src/sim/index.ts';
import { TEST_PROVIDER_CONTEXT } from './helpers.ts';

const TITAN = 'amazon.titan-embed-text-v2:0';
const COHERE = 'cohere.embed-english-v3';

const embedding = (
  input: EmbeddingRequest['input'],
  extra: Partial<EmbeddingRequest> = {},
): EmbeddingRequest => ({
  model: 'e',
  input,
  encodingFormat: 'float',
  ...extra,
});

function refused(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  return assert.fail('expected a GatewayError');
}

describe('bedrock embeddings: bodies', () => {
  it('Titan: one inputText per call, dimensions passed on', () => {
    assert.equal(embeddingsBatchSize(TITAN), 1);
    assert.equal(embeddingsBatchSize(`us.${TITAN}`), 1);
    assert.deepEqual(encodeEmbeddingsBody(embedding(['alpha'], { dimensions: 256 }), TITAN), {
      inputText: 'alpha',
      dimensions: 256,
    });
    assert.equal(refused(() => encodeEmbeddingsBody(embedding(['a', 'b']), TITAN)).param, 'input');
    assert.equal(
      refused(() => encodeEmbeddingsBody(embedding(['a'], { dimensions: 8 }), 'amazon.titan-embed-text-v1'))
        .param,
      'dimensions',
    );
  });

  it('Cohere: texts with input_type search_document, 96 per call, no dimensions', () => {
    assert.equal(embeddingsBatchSize(COHERE), 96);
    assert.deepEqual(encodeEmbeddingsBody(embedding(['a', 'b']), COHERE), {
      texts: ['a', 'b'],
      input_type: 'search_document',
    });
    assert.equal(
      refused(() => encodeEmbeddingsBody(embedding(['a'], { dimensions: 256 }), COHERE)).param,
      'dimensions',
    );
  });

  it('token-id inputs and other models are refused naming the field', () => {
    assert.equal(refused(() => encodeEmbeddingsBody(embedding([[1, 2, 3]]), TITAN)).param, 'input');
    const other = refused(() =>
      encodeEmbeddingsBody(embedding(['a']), 'anthropic.claude-3-haiku-20240307-v1:0'),
    );
    assert.equal(other.param, 'model');
    assert.equal(other.status, 400);
  });

  it('decodes Titan (with its token count) and Cohere (list or embeddings_by_type)', () => {
    const titan = decodeEmbeddingsBody({ embedding: [0.5, -0.25], inputTextTokenCount: 3 });
    assert.deepEqual(Array.from(titan.vectors[0] ?? []), [0.5, -0.25]);
    assert.deepEqual(titan.usage, { promptTokens: 3, totalTokens: 3 });
    const cohere = decodeEmbeddingsBody({
      id: 'x',
      embeddings: [[1], [2]],
      response_type: 'embeddings_floats',
    });
    assert.deepEqual(
      cohere.vectors.map((v) => Array.from(v)),
      [[1], [2]],
    );
    const byType = decodeEmbeddingsBody({
      embeddings: { float: [[0.25]] },
      response_type: 'embeddings_by_type',
    });
    assert.deepEqual(Array.from(byType.vectors[0] ?? []), [0.25]);
    assert.throws(() => decodeEmbeddingsBody({ message: 'x' }), /holds no embeddings/);
  });
});

describe('bedrock embeddings against the simulated Bedrock', () => {
  let sim: SimCloud;
  let provider: Provider;
  before(async () => {
    sim = await startSimCloud({ kind: 'bedrock', region: 'eu-central-1', apiKeys: ['k-1'] });
    const config = parseConfigText(
      `providers:
  - { id: b, type: bedrock, region: eu-central-1, endpoint: "${sim.url}", apiKey: k-1 }
models:
  - { name: e, deployments: [{ provider: b, model: x }] }
`,
      '/tmp/b.yaml',
      {},
    );
    provider = createProvider(config.providers[0]!, TEST_PROVIDER_CONTEXT);
  });
  after(() => sim.close());

  for (const [model, dims] of [
    [TITAN, 1024],
    [COHERE, 1024],
  ] as const) {
    it(`${model}: the InvokeModel call is accepted and decodes`, async () => {
      const call = await provider.embeddingsCall!(embedding(['alpha beta']), { model });
      assert.equal(call.url, `${sim.url}/model/${encodeURIComponent(model)}/invoke`);
      const res = await undiciRequest(call.url, {
        method: 'POST',
        headers: call.headers,
        body: call.body ?? null,
      });
      const text = await res.body.text();
      assert.equal(res.statusCode, 200, text);
      const result = provider.decodeEmbeddings!(JSON.parse(text));
      assert.equal(result.vectors.length, 1);
      assert.equal(result.vectors[0]?.length, dims);
    });
  }
});

/**
 * A proxy in front of the simulated Bedrock that holds calls until the test lets them go, so the
 * test can see how many the gateway has in flight at once, and answer them in any order.
 */
class HoldingProxy {
  readonly server: Server;
  /** Calls waiting for the test, oldest first. */
  readonly held: Array<() => void> = [];
  holding = true;
  open = 0;
  mostOpen = 0;

  constructor(upstream: string) {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      this.open++;
      this.mostOpen = Math.max(this.mostOpen, this.open);
      let counted = true;
      const done = () => {
        if (counted) this.open--;
        counted = false;
      };
      res.on('finish', done);
      res.on('close', done);
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const forward = async () => {
          const answer = await undiciRequest(`${upstream}${req.url}`, {
            method: 'POST',
            headers: {
              authorization: req.headers.authorization ?? '',
              'content-type': 'application/json',
              accept: 'application/json',
            },
            body: Buffer.concat(chunks),
          });
          const body = Buffer.from(await answer.body.arrayBuffer());
          res.writeHead(answer.statusCode, { 'content-type': 'application/json' }).end(body);
        };
        if (this.holding) this.held.push(() => void forward());
        else void forward();
      });
    });
  }

  /** Stops holding; what is held is answered newest first, so answers come back out of order. */
  releaseAll(): void {
    this.holding = false;
    for (const forward of this.held.splice(0).reverse()) forward();
  }
}

/** Waits (a turn of the event loop at a time, 10 s at most) until `condition` holds. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const giveUp = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > giveUp) assert.fail(`never: ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('Titan through the gateway: one call per input, a few at a time', () => {
  let sim: SimCloud;
  let proxy: HoldingProxy;
  let gateway: RunningGateway;
  before(async () => {
    sim = await startSimCloud({ kind: 'bedrock', region: 'eu-central-1', apiKeys: ['k-1'] });
    proxy = new HoldingProxy(sim.url);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(proxy.server.address() as AddressInfo).port}`;
    const config = parseConfigText(
      `providers:
  - { id: b, type: bedrock, region: eu-central-1, endpoint: "${endpoint}", apiKey: k-1 }
models:
  - { name: titan, deployments: [{ provider: b, model: "${TITAN}" }] }
keys:
  - { name: t, key: sk-titan-fanout }
`,
      '/tmp/titan-fanout.yaml',
      {},
    );
    gateway = await startGateway(config, { port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    proxy.releaseAll();
    await gateway?.shutdown(0);
    proxy.server.closeAllConnections();
    await new Promise((resolve) => proxy.server.close(resolve));
    await sim.close();
  });

  it(`20 inputs: ${EMBEDDING_CALLS_IN_FLIGHT} calls in flight at once, no more, vectors in input order`, async () => {
    const inputs = Array.from({ length: 20 }, (_, i) => `input number ${i}`);
    const answer = fetch(`${gateway.url}/v1/embeddings`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-titan-fanout', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'titan', input: inputs, dimensions: 256, encoding_format: 'float' }),
    });
    // A gateway that sent one call at a time would never have more than one waiting here.
    await until(() => proxy.held.length >= EMBEDDING_CALLS_IN_FLIGHT, 'calls in flight together');
    // Time for a call beyond the bound to show up, were there one.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(proxy.mostOpen, EMBEDDING_CALLS_IN_FLIGHT);
    proxy.releaseAll();
    const response = await answer;
    const body = (await response.json()) as { data: { index: number; embedding: number[] }[] };
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.equal(body.data.length, 20);
    body.data.forEach((item, i) => {
      assert.equal(item.index, i);
      assert.deepEqual(item.embedding, embed(inputs[i]!, 256), `vector ${i} is the embedding of input ${i}`);
    });
    assert.equal(proxy.mostOpen, EMBEDDING_CALLS_IN_FLIGHT);
  });
});

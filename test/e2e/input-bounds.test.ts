/**
 * Bounds on client input through the whole gateway: how many images and how many image bytes one
 * chat request may carry, each image fetched once however many deployments are tried, the fetch
 * stopped when the client leaves, and how many inputs one embeddings request may carry.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/index.ts';
import { parseEmbeddingBody } from '../../src/ingress/openai/embeddings.ts';
import { type RunningGateway, startGateway } from '../../src/server/http.ts';
import { type SimCloud, startSimCloud } from '../../src/sim/index.ts';

const KEY = 'sk-input-bounds-0001';
const CLAUDE = 'eu.anthropic.claude-sonnet-4-5-20250929-v1:0';
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);
const dataUrl = (bytes: Buffer) => `data:image/png;base64,${bytes.toString('base64')}`;

/** Serves /cat.png, and holds /hang open; records every request. */
let images: Server;
let imageBase: string;
let imageRequests: string[] = [];
let hanging: IncomingMessage | undefined;
let first: SimCloud;
let second: SimCloud;
let embeddingsSim: SimCloud;
let gateway: RunningGateway;

before(async () => {
  images = createServer((req, res) => {
    imageRequests.push(req.url ?? '');
    if (req.url === '/hang') {
      hanging = req;
      return;
    }
    res.writeHead(200, { 'content-type': 'image/png' }).end(PNG);
  });
  await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
  const imagePort = (images.address() as AddressInfo).port;
  imageBase = `http://127.0.0.1:${imagePort}`;
  [first, second, embeddingsSim] = await Promise.all([
    startSimCloud({ kind: 'bedrock', region: 'eu-west-1', apiKeys: ['k-1'] }),
    startSimCloud({ kind: 'bedrock', region: 'eu-west-1', apiKeys: ['k-2'] }),
    startSimCloud({ kind: 'openai', apiKeys: ['sk-upstream'] }),
  ]);
  const yaml = `
server:
  maxEmbeddingInputs: 3
  imageFetch: { allowPrivateNetworks: true, allowedPorts: [${imagePort}], maxImages: 2, maxTotalBytes: 1000, timeoutMs: 30000 }
routing:
  timeouts: { connectMs: 2000, firstByteMs: 15000, idleMs: 15000, totalMs: 60000 }
  retry: { maxAttempts: 2, budgetPercent: 100 }
  circuitBreaker: { failureThreshold: 1000, cooldownMs: 1000 }
providers:
  - { id: first, type: bedrock, region: eu-west-1, endpoint: "${first.url}", apiKey: k-1 }
  - { id: second, type: bedrock, region: eu-west-1, endpoint: "${second.url}", apiKey: k-2 }
  - { id: oai, type: openai, region: us, endpoint: "${embeddingsSim.url}/v1", apiKey: sk-upstream }
models:
  - name: claude
    deployments:
      - { provider: first, model: "${CLAUDE}", priority: 1 }
      - { provider: second, model: "${CLAUDE}", priority: 2 }
  - { name: emb, deployments: [{ provider: oai, model: text-embedding-3-small }] }
keys:
  - { name: bounds, key: ${KEY} }
`;
  gateway = await startGateway(parseConfigText(yaml, '/tmp/input-bounds.yaml', {}), {
    port: 0,
    host: '127.0.0.1',
  });
});

after(async () => {
  await gateway?.shutdown(0);
  images.closeAllConnections();
  await new Promise((resolve) => images.close(resolve));
  await Promise.all([first?.close(), second?.close(), embeddingsSim?.close()]);
});

beforeEach(() => {
  imageRequests = [];
  hanging = undefined;
  for (const sim of [first, second, embeddingsSim]) {
    sim.clearFaults();
    sim.clearRequests();
  }
});

function post(path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(`${gateway.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

const chat = (content: unknown[]) => ({ model: 'claude', messages: [{ role: 'user', content }] });
const image = (url: string) => ({ type: 'image_url', image_url: { url } });

interface ErrorBody {
  error: { message: string; param: string | null; code: string | null; type: string };
}

async function errorOf(response: Response): Promise<ErrorBody['error']> {
  const body = (await response.json()) as ErrorBody;
  return body.error;
}

describe('images per request', () => {
  it('more than maxImages (URLs and data URLs alike): 400 naming the part, nothing fetched or sent', async () => {
    const response = await post(
      '/v1/chat/completions',
      chat([
        { type: 'text', text: 'look' },
        image(dataUrl(PNG)),
        image(`${imageBase}/cat.png`),
        image(dataUrl(PNG)),
      ]),
    );
    assert.equal(response.status, 400);
    const error = await errorOf(response);
    assert.equal(error.param, 'messages[0].content[3].image_url');
    assert.equal(
      error.message,
      'messages[0].content[3].image_url: the request has more than 2 images (server.imageFetch.maxImages)',
    );
    assert.deepEqual(imageRequests, []);
    assert.equal(first.requests().length + second.requests().length, 0);
  });

  it('more than maxTotalBytes in all: 400 naming the part that crossed it', async () => {
    const response = await post(
      '/v1/chat/completions',
      chat([image(dataUrl(Buffer.alloc(600, 1))), image(dataUrl(Buffer.alloc(600, 2)))]),
    );
    assert.equal(response.status, 400);
    const error = await errorOf(response);
    assert.equal(error.param, 'messages[0].content[1].image_url');
    assert.match(error.message, /more than 1000 bytes \(server\.imageFetch\.maxTotalBytes\)/);
    assert.equal(first.requests().length + second.requests().length, 0);
  });

  it('an image URL is fetched once, though two deployments are tried', async () => {
    first.addFaults([{ kind: 'status', status: 500 }]);
    const response = await post(
      '/v1/chat/completions',
      chat([{ type: 'text', text: 'what is it' }, image(`${imageBase}/cat.png`)]),
    );
    const body = (await response.json()) as { choices: { message: { content: string } }[] };
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.match(body.choices[0]?.message.content ?? '', /Saw 1 image/);
    assert.equal(first.requests().length, 1, 'the first deployment was tried');
    assert.equal(second.requests().length, 1, 'the second one served');
    assert.deepEqual(imageRequests, ['/cat.png']);
  });

  it('the client leaving stops the image fetch', async () => {
    const client = new AbortController();
    const answer = post('/v1/chat/completions', chat([image(`${imageBase}/hang`)]), client.signal).catch(
      (err: unknown) => err,
    );
    while (!hanging) await new Promise((resolve) => setTimeout(resolve, 5));
    const closed = once(hanging.socket, 'close');
    client.abort();
    assert.ok((await answer) instanceof Error);
    // The gateway's fetch of the image ends with the request, long before its own 30 s timeout.
    const stopped = await Promise.race([
      closed.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000).unref()),
    ]);
    assert.ok(stopped, 'the image fetch was still open 10 s after the client left');
    assert.equal(first.requests().length + second.requests().length, 0);
  });
});

describe('inputs per embeddings request', () => {
  it('more than server.maxEmbeddingInputs: 400 naming input, nothing sent upstream', async () => {
    const response = await post('/v1/embeddings', { model: 'emb', input: ['a', 'b', 'c', 'd'] });
    assert.equal(response.status, 400);
    const error = await errorOf(response);
    assert.equal(error.param, 'input');
    assert.equal(error.message, 'input: at most 3 inputs per request (server.maxEmbeddingInputs)');
    assert.equal(embeddingsSim.requests().length, 0);
    const fine = await post('/v1/embeddings', { model: 'emb', input: ['a', 'b', 'c'] });
    assert.equal(fine.status, 200);
  });

  it('parseEmbeddingBody takes the limit; token-id inputs count the same', () => {
    assert.throws(
      () => parseEmbeddingBody({ model: 'e', input: [[1], [2], [3]] }, 2),
      (err: unknown) =>
        err instanceof Error &&
        err.message === 'input: at most 2 inputs per request (server.maxEmbeddingInputs)',
    );
    assert.equal(parseEmbeddingBody({ model: 'e', input: [[1], [2]] }, 2).input.length, 2);
    // One string is one input.
    assert.equal(parseEmbeddingBody({ model: 'e', input: 'x' }, 1).input.length, 1);
  });
});

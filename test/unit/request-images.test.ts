/**
 * One request's images: how many, how many bytes in all, how many fetched at once, each fetched
 * once across attempts, stopped when the request ends; and encoders that start a request's image
 * loads together so the concurrency limit is used.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { type ImageFetchConfig, imageFetchSchema } from '../../src/config/schema.ts';
import type { ChatRequest } from '../../src/core/chat.ts';
import { GatewayError } from '../../src/core/errors.ts';
import { parseChatBody } from '../../src/ingress/openai/chat.ts';
import { encodeConverseRequest } from '../../src/providers/bedrock/encode.ts';
import { encodeGenerateContent } from '../../src/providers/google/encode.ts';
import {
  createImageLoader,
  createRequestImageLoader,
  type ImageLoader,
  type LoadedImage,
} from '../../src/providers/shared/images.ts';

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);
const dataUrl = (bytes: Buffer) => `data:image/png;base64,${bytes.toString('base64')}`;
const param = (m: number, p: number) => `messages[${m}].content[${p}].image_url`;

/** Requests the image server saw, and the most it had open at once. */
let served: string[] = [];
let open = 0;
let mostOpen = 0;
/** Answers waiting for the test (or for `gateAt` requests to be open at once). */
const held: Array<() => void> = [];
let gateAt = Number.POSITIVE_INFINITY;
/** The server's side of the last /hang request, to see it closed. */
let lastHang: IncomingMessage | undefined;

let server: Server;
let base: string;

function release(): void {
  for (const answer of held.splice(0)) answer();
}

before(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    served.push(req.url ?? '');
    open++;
    mostOpen = Math.max(mostOpen, open);
    // Finished (answered) or closed (hung up), whichever comes first.
    let counted = true;
    const done = () => {
      if (counted) open--;
      counted = false;
    };
    res.on('finish', done);
    res.on('close', done);
    const path = (req.url ?? '').split('?')[0];
    if (path === '/hang') {
      lastHang = req;
      return;
    }
    if (path === '/800') {
      res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.alloc(800));
      return;
    }
    // /held: answered when released, or as soon as `gateAt` requests are open together.
    held.push(() => res.writeHead(200, { 'content-type': 'image/png' }).end(PNG));
    if (open >= gateAt) release();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  release();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  release();
  served = [];
  mostOpen = open;
  gateAt = Number.POSITIVE_INFINITY;
  lastHang = undefined;
});

const config = (over: Partial<ImageFetchConfig> = {}): ImageFetchConfig =>
  imageFetchSchema.parse({
    maxBytes: 1024,
    timeoutMs: 5000,
    allowPrivateNetworks: true,
    allowedPorts: [Number(new URL(base).port)],
    ...over,
  });

function chat(imagesPerMessage: string[][]): ChatRequest {
  return parseChatBody({
    model: 'm',
    messages: imagesPerMessage.flatMap((urls, i) => [
      {
        role: 'user',
        content: [
          { type: 'text', text: `turn ${i}` },
          ...urls.map((url) => ({ type: 'image_url', image_url: { url } })),
        ],
      },
      { role: 'assistant', content: 'ok' },
    ]),
  });
}

/** Waits (a turn of the event loop at a time, 10 s at most) until `condition` holds. */
async function until(condition: () => boolean): Promise<void> {
  const giveUp = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > giveUp) assert.fail('the condition never came true');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function refusal(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof GatewayError, String(err));
    return err;
  }
  return assert.fail('expected a refusal');
}

describe('one request: how many images', () => {
  test('more than maxImages is refused before anything loads, naming the first part beyond it', () => {
    const png = dataUrl(PNG);
    // Data URLs and http URLs count alike; message 2 is the second user turn.
    const request = chat([[png, `${base}/held`], [png]]);
    assert.throws(
      () => createRequestImageLoader(config({ maxImages: 2 }), request, new AbortController().signal),
      (err: unknown) =>
        err instanceof GatewayError &&
        err.status === 400 &&
        err.param === param(2, 1) &&
        err.message === `${param(2, 1)}: the request has more than 2 images (server.imageFetch.maxImages)`,
    );
    assert.deepEqual(served, []);
    // At the limit it is fine.
    createRequestImageLoader(config({ maxImages: 3 }), request, new AbortController().signal);
  });
});

describe('one request: bytes of all its images', () => {
  test('data URLs: the part whose bytes cross maxTotalBytes is named', async () => {
    const load = createImageLoader(config({ maxTotalBytes: 1000 }));
    const first = dataUrl(Buffer.alloc(600, 1));
    const second = dataUrl(Buffer.alloc(600, 2));
    await load(first, param(0, 1));
    const err = await refusal(load(second, param(0, 2)));
    assert.equal(err.param, param(0, 2));
    assert.equal(
      err.message,
      `${param(0, 2)}: the request's images come to more than 1000 bytes (server.imageFetch.maxTotalBytes)`,
    );
    // The limit is per request: the next one starts from zero.
    await createImageLoader(config({ maxTotalBytes: 1000 }))(second, param(0, 1));
  });

  test('fetched images count as they arrive, each under maxBytes, together over maxTotalBytes', async () => {
    const load = createImageLoader(config({ maxTotalBytes: 1000, concurrency: 1 }));
    await load(`${base}/800?a`, param(0, 1));
    const err = await refusal(load(`${base}/800?b`, param(0, 2)));
    assert.equal(err.param, param(0, 2));
    assert.match(err.message, /more than 1000 bytes \(server\.imageFetch\.maxTotalBytes\)/);
  });
});

describe('one request: fetched once, a few at a time, stopped when it ends', () => {
  test('the same URL asked for again (a failover attempt) is not fetched again', async () => {
    const load = createImageLoader(config());
    gateAt = 1;
    const first = await load(`${base}/held?once`, param(0, 1));
    const again = await load(`${base}/held?once`, param(0, 1));
    assert.deepEqual(served, ['/held?once']);
    assert.equal(again, first);
  });

  test('at most `concurrency` fetches in flight, and that many are used', async () => {
    const load = createImageLoader(config({ concurrency: 2 }));
    const loads = [1, 2, 3, 4, 5].map((i) => load(`${base}/held?i=${i}`, param(0, i)));
    // Two are in flight, and stay unanswered for a while: time for a third to show in mostOpen
    // (a loader that fetched one at a time would never get past the wait).
    await until(() => held.length >= 2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Then one answer at a time, each only once two are waiting again (fewer at the tail).
    for (let answered = 0; answered < 5; answered++) {
      await until(() => held.length >= Math.min(2, 5 - answered));
      held.shift()?.();
    }
    assert.equal((await Promise.all(loads)).length, 5);
    assert.equal(served.length, 5);
    assert.equal(mostOpen, 2);
  });

  test('the request ending aborts its fetch in flight and refuses the queued ones, with its reason', async () => {
    const controller = new AbortController();
    const load = createImageLoader(config({ concurrency: 1 }), controller.signal);
    const hanging = load(`${base}/hang`, param(0, 1));
    const queued = load(`${base}/held?queued`, param(0, 2));
    await until(() => lastHang !== undefined);
    const closed = once(lastHang!.socket, 'close');
    const reason = new Error('client went away');
    controller.abort(reason);
    await assert.rejects(hanging, (err: unknown) => err === reason);
    await assert.rejects(queued, (err: unknown) => err === reason);
    await closed; // the image server saw the fetch go
    assert.deepEqual(served, ['/hang']);
    // Nothing new starts for an ended request.
    await assert.rejects(load(`${base}/held?late`, param(0, 3)), (err: unknown) => err === reason);
  });
});

/** A loader that records which loads started and answers only when told. */
function recordingLoader(): { loader: ImageLoader; started: string[]; answerAll(): void } {
  const started: string[] = [];
  const waiting: Array<() => void> = [];
  const loader: ImageLoader = (url) => {
    started.push(url);
    // Each URL's own bytes, so the body shows which image went where.
    const data = Buffer.from(url);
    return new Promise<LoadedImage>((resolve) =>
      waiting.push(() => resolve({ mimeType: 'image/png', data })),
    );
  };
  return {
    loader,
    started,
    answerAll: () => {
      for (const answer of waiting.splice(0)) answer();
    },
  };
}

describe('encoders start a request image loads together', () => {
  const urls = ['https://img.example/a.png', 'https://img.example/b.png', 'https://img.example/c.png'];
  const request = () => chat([[urls[0]!, urls[1]!], [urls[2]!]]);

  for (const [name, encode] of [
    ['bedrock', (r: ChatRequest, load: ImageLoader) => encodeConverseRequest(r, load)],
    [
      'google',
      (r: ChatRequest, load: ImageLoader) =>
        encodeGenerateContent(
          r,
          'gemini-2.5-flash',
          { cloudName: 'Gemini API', functionCallIds: true },
          load,
        ),
    ],
  ] as const) {
    test(`${name}: every image of every turn is asked for before any has arrived`, async () => {
      const { loader, started, answerAll } = recordingLoader();
      const body = encode(request(), loader);
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual([...started].sort(), urls);
      answerAll();
      // And the body keeps the images in the order of the parts.
      const text = JSON.stringify(await body);
      const at = urls.map((url) => text.indexOf(Buffer.from(url).toString('base64')));
      assert.ok(at.every((i) => i > 0) && at[0]! < at[1]! && at[1]! < at[2]!, `image order: ${at}`);
    });
  }
});

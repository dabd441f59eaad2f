import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type ImageFetchConfig, imageFetchSchema } from '../../src/config/schema.ts';
import { GatewayError } from '../../src/core/errors.ts';
import {
  createImageLoader,
  isPrivateAddress,
  parseDataUrl,
  sniffImageType,
} from '../../src/providers/shared/images.ts';

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);
const PARAM = 'messages[0].content[1].image_url';
const config = (over: Partial<ImageFetchConfig> = {}): ImageFetchConfig =>
  imageFetchSchema.parse({
    enabled: true,
    maxBytes: 1024,
    timeoutMs: 500,
    allowPrivateNetworks: true,
    ...over,
  });

async function refusal(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof GatewayError, String(err));
    return err;
  }
  return assert.fail('expected a refusal');
}

let server: Server;
let base: string;
before(async () => {
  server = createServer((req, res) => {
    switch (req.url) {
      case '/cat.png':
        res.writeHead(200, { 'content-type': 'image/png' }).end(PNG);
        break;
      case '/untyped':
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(PNG);
        break;
      case '/big':
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': '5000' }).end(Buffer.alloc(5000));
        break;
      case '/big-chunked':
        res.writeHead(200, { 'content-type': 'image/png' });
        res.write(Buffer.alloc(800));
        res.end(Buffer.alloc(800));
        break;
      case '/text':
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html></html>');
        break;
      case '/hang':
        break;
      default:
        res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('image loading for clouds that need bytes', () => {
  test('data URLs decode in place, jpg normalised to jpeg', () => {
    const image = parseDataUrl(`data:image/jpg;base64,${PNG.toString('base64')}`, PARAM);
    assert.equal(image.mimeType, 'image/jpeg');
    assert.deepEqual(Buffer.from(image.data), PNG);
  });

  test('bad data URLs are refused naming the part', () => {
    for (const url of ['data:image/png,notbase64', 'data:text/plain;base64,aGk=', 'data:image/png;base64,']) {
      assert.throws(
        () => parseDataUrl(url, PARAM),
        (err: unknown) => err instanceof GatewayError && err.status === 400 && err.param === PARAM,
      );
    }
  });

  test('http URLs are fetched; the media type comes from the header, else from the bytes', async () => {
    const load = createImageLoader(config());
    const typed = await load(`${base}/cat.png`, PARAM);
    assert.equal(typed.mimeType, 'image/png');
    assert.deepEqual(Buffer.from(typed.data), PNG);
    assert.equal((await load(`${base}/untyped`, PARAM)).mimeType, 'image/png');
  });

  test('size, status, type and time limits are 400s naming the part and the setting', async () => {
    const load = createImageLoader(config());
    assert.match(
      (await refusal(load(`${base}/big`, PARAM))).message,
      /larger than 1024 bytes \(server\.imageFetch\.maxBytes\)/,
    );
    assert.match((await refusal(load(`${base}/big-chunked`, PARAM))).message, /server\.imageFetch\.maxBytes/);
    assert.match((await refusal(load(`${base}/missing`, PARAM))).message, /answered HTTP 404/);
    assert.match((await refusal(load(`${base}/text`, PARAM))).message, /did not return an image/);
    const hang = await refusal(load(`${base}/hang`, PARAM));
    assert.equal(hang.param, PARAM);
  });

  test('fetching disabled: a 400 that says how to send the image instead', async () => {
    const load = createImageLoader(config({ enabled: false }));
    const err = await refusal(load(`${base}/cat.png`, PARAM));
    assert.equal(err.status, 400);
    assert.match(err.message, /server\.imageFetch\.enabled is false.*data URL/);
    // Data URLs still work.
    assert.equal(
      (await load(`data:image/png;base64,${PNG.toString('base64')}`, PARAM)).mimeType,
      'image/png',
    );
  });

  test('private addresses are refused unless allowed, by literal address or by name', async () => {
    const load = createImageLoader(config({ allowPrivateNetworks: false }));
    assert.match((await refusal(load(`${base}/cat.png`, PARAM))).message, /private network address/);
    const port = new URL(base).port;
    assert.match(
      (await refusal(load(`http://localhost:${port}/cat.png`, PARAM))).message,
      /private network address/,
    );
  });

  test('the private-address table', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '::1',
      'fd00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
    ]) {
      assert.equal(isPrivateAddress(a), true, a);
    }
    for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700::1111', 'example.com'])
      assert.equal(isPrivateAddress(a), false, a);
  });

  test('sniffing knows png, jpeg, gif and webp', () => {
    assert.equal(sniffImageType(PNG), 'image/png');
    assert.equal(sniffImageType(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), 'image/jpeg');
    assert.equal(sniffImageType(Buffer.from('GIF89a')), 'image/gif');
    assert.equal(sniffImageType(Buffer.from('RIFF\0\0\0\0WEBPVP8 ')), 'image/webp');
    assert.equal(sniffImageType(Buffer.from('hello')), undefined);
  });
});

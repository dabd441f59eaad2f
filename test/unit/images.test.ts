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
/** The test server listens on a free port: it is allowed unless a test says otherwise. */
const config = (over: Partial<ImageFetchConfig> = {}): ImageFetchConfig =>
  imageFetchSchema.parse({
    enabled: true,
    maxBytes: 1024,
    timeoutMs: 500,
    allowPrivateNetworks: true,
    allowedPorts: [80, 443, Number(new URL(base).port)],
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

  /** Per range: addresses with whether a fetch must refuse them. */
  const SPECIAL_ADDRESSES: Record<string, [address: string, refused: boolean][]> = {
    'NAT64 64:ff9b::/96, judged by its embedded IPv4': [
      ['64:ff9b::7f00:1', true],
      ['64:ff9b::127.0.0.1', true],
      ['64:ff9b:0:0:0:0:7f00:1', true],
      ['64:ff9b::a9fe:a9fe', true], // the metadata address 169.254.169.254
      ['64:ff9b::a00:1', true],
      ['64:ff9b::', true],
      ['64:ff9b::808:808', false], // 8.8.8.8: what DNS64 gives an IPv6-only cluster for a public host
      ['64:ff9b:1::808:808', true], // the local-use NAT64 prefix
    ],
    '6to4 2002::/16': [
      ['2002:7f00:1::', true],
      ['2002:808:808::1', true],
      ['192.88.99.1', true], // its relay anycast
    ],
    'IPv4-compatible ::a.b.c.d, and IPv4-mapped judged by its IPv4': [
      ['::7f00:1', true],
      ['::127.0.0.1', true],
      ['::808:808', true],
      ['::ffff:7f00:1', true],
      ['::ffff:808:808', false],
    ],
    'site-local fec0::/10 and other non-global IPv6': [
      ['fec0::1', true],
      ['feff::1', true],
      ['fe80::1%eth0', true],
      ['100::1', true], // discard-only
      ['::', true],
      ['2001::1', true], // Teredo
      ['2a00:1450:4001:80b::200e', false],
    ],
    '198.18.0.0/15 (benchmarking)': [
      ['198.18.0.1', true],
      ['198.19.255.255', true],
      ['198.20.0.1', false],
    ],
    '192.0.0.0/24 (IETF protocol assignments)': [
      ['192.0.0.8', true],
      ['192.0.1.1', false],
    ],
    'multicast 224.0.0.0/4 and ff00::/8': [
      ['224.0.0.1', true],
      ['239.255.255.250', true],
      ['ff02::1', true],
      ['ff0e::1', true],
      ['223.255.255.255', false],
    ],
    'reserved 240.0.0.0/4 and broadcast': [
      ['240.0.0.1', true],
      ['255.255.255.255', true],
      ['0.0.0.0', true],
      ['100.64.0.1', true],
    ],
    'documentation ranges': [
      ['192.0.2.1', true],
      ['198.51.100.7', true],
      ['203.0.113.9', true],
      ['2001:db8::1', true],
      ['3fff::1', true],
      ['192.0.3.1', false],
    ],
  };
  for (const [range, rows] of Object.entries(SPECIAL_ADDRESSES)) {
    test(`address filter: ${range}`, () => {
      for (const [address, refused] of rows) assert.equal(isPrivateAddress(address), refused, address);
    });
  }

  test('special addresses in URLs are refused before any connection, however they are written', async () => {
    const load = createImageLoader(config({ allowPrivateNetworks: false }));
    for (const host of [
      '[64:ff9b::127.0.0.1]',
      '[::127.0.0.1]',
      '[2002:7f00:1::]',
      '[fec0::1]',
      '198.18.0.1',
      '3325256705',
    ]) {
      const err = await refusal(load(`http://${host}/cat.png`, PARAM));
      assert.equal(err.param, PARAM);
      assert.match(err.message, /private network address/, host);
    }
  });

  test("port rule: only allowedPorts, the scheme's default port counting as 80 or 443", async () => {
    const rows: [url: string, allowedPorts: number[], refused: boolean][] = [
      ['http://127.0.0.1:8080/cat.png', [80, 443], true],
      ['http://127.0.0.1:22/cat.png', [80, 443], true],
      ['https://127.0.0.1:8443/cat.png', [80, 443], true],
      ['https://127.0.0.1/cat.png', [80], true],
      ['http://127.0.0.1/cat.png', [80, 443], false],
      ['https://127.0.0.1/cat.png', [80, 443], false],
      ['http://127.0.0.1:443/cat.png', [80, 443], false],
      ['http://127.0.0.1:8080/cat.png', [8080], false],
    ];
    for (const [url, allowedPorts, refused] of rows) {
      // Private networks allowed: the port rule is the only thing that can refuse here.
      const load = createImageLoader(config({ allowPrivateNetworks: true, allowedPorts, timeoutMs: 200 }));
      const err = await refusal(load(url, PARAM));
      assert.equal(err.param, PARAM);
      const byPortRule = /names port \d+; allowed are .* \(server\.imageFetch\.allowedPorts\)/.test(
        err.message,
      );
      // Allowed: nothing listens there, so the fetch itself fails, but not by the port rule.
      assert.equal(byPortRule, refused, `${url} [${allowedPorts}]: ${err.message}`);
    }
  });

  test('allowPrivateNetworks lifts the address filter, not the port rule', async () => {
    const load = createImageLoader(config({ allowPrivateNetworks: true, allowedPorts: [80, 443] }));
    const err = await refusal(load(`${base}/cat.png`, PARAM));
    assert.match(err.message, /server\.imageFetch\.allowedPorts/);
  });

  test('only http(s) and data URLs', async () => {
    const load = createImageLoader(config());
    for (const url of ['ftp://127.0.0.1/cat.png', 'file:///etc/passwd', 'gopher://127.0.0.1:70/']) {
      assert.match((await refusal(load(url, PARAM))).message, /must be http\(s\) or a data URL/, url);
    }
  });

  test('a data URL larger than maxBytes is refused like a fetched one', async () => {
    const load = createImageLoader(config({ maxBytes: 64 }));
    const big = `data:image/png;base64,${Buffer.alloc(65).toString('base64')}`;
    const err = await refusal(load(big, PARAM));
    assert.equal(err.param, PARAM);
    assert.match(err.message, /larger than 64 bytes \(server\.imageFetch\.maxBytes\)/);
  });

  test('sniffing knows png, jpeg, gif and webp', () => {
    assert.equal(sniffImageType(PNG), 'image/png');
    assert.equal(sniffImageType(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), 'image/jpeg');
    assert.equal(sniffImageType(Buffer.from('GIF89a')), 'image/gif');
    assert.equal(sniffImageType(Buffer.from('RIFF\0\0\0\0WEBPVP8 ')), 'image/webp');
    assert.equal(sniffImageType(Buffer.from('hello')), undefined);
  });
});

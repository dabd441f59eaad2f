import { lookup } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Agent, request } from 'undici';
import type { ImageFetchConfig } from '../../config/schema.ts';
import { GatewayError } from '../../core/errors.ts';

/** Image bytes with their media type, as clouds that take inline images need them. */
export interface LoadedImage {
  mimeType: string;
  data: Uint8Array;
}

/** Loads an image part's URL; `param` names the part in errors (`messages[0].content[1].image_url`). */
export type ImageLoader = (url: string, param: string) => Promise<LoadedImage>;

const DATA_URL = /^data:([^;,]+)?((?:;[^;,]+)*?);base64,(.*)$/is;

/** `data:image/png;base64,...` → bytes. Only base64 data URLs carry images in OpenAI's API. */
export function parseDataUrl(url: string, param: string): LoadedImage {
  const match = DATA_URL.exec(url);
  if (!match) throw invalid(param, 'a data URL must be data:<image type>;base64,<data>');
  const mimeType = (match[1] ?? '').toLowerCase();
  if (!mimeType.startsWith('image/'))
    throw invalid(param, `expected an image media type, got "${mimeType || 'none'}"`);
  const data = Buffer.from(match[3] ?? '', 'base64');
  if (data.byteLength === 0) throw invalid(param, 'the data URL holds no bytes');
  return { mimeType: mimeType === 'image/jpg' ? 'image/jpeg' : mimeType, data };
}

function invalid(param: string, rule: string): GatewayError {
  return new GatewayError('invalid_request', `${param}: ${rule}`, { param });
}

/** Addresses an image fetch may not reach unless the operator allows private networks. */
const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::1', 128],
  ['::', 128],
  ['fc00::', 7],
  ['fe80::', 10],
] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv6');
}

export function isPrivateAddress(address: string): boolean {
  // An IPv4-mapped IPv6 address (::ffff:127.0.0.1) is judged by its IPv4 part.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const plain = mapped ?? address;
  const family = isIP(plain);
  if (family === 0) return false;
  return PRIVATE.check(plain, family === 4 ? 'ipv4' : 'ipv6');
}

/** A DNS lookup that refuses private answers, so a hostname cannot smuggle the gateway inside. */
const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 0);
    const allowed = addresses.filter((a) => !isPrivateAddress(a.address));
    const first = allowed[0];
    if (!first) {
      const refused = Object.assign(new Error(`${hostname} resolves only to private addresses`), {
        code: 'EPRIVATE',
      });
      return callback(refused, '', 0);
    }
    if ((options as { all?: boolean }).all)
      return (callback as unknown as (e: null, a: typeof allowed) => void)(null, allowed);
    return callback(null, first.address, first.family);
  });
};

/**
 * Image loader for a gateway: data URLs decode in place; http(s) URLs are fetched with the
 * configured size and time limits, or refused with a 400 naming the part when fetching is off.
 */
export function createImageLoader(config: ImageFetchConfig): ImageLoader {
  const agent = new Agent({
    connect: {
      timeout: config.timeoutMs,
      ...(config.allowPrivateNetworks ? {} : { lookup: publicOnlyLookup }),
    },
  });
  return async (url, param) => {
    if (/^data:/i.test(url)) return parseDataUrl(url, param);
    if (!config.enabled) {
      throw invalid(
        param,
        'image URLs are not fetched by this gateway (server.imageFetch.enabled is false); send the image as a data URL',
      );
    }
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      throw invalid(param, 'not a valid URL');
    }
    if (!config.allowPrivateNetworks && isPrivateAddress(target.hostname.replace(/^\[|\]$/g, ''))) {
      throw invalid(param, 'the image URL points to a private network address');
    }
    let response: Awaited<ReturnType<typeof request>>;
    try {
      response = await request(target, {
        dispatcher: agent,
        signal: AbortSignal.timeout(config.timeoutMs),
        headersTimeout: config.timeoutMs,
        bodyTimeout: config.timeoutMs,
      });
    } catch (err) {
      const code = (err as { code?: string }).code;
      throw invalid(
        param,
        `the image could not be fetched (${code === 'EPRIVATE' ? 'private network address' : (code ?? 'network error')})`,
      );
    }
    if (response.statusCode !== 200) {
      discard(response.body);
      throw invalid(param, `the image URL answered HTTP ${response.statusCode}`);
    }
    const declared = Number(response.headers['content-length']);
    if (Number.isFinite(declared) && declared > config.maxBytes) {
      discard(response.body);
      throw invalid(param, `the image is larger than ${config.maxBytes} bytes (server.imageFetch.maxBytes)`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of response.body) {
        size += (chunk as Buffer).length;
        if (size > config.maxBytes) {
          discard(response.body);
          throw invalid(
            param,
            `the image is larger than ${config.maxBytes} bytes (server.imageFetch.maxBytes)`,
          );
        }
        chunks.push(chunk as Buffer);
      }
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      throw invalid(param, 'the image download did not complete in time');
    }
    const header =
      String(response.headers['content-type'] ?? '')
        .split(';')[0]
        ?.trim()
        .toLowerCase() ?? '';
    const data = Buffer.concat(chunks, size);
    const mimeType = header.startsWith('image/') ? header : sniffImageType(data);
    if (!mimeType) throw invalid(param, 'the URL did not return an image');
    return { mimeType: mimeType === 'image/jpg' ? 'image/jpeg' : mimeType, data };
  };
}

/** Media type from the first bytes, for servers that send no or a generic content type. */
export function sniffImageType(data: Uint8Array): string | undefined {
  const b = data;
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png';
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return 'image/gif';
  if (b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45)
    return 'image/webp';
  return undefined;
}

/** Drops a response body we will not read; the listener keeps its abort error from crashing the process. */
function discard(body: NodeJS.ReadableStream & { destroy(): void }): void {
  body.on('error', () => {});
  body.destroy();
}

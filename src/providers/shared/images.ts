/**
 * Images for clouds that need bytes (Bedrock, Gemini, Vertex; Anthropic for data URLs).
 *
 * One loader per chat request, made before its first attempt: it refuses a request with more than
 * `maxImages` images, loads each URL once (a failover attempt reuses what the first one loaded),
 * fetches at most `concurrency` URLs at a time, counts every image's bytes against
 * `maxTotalBytes` as they are decoded or arrive, and stops fetching when the request ends.
 * Fetches reach public addresses on allowed ports only, unless the operator allows private
 * networks: the gateway is no SSRF proxy. Every refusal is a 400 naming the part.
 */

import { lookup } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Agent, request } from 'undici';
import type { ImageFetchConfig } from '../../config/schema.ts';
import type { ChatRequest } from '../../core/chat.ts';
import { GatewayError, invalidRequest } from '../../core/errors.ts';

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
  if (!match) throw invalidRequest(param, 'a data URL must be data:<image type>;base64,<data>');
  const mimeType = (match[1] ?? '').toLowerCase();
  if (!mimeType.startsWith('image/'))
    throw invalidRequest(param, `expected an image media type, got "${mimeType || 'none'}"`);
  const data = Buffer.from(match[3] ?? '', 'base64');
  if (data.byteLength === 0) throw invalidRequest(param, 'the data URL holds no bytes');
  return { mimeType: mimeType === 'image/jpg' ? 'image/jpeg' : mimeType, data };
}

// ---------------------------------------------------------------------------------------------
// One request's images
// ---------------------------------------------------------------------------------------------

/** Refuses a request with more than `maxImages` image parts, naming the first part beyond it. */
export function refuseTooManyImages(request: ChatRequest, maxImages: number): void {
  let count = 0;
  for (const [m, message] of request.messages.entries()) {
    if (message.role !== 'user') continue;
    for (const [p, part] of message.content.entries()) {
      if (part.type !== 'image') continue;
      count++;
      if (count > maxImages) {
        throw invalidRequest(
          `messages[${m}].content[${p}].image_url`,
          `the request has more than ${maxImages} images (server.imageFetch.maxImages)`,
        );
      }
    }
  }
}

/**
 * The image loader of one chat request, made once before its first attempt and given to every
 * attempt. Refuses the request at once when it has too many images; `signal` ends its fetches
 * (the client left, the deadline passed, the gateway stops).
 */
export function createRequestImageLoader(
  config: ImageFetchConfig,
  request: ChatRequest,
  signal: AbortSignal,
): ImageLoader {
  refuseTooManyImages(request, config.maxImages);
  return createImageLoader(config, signal);
}

/**
 * A loader for the images of one request (createRequestImageLoader also counts them first): each
 * URL loaded once and its promise kept, fetches at most `concurrency` at a time, all bytes counted
 * against `maxTotalBytes`, everything stopped when `signal` aborts (with the signal's reason, not
 * a 400: the request is over). Make one per request: it remembers what it loaded.
 */
export function createImageLoader(
  config: ImageFetchConfig,
  // Its own never-aborted signal by default: the loader's listener goes away with the loader.
  signal: AbortSignal = new AbortController().signal,
): ImageLoader {
  const agent = agentFor(config);
  const budget = new ByteBudget(config.maxTotalBytes);
  const slots = new Slots(config.concurrency, signal);
  const loaded = new Map<string, Promise<LoadedImage>>();

  const load = async (url: string, param: string): Promise<LoadedImage> => {
    if (/^data:/i.test(url)) {
      const image = parseDataUrl(url, param);
      if (image.data.byteLength > config.maxBytes) throw tooLarge(param, config.maxBytes);
      budget.charge(image.data.byteLength, param);
      return image;
    }
    const target = fetchableUrl(url, param, config);
    await slots.acquire();
    try {
      return await download(target, param, { config, agent, budget, signal });
    } finally {
      slots.release();
    }
  };

  return (url, param) => {
    let image = loaded.get(url);
    if (!image) {
      image = load(url, param);
      loaded.set(url, image);
    }
    return image;
  };
}

/** What the images of one request may take in all; charged as bytes arrive, so the part that crosses it is named. */
class ByteBudget {
  private used = 0;
  private readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }

  charge(bytes: number, param: string): void {
    this.used += bytes;
    if (this.used > this.limit) {
      throw invalidRequest(
        param,
        `the request's images come to more than ${this.limit} bytes (server.imageFetch.maxTotalBytes)`,
      );
    }
  }
}

/** At most `size` fetches at once; the rest wait in order, and are refused when the request ends. */
class Slots {
  private free: number;
  private readonly waiting: { grant(): void; refuse(reason: unknown): void }[] = [];
  private readonly signal: AbortSignal;

  constructor(size: number, signal: AbortSignal) {
    this.free = size;
    this.signal = signal;
    // One listener per request, not one per waiting image: a request may wait on many.
    signal.addEventListener(
      'abort',
      () => {
        for (const waiter of this.waiting.splice(0)) waiter.refuse(signal.reason);
      },
      { once: true },
    );
  }

  acquire(): Promise<void> {
    if (this.signal.aborted) return Promise.reject(this.signal.reason);
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((grant, refuse) => this.waiting.push({ grant, refuse }));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next.grant();
    else this.free++;
  }
}

// ---------------------------------------------------------------------------------------------
// Fetching
// ---------------------------------------------------------------------------------------------

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

/** The URL to fetch, or a 400 when fetching is off, it is no http(s) URL, or its port or address is refused. */
function fetchableUrl(url: string, param: string, config: ImageFetchConfig): URL {
  if (!config.enabled) {
    throw invalidRequest(
      param,
      'image URLs are not fetched by this gateway (server.imageFetch.enabled is false); send the image as a data URL',
    );
  }
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw invalidRequest(param, 'not a valid URL');
  }
  const defaultPort = DEFAULT_PORTS[target.protocol];
  if (defaultPort === undefined) throw invalidRequest(param, 'an image URL must be http(s) or a data URL');
  const port = target.port === '' ? defaultPort : Number(target.port);
  // Checked even when private networks are allowed: a port names a service, not just a host.
  if (!config.allowedPorts.includes(port)) {
    throw invalidRequest(
      param,
      `the image URL names port ${port}; allowed are ${config.allowedPorts.join(', ')} (server.imageFetch.allowedPorts)`,
    );
  }
  if (!config.allowPrivateNetworks && isPrivateAddress(target.hostname.replace(/^\[|\]$/g, ''))) {
    throw invalidRequest(param, 'the image URL points to a private network address');
  }
  return target;
}

interface DownloadScope {
  config: ImageFetchConfig;
  agent: Agent;
  budget: ByteBudget;
  /** The request's signal: when it aborts, its reason is thrown instead of a 400. */
  signal: AbortSignal;
}

async function download(target: URL, param: string, scope: DownloadScope): Promise<LoadedImage> {
  const { config, signal } = scope;
  let response: Awaited<ReturnType<typeof request>>;
  try {
    response = await request(target, {
      dispatcher: scope.agent,
      signal: AbortSignal.any([signal, AbortSignal.timeout(config.timeoutMs)]),
      headersTimeout: config.timeoutMs,
      bodyTimeout: config.timeoutMs,
    });
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    const code = (err as { code?: string }).code;
    throw invalidRequest(
      param,
      `the image could not be fetched (${code === 'EPRIVATE' ? 'private network address' : (code ?? 'network error')})`,
    );
  }
  const body = response.body;
  if (response.statusCode !== 200) {
    discard(body);
    throw invalidRequest(param, `the image URL answered HTTP ${response.statusCode}`);
  }
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > config.maxBytes) {
    discard(body);
    throw tooLarge(param, config.maxBytes);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      const bytes = chunk as Buffer;
      size += bytes.length;
      if (size > config.maxBytes) throw tooLarge(param, config.maxBytes);
      scope.budget.charge(bytes.length, param);
      chunks.push(bytes);
    }
  } catch (err) {
    discard(body);
    if (err instanceof GatewayError) throw err;
    if (signal.aborted) throw signal.reason;
    throw invalidRequest(param, 'the image download did not complete in time');
  }
  const header =
    String(response.headers['content-type'] ?? '')
      .split(';')[0]
      ?.trim()
      .toLowerCase() ?? '';
  const data = Buffer.concat(chunks, size);
  const mimeType = header.startsWith('image/') ? header : sniffImageType(data);
  if (!mimeType) throw invalidRequest(param, 'the URL did not return an image');
  return { mimeType: mimeType === 'image/jpg' ? 'image/jpeg' : mimeType, data };
}

function tooLarge(param: string, maxBytes: number): GatewayError {
  return invalidRequest(param, `the image is larger than ${maxBytes} bytes (server.imageFetch.maxBytes)`);
}

/**
 * One connection pool per configuration, shared by every request's loader. Kept here rather than
 * in the runtime so a loader needs nothing but the configuration it was given.
 */
const agents = new WeakMap<ImageFetchConfig, Agent>();

function agentFor(config: ImageFetchConfig): Agent {
  let agent = agents.get(config);
  if (!agent) {
    agent = new Agent({
      connect: {
        timeout: config.timeoutMs,
        ...(config.allowPrivateNetworks ? {} : { lookup: publicOnlyLookup }),
      },
    });
    agents.set(config, agent);
  }
  return agent;
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

// ---------------------------------------------------------------------------------------------
// Which addresses a fetch may reach
// ---------------------------------------------------------------------------------------------

/** IPv4 networks no public image lives at (IANA special-purpose registry). */
const REFUSED_IPV4 = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local: cloud metadata services live here
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast (deprecated)
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, with the broadcast address 255.255.255.255
] as const) {
  REFUSED_IPV4.addSubnet(net, prefix, 'ipv4');
}

/**
 * IPv6 is judged by allowing rather than refusing: only global unicast (2000::/3) reaches the
 * internet. That alone refuses ::, ::1, IPv4-compatible ::a.b.c.d, unique-local fc00::/7,
 * link-local fe80::/10, site-local fec0::/10, multicast ff00::/8, discard 100::/64 and the local
 * NAT64 prefix 64:ff9b:1::/48.
 */
const GLOBAL_UNICAST = new BlockList();
GLOBAL_UNICAST.addSubnet('2000::', 3, 'ipv6');

/** Special ranges inside global unicast. */
const REFUSED_IPV6 = new BlockList();
for (const [net, prefix] of [
  ['2001::', 23], // IETF protocol assignments: Teredo (embeds an IPv4 address), benchmarking, ORCHID
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: embeds an IPv4 address the relay would reach
  ['3fff::', 20], // documentation
] as const) {
  REFUSED_IPV6.addSubnet(net, prefix, 'ipv6');
}

/**
 * Prefixes whose last 32 bits are an IPv4 address the packet really goes to: IPv4-mapped
 * (::ffff:0:0/96) and well-known NAT64 (64:ff9b::/96). They are judged by that IPv4 address, so
 * an IPv6-only cluster behind DNS64 can still fetch public images but not 127.0.0.1.
 */
const EMBEDS_IPV4 = new BlockList();
EMBEDS_IPV4.addSubnet('::ffff:0:0', 96, 'ipv6');
EMBEDS_IPV4.addSubnet('64:ff9b::', 96, 'ipv6');

/** Whether an IP address is one an image fetch may not reach. Hostnames are false: the lookup judges their answers. */
export function isPrivateAddress(address: string): boolean {
  const plain = address.replace(/%.*$/, ''); // a zone index (fe80::1%eth0) names an interface, not an address
  const family = isIP(plain);
  if (family === 4) return REFUSED_IPV4.check(plain, 'ipv4');
  if (family !== 6) return false;
  if (EMBEDS_IPV4.check(plain, 'ipv6')) return REFUSED_IPV4.check(lastIPv4(plain), 'ipv4');
  return !GLOBAL_UNICAST.check(plain, 'ipv6') || REFUSED_IPV6.check(plain, 'ipv6');
}

/** The IPv4 address in the last 32 bits of a valid IPv6 address, written either way (::ffff:1.2.3.4, ::ffff:102:304). */
function lastIPv4(ipv6: string): string {
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(ipv6)?.[1];
  if (dotted) return dotted;
  const [head, tail] = ipv6.split('::');
  const groupsOf = (text: string | undefined) => (text ? text.split(':') : []);
  const written = groupsOf(head);
  const after = groupsOf(tail);
  // "::" stands for as many zero groups as make eight.
  const groups =
    tail === undefined
      ? written
      : [...written, ...Array(8 - written.length - after.length).fill('0'), ...after];
  const high = Number.parseInt(groups[6] ?? '0', 16);
  const low = Number.parseInt(groups[7] ?? '0', 16);
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
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

import type { ProviderConfigOf } from '../../config/schema.ts';
import { trimTrailingSlashes } from '../shared/url.ts';
import type { Provider, ProviderContext } from '../types.ts';
import { readAnthropicCapacity } from './capacity.ts';
import { modelTraits } from './catalog.ts';
import { createMessagesStreamDecoder, decodeMessage } from './decode.ts';
import { CLOUD, encodeMessagesBody } from './encode.ts';
import { classifyAnthropicError } from './errors.ts';

/**
 * Anthropic's Messages API (`POST /v1/messages`). The gateway speaks API version 2023-06-01 with an
 * `x-api-key` (configurable as `anthropicVersion`): the request shape this adapter writes is that
 * version's, which still has temperature and top_p. No embeddings: Anthropic has none. It takes the
 * provider context as every factory does, and needs nothing from it.
 */
export function createAnthropicProvider(
  config: ProviderConfigOf<'anthropic'>,
  _context: ProviderContext,
): Provider {
  const url = `${trimTrailingSlashes(config.endpoint ?? 'https://api.anthropic.com')}/v1/messages`;
  const headers: Record<string, string> = {
    ...config.headers,
    'x-api-key': config.apiKey,
    'anthropic-version': config.anthropicVersion,
    'content-type': 'application/json',
  };
  return {
    id: config.id,
    type: config.type,
    region: config.region,
    tags: config.tags,
    cloudName: CLOUD,
    async chatCall(request, target, call) {
      const body = await encodeMessagesBody(request, {
        model: target.model,
        traits: modelTraits(target.model),
        loadImage: call.loadImage,
      });
      return {
        method: 'POST',
        url,
        headers: { ...headers, accept: request.stream ? 'text/event-stream' : 'application/json' },
        body: JSON.stringify(body),
      };
    },
    decodeChat: decodeMessage,
    chatStreamDecoder: createMessagesStreamDecoder,
    classifyError: classifyAnthropicError,
    readCapacity: readAnthropicCapacity,
  };
}

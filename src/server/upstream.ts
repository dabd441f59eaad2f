import { type HttpCall, UpstreamError } from '../core/upstream.ts';
import type { Provider } from '../providers/types.ts';
import type { AttemptIO } from '../resilience/attempts.ts';
import { readErrorBody, type UpstreamResponse } from '../transport/http.ts';

/** Sends one native call; a non-2xx answer becomes the cloud's classified failure. */
export async function sendClassified(
  io: AttemptIO,
  provider: Provider,
  call: HttpCall,
): Promise<UpstreamResponse> {
  const response = await io.send(call);
  if (response.status >= 300) {
    const text = await readErrorBody(response.body);
    throw new UpstreamError(provider.classifyError(response.status, response.headers, text));
  }
  return response;
}

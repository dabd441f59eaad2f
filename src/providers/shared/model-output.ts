/**
 * The model, not the cloud, failed: it ended its answer with output its own cloud calls invalid
 * (a malformed function call, a tool call nobody asked for). No OpenAI finish reason says that,
 * and answering `stop` with nothing in it would hide the failure, so the attempt fails with kind
 * `model_output`: another deployment may produce valid output, and this one stays healthy.
 */

import { RETRYABLE_KINDS, UpstreamError } from '../types.ts';

/**
 * `what` says what the model did wrong ("produced a malformed function call"), `source` where the
 * cloud said so ("Gemini finishReason MALFORMED_FUNCTION_CALL"); both reach logs and 5xx messages.
 */
export function modelOutputError(what: string, source: string): UpstreamError {
  return new UpstreamError({
    kind: 'model_output',
    retryable: RETRYABLE_KINDS.model_output,
    message: `the model ${what} (${source})`,
  });
}

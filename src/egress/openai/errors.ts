import type { GatewayError } from '../../core/errors.ts';

export interface OpenAIErrorBody {
  error: { message: string; type: string | null; param: string | null; code: string | null } & Record<
    string,
    unknown
  >;
}

export function openAIErrorBody(err: GatewayError): OpenAIErrorBody {
  return {
    error: {
      message: err.message,
      type: err.clientType,
      param: err.param,
      code: err.clientCode,
      ...err.extra,
    },
  };
}

/** How a stream that already started reports a failure: an SSE `error` event, and no [DONE] after it. */
export function sseErrorFrame(err: GatewayError): string {
  return `event: error\ndata: ${JSON.stringify(openAIErrorBody(err))}\n\n`;
}

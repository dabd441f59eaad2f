/**
 * Simulated Azure OpenAI (Azure OpenAI documentation): the classic deployment API
 * (`/openai/deployments/{deployment}/{chat/completions|embeddings}?api-version=...`, api-version
 * required), the v1 API (`/openai/v1/...`, body `model` = deployment name, api-version ignored),
 * `api-key` or Entra Bearer auth, content-filter annotations and the empty first stream chunk,
 * the ResponsibleAIPolicyViolation 400, Azure's 429 (string code "429") and DeploymentNotFound.
 */

import { randomUUID } from 'node:crypto';
import { type EntraConfig, EntraIssuer } from './azure-entra.ts';
import { retryAfterHeaders, retryAfterOf, type StatusFault } from './faults.ts';
import { type Headers, sendJson } from './http.ts';
import { type ChatContext, chatCompletion } from './openai-chat.ts';
import { embeddings } from './openai-embeddings.ts';
import { type NativeError, type OpenAIFlavour, type Operation, openaiErrorBody } from './openai-flavour.ts';
import { openaiRateLimitHeaders } from './rate-limit-headers.ts';
import type { Exchange, ProtocolHandler, SimRuntime } from './server.ts';
import { settleFault } from './server.ts';

export interface AzureOptions {
  label: string;
  apiKeys: string[];
  /** Deployment names; empty accepts any. */
  deployments: string[];
  region: string;
  entra?: EntraConfig;
}

const SAFE = { filtered: false, severity: 'safe' };
const severityResults = () => ({ hate: SAFE, self_harm: SAFE, sexual: SAFE, violence: SAFE });
const promptFilterResults = () => [
  {
    prompt_index: 0,
    content_filter_results: { ...severityResults(), jailbreak: { filtered: false, detected: false } },
  },
];
const completionFilterResults = () => ({
  ...severityResults(),
  protected_material_code: { filtered: false, detected: false },
  protected_material_text: { filtered: false, detected: false },
});

const azureError = (status: number, code: string, message: string): NativeError => ({
  status,
  body: { error: { code, message } },
});
const DEPLOYMENT_NOT_FOUND = azureError(
  404,
  'DeploymentNotFound',
  'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.',
);
const OPERATIONS: Record<Operation, string> = {
  chat: 'ChatCompletions_Create',
  embeddings: 'Embeddings_Create',
};

export const azureFlavour: OpenAIFlavour = {
  obfuscation: true,
  systemFingerprint: 'fp_sim0000001',
  usageDetails: true,
  strict: true,
  extraFields: ['data_sources', 'user_security_context'],
  modelEntry: () => ({ owned_by: 'organization-owner' }),
  errorBody: openaiErrorBody,
  statusFault(fault, _model, operation) {
    const retryAfterMs = retryAfterOf(fault);
    const headers = retryAfterHeaders(retryAfterMs);
    const seconds = Math.ceil((retryAfterMs ?? 1000) / 1000);
    if (fault.status === 429) {
      const message =
        fault.message ??
        `Requests to the ${OPERATIONS[operation]} Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current AIServices S0 pricing tier. Please retry after ${seconds} second${seconds === 1 ? '' : 's'}. Please contact Azure support service if you would like to further increase the default rate limit.`;
      return { ...azureError(429, '429', message), headers };
    }
    if (fault.status === 500) {
      const message =
        fault.message ??
        'The server had an error processing your request. Sorry about that! You can retry your request, or contact us through an Azure support request at: https://go.microsoft.com/fwlink/?linkid=2213926 if you keep seeing this error.';
      return { status: 500, body: openaiErrorBody({ status: 500, message, type: 'server_error' }), headers };
    }
    const message =
      fault.message ?? 'The service is temporarily unable to process your request. Please try again later.';
    return { ...azureError(fault.status, String(fault.status), message), headers };
  },
  decorateCompletion(body) {
    body.prompt_filter_results = promptFilterResults();
  },
  decorateChoice(choice, phase) {
    // Full category objects ride on content; role, tool and finish chunks carry `{}` (real capture).
    choice.content_filter_results =
      phase === 'content' || phase === 'message' ? completionFilterResults() : {};
  },
  streamPrelude: () => [
    { choices: [], created: 0, id: '', model: '', object: '', prompt_filter_results: promptFilterResults() },
  ],
  promptFiltered: () => ({
    status: 400,
    body: {
      error: {
        message:
          "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
        type: null,
        param: 'prompt',
        code: 'content_filter',
        status: 400,
        innererror: {
          code: 'ResponsibleAIPolicyViolation',
          content_filter_result: {
            hate: SAFE,
            self_harm: SAFE,
            sexual: { filtered: true, severity: 'high' },
            violence: SAFE,
            jailbreak: { filtered: false, detected: false },
          },
        },
      },
    },
  }),
};

/** Dated (`2024-10-21`, `2025-03-01-preview`) or the v1 preview aliases. */
const API_VERSION = /^(\d{4}-\d{2}-\d{2}(-preview)?|preview|latest|v1)$/;
const CLASSIC = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/;
const TOKEN = /^\/([^/]+)\/oauth2\/v2\.0\/token$/;

export function createAzureHandler(options: AzureOptions): ProtocolHandler {
  const keys = new Set(options.apiKeys);
  const deployments = new Set(options.deployments);
  const entra = options.entra ? new EntraIssuer(options.entra) : undefined;
  const notFound = azureError(404, '404', 'Resource not found');

  function authenticate(ex: Exchange): NativeError | undefined {
    const key = ex.req.headers['api-key'];
    // An `api-key` header wins over Authorization, as on Azure.
    if (typeof key === 'string' && key !== '') {
      if (keys.size === 0 || keys.has(key)) return undefined;
    } else {
      const match = /^Bearer\s+(.+)$/i.exec(ex.req.headers.authorization ?? '');
      if (match && entra?.verify(match[1]!.trim())) return undefined;
      if (match) {
        return azureError(
          401,
          '401',
          'Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired.',
        );
      }
    }
    return azureError(
      401,
      '401',
      'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
    );
  }

  function headers(deployment: string | undefined): Headers {
    const id = randomUUID();
    const out: Headers = {
      'apim-request-id': id,
      'x-request-id': id,
      'x-ms-region': options.region,
      'x-ratelimit-limit-requests': '1000',
      'x-ratelimit-limit-tokens': '1000000',
      'x-ratelimit-remaining-requests': '999',
      'x-ratelimit-remaining-tokens': '999000',
    };
    if (deployment !== undefined) out['x-ms-deployment-name'] = deployment;
    return out;
  }

  const send = (ex: Exchange, error: NativeError, h: Headers) =>
    sendJson(ex.res, error.status, error.body, { ...h, ...error.headers });

  async function inference(
    ex: Exchange,
    sim: SimRuntime,
    operation: Operation,
    deployment: string | undefined,
  ) {
    let h = headers(deployment);
    const denied = authenticate(ex);
    if (denied) return send(ex, denied, h);
    // Validation errors on Azure are passed through in OpenAI's envelope.
    const badRequest = (message: string, param: string | null = null) =>
      sendJson(ex.res, 400, openaiErrorBody({ status: 400, message, param }), h);
    if (ex.bodyInvalid) return badRequest('Invalid JSON in request body.');
    if (deployment === undefined) return badRequest('you must provide a model parameter', 'model');
    const admission = sim.admit();
    // Azure sends the limit and remaining pairs, no reset headers (Azure OpenAI documentation: Rate limiting (standard deployments)).
    h = openaiRateLimitHeaders(h, admission.snapshot, false);
    const throttle = (f: StatusFault) => send(ex, azureFlavour.statusFault(f, deployment, operation), h);
    if (admission.throttled) {
      return throttle({ kind: 'status', status: 429, retryAfterMs: admission.throttled.retryAfterMs });
    }
    const fault = sim.takeFault(deployment);
    if (await settleFault(ex, fault, sim, throttle)) return;
    if (deployments.size > 0 && !deployments.has(deployment)) return send(ex, DEPLOYMENT_NOT_FOUND, h);
    const ctx: ChatContext = {
      flavour: azureFlavour,
      label: options.label,
      model: deployment,
      headers: h,
      ...(fault ? { fault } : {}),
    };
    return operation === 'chat' ? chatCompletion(ex, sim, ctx) : embeddings(ex, sim, ctx);
  }

  return async (ex, sim) => {
    const { method, path } = ex;
    const token = TOKEN.exec(path);
    if (token && method === 'POST' && entra) return entra.handle(ex, decodeURIComponent(token[1]!));

    const classic = CLASSIC.exec(path);
    if (classic && method === 'POST') {
      const version = ex.query.get('api-version');
      // Without api-version Azure answers 404 "Resource not found", not a 400.
      if (version === null) return send(ex, notFound, headers(undefined));
      if (!API_VERSION.test(version)) {
        return send(ex, azureError(400, 'BadRequest', 'API version not supported'), headers(undefined));
      }
      const deployment = decodeURIComponent(classic[1]!);
      return inference(ex, sim, classic[2] === 'embeddings' ? 'embeddings' : 'chat', deployment);
    }

    if (method === 'POST' && (path === '/openai/v1/chat/completions' || path === '/openai/v1/embeddings')) {
      const body = ex.body as Record<string, unknown> | undefined;
      const model = typeof body?.model === 'string' && body.model !== '' ? body.model : undefined;
      return inference(ex, sim, path.endsWith('embeddings') ? 'embeddings' : 'chat', model);
    }

    if (method === 'GET' && path === '/openai/v1/models') {
      const h = headers(undefined);
      const denied = authenticate(ex);
      if (denied) return send(ex, denied, h);
      const data = options.deployments.map((id) => ({
        id,
        object: 'model',
        created: 1_700_000_000,
        ...azureFlavour.modelEntry(id),
      }));
      return sendJson(ex.res, 200, { object: 'list', data }, h);
    }
    send(ex, notFound, headers(undefined));
  };
}

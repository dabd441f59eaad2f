/**
 * Google's RPC error envelope for the simulated Gemini API and Vertex AI (Gemini API and Vertex AI reference: Errors):
 * `{"error": {"code", "message", "status", "details"?: [{"@type": "type.googleapis.com/google.rpc.X", ...}]}}`.
 * No `retry-after` headers: Google puts the retry hint in a RetryInfo detail.
 */

import { retryAfterOf, type StatusFault } from './faults.ts';

export interface GoogleError {
  /** Tells an error apart from a parsed request or a response body. */
  googleError: true;
  status: number;
  body: { error: Record<string, unknown> };
}

export function isGoogleError(value: unknown): value is GoogleError {
  return (
    typeof value === 'object' && value !== null && (value as { googleError?: unknown }).googleError === true
  );
}

export type GoogleFlavour = 'gemini' | 'vertex';

const CANONICAL: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

export function canonicalStatus(status: number): string {
  return CANONICAL[status] ?? (status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION');
}

export function googleError(
  status: number,
  message: string,
  details?: unknown[],
  canonical?: string,
): GoogleError {
  return {
    googleError: true,
    status,
    body: {
      error: {
        code: status,
        message,
        status: canonical ?? canonicalStatus(status),
        ...(details && details.length > 0 ? { details } : {}),
      },
    },
  };
}

const detail = (type: string, fields: Record<string, unknown>) => ({
  '@type': `type.googleapis.com/google.rpc.${type}`,
  ...fields,
});

/** `Invalid JSON payload received. Unknown name "x" at 'path': Cannot find field.` with its BadRequest detail. */
export function unknownField(name: string, at: string): GoogleError {
  const where = at === '' ? '' : ` at '${at}'`;
  return googleError(
    400,
    `Invalid JSON payload received. Unknown name "${name}"${where}: Cannot find field.`,
    [
      detail('BadRequest', {
        fieldViolations: [
          {
            field: at,
            description: `Invalid JSON payload received. Unknown name "${name}"${where}: Cannot find field.`,
          },
        ],
      }),
    ],
  );
}

export function invalidArgument(message: string): GoogleError {
  return googleError(400, message);
}

/** Seconds as a google.protobuf.Duration in JSON: `"1s"`, `"34.4s"`. */
function duration(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))}s`;
}

const MESSAGES: Record<GoogleFlavour, Record<number, string>> = {
  gemini: {
    429: 'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.',
    500: 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
    503: 'The model is overloaded. Please try again later.',
    504: 'The request timed out. Please try again.',
  },
  vertex: {
    429: 'Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.',
    500: 'Internal error encountered.',
    503: 'The service is currently unavailable.',
    504: 'Deadline expired before operation could complete.',
  },
};

/** A `status` fault rendered natively; a 429 carries QuotaFailure and RetryInfo (unless retryAfterMs is null). */
export function statusFaultError(fault: StatusFault, flavour: GoogleFlavour, model: string): GoogleError {
  const message = fault.message ?? MESSAGES[flavour][fault.status] ?? `Simulated error ${fault.status}.`;
  if (fault.status !== 429) return googleError(fault.status, message);
  const retryAfterMs = retryAfterOf(fault);
  const details: unknown[] = [
    detail('QuotaFailure', {
      violations: [
        {
          quotaMetric: 'generativelanguage.googleapis.com/generate_content_requests',
          quotaId: 'GenerateRequestsPerMinutePerProjectPerModel',
          quotaDimensions: { model, location: 'global' },
        },
      ],
    }),
  ];
  if (retryAfterMs !== undefined) details.push(detail('RetryInfo', { retryDelay: duration(retryAfterMs) }));
  return googleError(429, message, details);
}

/** ErrorInfo detail, as Google attaches to auth failures. */
export function errorInfo(reason: string, domain: string, metadata: Record<string, string> = {}) {
  return detail('ErrorInfo', { reason, domain, metadata });
}

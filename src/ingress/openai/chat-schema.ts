import { z } from 'zod';

/**
 * OpenAI's chat-completions request body, with OpenAI's documented types and ranges.
 * Unknown top-level fields are refused by name rather than dropped: a field we silently ignored
 * could change the meaning of the request.
 */

const toolName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of a-z, A-Z, 0-9, _ or -');

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const imagePart = z.object({
  type: z.literal('image_url'),
  image_url: z.object({
    url: z.string().regex(/^(https?:\/\/|data:image\/)/i, 'must be an http(s) URL or a data:image/ URL'),
    detail: z.enum(['auto', 'low', 'high']).optional(),
  }),
});
const refusalPart = z.object({ type: z.literal('refusal'), refusal: z.string() });

const textContent = z.union([z.string(), z.array(textPart)]);

const toolCall = z.object({
  id: z.string().min(1),
  type: z.literal('function'),
  function: z.object({ name: toolName, arguments: z.string() }),
});

const systemMessage = z.object({
  role: z.enum(['system', 'developer']),
  content: textContent,
  name: z.string().optional(),
});
const userMessage = z.object({
  role: z.literal('user'),
  content: z.union([
    z.string(),
    z.array(z.discriminatedUnion('type', [textPart, imagePart])).min(1, 'must not be empty'),
  ]),
  name: z.string().optional(),
});
const assistantMessage = z.object({
  role: z.literal('assistant'),
  content: z
    .union([z.string(), z.array(z.discriminatedUnion('type', [textPart, refusalPart])), z.null()])
    .optional(),
  refusal: z.string().nullable().optional(),
  tool_calls: z.array(toolCall).optional(),
  name: z.string().optional(),
});
const toolMessage = z.object({
  role: z.literal('tool'),
  tool_call_id: z.string().min(1),
  content: textContent,
});

const message = z.discriminatedUnion('role', [systemMessage, userMessage, assistantMessage, toolMessage]);

const functionTool = z.object({
  type: z.literal('function'),
  function: z.object({
    name: toolName,
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullable().optional(),
  }),
});

const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: toolName }) }),
]);

const responseFormat = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z.object({
      name: toolName,
      description: z.string().optional(),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullable().optional(),
    }),
  }),
]);

const tokenLimit = z.number().int('must be an integer').min(1, 'must be at least 1');

export const chatBodySchema = z.strictObject({
  model: z.string().min(1, 'must not be empty'),
  messages: z.array(message).min(1, 'must contain at least one message'),
  stream: z.boolean().nullable().optional(),
  stream_options: z
    .object({ include_usage: z.boolean().optional(), include_obfuscation: z.boolean().optional() })
    .nullable()
    .optional(),
  tools: z.array(functionTool).max(128, 'at most 128 tools').optional(),
  tool_choice: toolChoice.optional(),
  parallel_tool_calls: z.boolean().optional(),
  response_format: responseFormat.optional(),
  temperature: z
    .number()
    .min(0, 'must be between 0 and 2')
    .max(2, 'must be between 0 and 2')
    .nullable()
    .optional(),
  top_p: z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1').nullable().optional(),
  max_tokens: tokenLimit.nullable().optional(),
  max_completion_tokens: tokenLimit.nullable().optional(),
  stop: z
    .union([z.string(), z.array(z.string()).max(4, 'at most 4 stop sequences')])
    .nullable()
    .optional(),
  seed: z.number().int('must be an integer').nullable().optional(),
  user: z.string().optional(),
  n: z
    .number()
    .int('must be an integer')
    .min(1, 'must be between 1 and 128')
    .max(128, 'must be between 1 and 128')
    .nullable()
    .optional(),
  logprobs: z.boolean().nullable().optional(),
  top_logprobs: z
    .number()
    .int('must be an integer')
    .min(0, 'must be between 0 and 20')
    .max(20, 'must be between 0 and 20')
    .nullable()
    .optional(),
  frequency_penalty: z
    .number()
    .min(-2, 'must be between -2 and 2')
    .max(2, 'must be between -2 and 2')
    .nullable()
    .optional(),
  presence_penalty: z
    .number()
    .min(-2, 'must be between -2 and 2')
    .max(2, 'must be between -2 and 2')
    .nullable()
    .optional(),
  logit_bias: z.record(z.string(), z.number().min(-100).max(100)).nullable().optional(),
  // Forwarded verbatim to OpenAI-protocol clouds; other clouds refuse them when they change meaning.
  reasoning_effort: z.string().nullable().optional(),
  verbosity: z.string().nullable().optional(),
  service_tier: z.string().nullable().optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  store: z.boolean().nullable().optional(),
  prompt_cache_key: z.string().optional(),
  prompt_cache_retention: z.string().nullable().optional(),
  safety_identifier: z.string().optional(),
  modalities: z.array(z.string()).nullable().optional(),
  prediction: z.record(z.string(), z.unknown()).nullable().optional(),
});

export type OpenAIChatBody = z.output<typeof chatBodySchema>;

/** Body fields that travel to OpenAI-protocol clouds untouched. */
export const PASSTHROUGH_FIELDS = [
  'reasoning_effort',
  'verbosity',
  'service_tier',
  'metadata',
  'store',
  'prompt_cache_key',
  'prompt_cache_retention',
  'safety_identifier',
  'modalities',
  'prediction',
] as const satisfies readonly (keyof OpenAIChatBody)[];

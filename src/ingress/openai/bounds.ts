/**
 * Bounds on the shape of client-supplied JSON, checked before anything recurses over it. A body
 * within the byte limit can still nest 10,000 levels deep (tool parameters, a response schema,
 * tool-call arguments), and the adapters walk those recursively: JSON.stringify alone throws
 * RangeError past a few thousand levels. One request must not be able to crash an adapter.
 */
import { invalidRequest } from '../../core/errors.ts';
import { formatPath } from './issues.ts';

/** Deepest nesting accepted anywhere in a body, tool-call argument text included. */
export const MAX_JSON_DEPTH = 64;
export const MAX_MESSAGES = 10_000;
export const MAX_PARTS_PER_MESSAGE = 1_000;
/** OpenAI's own limit on tools per request. */
export const MAX_TOOLS = 128;
/** Values in one JSON Schema (tool parameters or a response schema). */
export const MAX_SCHEMA_NODES = 20_000;

type Path = Array<string | number>;

/** Refuses a chat body that nests or grows past the bounds above, naming the field. */
export function checkChatBodyBounds(body: unknown): void {
  checkDepth(body, []);
  if (!isObject(body)) return;
  const { messages, tools, response_format: format } = body;
  if (Array.isArray(messages)) {
    if (messages.length > MAX_MESSAGES) throw invalidRequest('messages', `at most ${MAX_MESSAGES} messages`);
    messages.forEach((m, i) => {
      if (!isObject(m)) return;
      if (Array.isArray(m.content) && m.content.length > MAX_PARTS_PER_MESSAGE) {
        throw invalidRequest(`messages[${i}].content`, `at most ${MAX_PARTS_PER_MESSAGE} content parts`);
      }
      if (!Array.isArray(m.tool_calls)) return;
      m.tool_calls.forEach((call, j) => {
        const args = isObject(call) && isObject(call.function) ? call.function.arguments : undefined;
        if (typeof args === 'string' && textDepth(args) > MAX_JSON_DEPTH) {
          throw invalidRequest(
            `messages[${i}].tool_calls[${j}].function.arguments`,
            `nests deeper than ${MAX_JSON_DEPTH} levels`,
          );
        }
      });
    });
  }
  if (Array.isArray(tools)) {
    if (tools.length > MAX_TOOLS) throw invalidRequest('tools', `at most ${MAX_TOOLS} tools`);
    tools.forEach((tool, i) => {
      const parameters = isObject(tool) && isObject(tool.function) ? tool.function.parameters : undefined;
      checkSchemaSize(parameters, `tools[${i}].function.parameters`);
    });
  }
  if (isObject(format) && isObject(format.json_schema)) {
    checkSchemaSize(format.json_schema.schema, 'response_format.json_schema.schema');
  }
}

interface Node {
  value: unknown;
  depth: number;
  parent: Node | undefined;
  key: string | number | undefined;
}

/**
 * Iterative, so the check itself cannot overflow the stack it protects. Nodes keep their parent
 * rather than a copy of their path: it runs on every request, and the path is only needed to
 * name the field of a refusal.
 */
function checkDepth(root: unknown, rootPath: Path): void {
  const stack: Node[] = [{ value: root, depth: rootPath.length, parent: undefined, key: undefined }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const { value, depth } = node;
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= MAX_JSON_DEPTH) {
      throw invalidRequest(
        formatPath([...rootPath, ...pathOf(node)]),
        `nests deeper than ${MAX_JSON_DEPTH} levels`,
      );
    }
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++)
        stack.push({ value: value[i], depth: depth + 1, parent: node, key: i });
    } else {
      for (const key in value) {
        stack.push({ value: (value as Record<string, unknown>)[key], depth: depth + 1, parent: node, key });
      }
    }
  }
}

function pathOf(node: Node): Path {
  const path: Path = [];
  for (let n: Node | undefined = node; n?.key !== undefined; n = n.parent) path.push(n.key);
  return path.reverse();
}

function checkSchemaSize(schema: unknown, param: string): void {
  let nodes = 0;
  const stack: unknown[] = [schema];
  while (stack.length > 0) {
    const value = stack.pop();
    nodes++;
    if (nodes > MAX_SCHEMA_NODES) throw invalidRequest(param, `has more than ${MAX_SCHEMA_NODES} values`);
    if (typeof value === 'object' && value !== null) stack.push(...Object.values(value));
  }
}

/** Bracket depth of JSON text (brackets inside strings do not count); not a validity check. */
export function textDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

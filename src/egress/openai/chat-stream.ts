import type { ChatEvent, Usage } from '../../core/chat.ts';
import type { CompletionMeta } from './chat-completion.ts';
import { encodeUsage } from './usage.ts';

/**
 * Neutral events → OpenAI `chat.completion.chunk` SSE frames, in OpenAI's order: a role chunk,
 * content and tool-call deltas, a finish chunk per choice, then (when asked) one `choices: []`
 * usage chunk, then `data: [DONE]`. Usage is held back to the end because some clouds report it
 * before their finish signal.
 */
export class ChatChunkEncoder {
  private readonly meta: CompletionMeta;
  private readonly includeUsage: boolean;
  private readonly opened = new Set<number>();
  /**
   * `choice:index` of announced tool calls → whether argument text followed, so a delta without a
   * start is never sent and a call that streamed no arguments still ends with valid JSON ("{}").
   */
  private readonly announced = new Map<string, boolean>();
  private usage: Usage | undefined;
  /** The chunk's constant head and tail, serialised once: a stream writes hundreds of chunks. */
  private readonly head: string;
  private readonly tail: string;

  constructor(meta: CompletionMeta, includeUsage: boolean) {
    this.meta = meta;
    this.includeUsage = includeUsage;
    this.head = `data: {"id":${JSON.stringify(meta.id)},"object":"chat.completion.chunk","created":${meta.created},"model":${JSON.stringify(meta.model)},"choices":`;
    this.tail = includeUsage ? ',"usage":null}\n\n' : '}\n\n';
  }

  /** Usage seen so far (for accounting), whether or not the client asked to see it. */
  get reportedUsage(): Usage | undefined {
    return this.usage;
  }

  private frame(choices: unknown[]): string {
    return this.head + JSON.stringify(choices) + this.tail;
  }

  /** The most frequent frame, a text delta, built without intermediate objects. */
  private textFrame(choice: number, text: string): string {
    return `${this.head}[{"index":${choice},"delta":{"content":${JSON.stringify(text)}},"logprobs":null,"finish_reason":null}]${this.tail}`;
  }

  private delta(choice: number, delta: Record<string, unknown>, finishReason: string | null = null): string {
    let out = '';
    if (!this.opened.has(choice)) {
      this.opened.add(choice);
      out += this.frame([
        { index: choice, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
      ]);
      if (Object.keys(delta).length === 0 && finishReason === null) return out;
    }
    return out + this.frame([{ index: choice, delta, logprobs: null, finish_reason: finishReason }]);
  }

  encode(events: readonly ChatEvent[]): string {
    let out = '';
    for (const event of events) {
      switch (event.type) {
        case 'start':
          out += this.delta(0, {});
          break;
        case 'text':
          if (event.logprobs) {
            if (!this.opened.has(event.choice)) out += this.delta(event.choice, {});
            out += this.frame([
              {
                index: event.choice,
                delta: { content: event.text },
                logprobs: { content: event.logprobs, refusal: null },
                finish_reason: null,
              },
            ]);
          } else if (this.opened.has(event.choice)) out += this.textFrame(event.choice, event.text);
          else out += this.delta(event.choice, { content: event.text });
          break;
        case 'refusal':
          out += this.delta(event.choice, { refusal: event.text });
          break;
        case 'tool_call_start':
          this.announced.set(`${event.choice}:${event.index}`, false);
          out += this.delta(event.choice, {
            tool_calls: [
              {
                index: event.index,
                id: event.id,
                type: 'function',
                function: { name: event.name, arguments: '' },
              },
            ],
          });
          break;
        case 'tool_call_delta': {
          const key = `${event.choice}:${event.index}`;
          if (!this.announced.has(key) || event.arguments === '') break;
          this.announced.set(key, true);
          out += this.delta(event.choice, {
            tool_calls: [{ index: event.index, function: { arguments: event.arguments } }],
          });
          break;
        }
        case 'usage':
          this.usage = event.usage;
          break;
        case 'finish':
          out += this.closeEmptyToolCalls(event.choice);
          out += this.delta(event.choice, {}, event.reason);
          break;
      }
    }
    return out;
  }

  private closeEmptyToolCalls(choice: number): string {
    let out = '';
    for (const [key, hasArguments] of this.announced) {
      const [c, index] = key.split(':').map(Number);
      if (c !== choice || hasArguments) continue;
      this.announced.set(key, true);
      out += this.delta(choice, { tool_calls: [{ index, function: { arguments: '{}' } }] });
    }
    return out;
  }

  /** The closing frames: the usage chunk when asked for, then [DONE]. */
  end(): string {
    let out = '';
    if (this.includeUsage && this.usage) {
      const chunk = {
        id: this.meta.id,
        object: 'chat.completion.chunk',
        created: this.meta.created,
        model: this.meta.model,
        choices: [],
        usage: encodeUsage(this.usage),
      };
      out += `data: ${JSON.stringify(chunk)}\n\n`;
    }
    return `${out}data: [DONE]\n\n`;
  }
}

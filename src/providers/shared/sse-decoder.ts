import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { ChatEvent } from '../../core/chat.ts';
import { type ChatStreamDecoder, UpstreamError } from '../types.ts';

/** What one cloud's SSE dialect does with its events; the byte handling around it is shared. */
export interface SseEventHandler {
  /**
   * One SSE event. Push the neutral events it completes into `out`; throw an UpstreamError when
   * the event says the stream failed (every later event is then ignored).
   */
  onEvent(message: EventSourceMessage, out: ChatEvent[]): void;
  /** The body ended: push trailing events, or throw an UpstreamError when the stream was incomplete. */
  onEnd(out: ChatEvent[]): void;
}

/**
 * Incremental SSE → ChatEvent decoding for every cloud that streams server-sent events (OpenAI's
 * family, Anthropic, Google). Bytes may split anywhere, multi-byte characters included; events
 * decoded before a failure in the same read go out first and the failure is thrown on the next
 * call, so the client still gets the text that preceded an in-stream error.
 */
export function createSseChatDecoder(handler: SseEventHandler): ChatStreamDecoder {
  const textDecoder = new TextDecoder();
  let out: ChatEvent[] = [];
  let failure: UpstreamError | undefined;
  /** The last two characters fed, to tell a complete last line from a cut one at the end. */
  let tail = '';
  const parser = createParser({
    onEvent(message) {
      if (failure) return;
      try {
        handler.onEvent(message, out);
      } catch (err) {
        if (!(err instanceof UpstreamError)) throw err;
        failure = err;
      }
    },
  });
  const feed = (text: string) => {
    if (text === '') return;
    // Slicing `tail + text` would flatten (copy) the whole chunk just to keep two characters.
    tail = text.length >= 2 ? text.slice(-2) : (tail + text).slice(-2);
    parser.feed(text);
  };
  const drain = (): ChatEvent[] => {
    if (out.length === 0 && failure) throw failure;
    const events = out;
    out = [];
    return events;
  };
  return {
    push(chunk) {
      feed(textDecoder.decode(chunk, { stream: true }));
      return drain();
    },
    end() {
      feed(textDecoder.decode());
      // A last event whose line is complete but lacks its blank line still counts.
      if (tail.endsWith('\n') && !tail.endsWith('\n\n')) parser.feed('\n');
      if (failure) throw failure;
      handler.onEnd(out);
      return drain();
    },
  };
}

export function protocolError(message: string): UpstreamError {
  return new UpstreamError({ kind: 'protocol', retryable: true, message });
}

/**
 * Server-sent events as OpenAI-compatible servers stream them (`data: {...}\n\n`, ending with
 * `data: [DONE]`), parsed incrementally from arbitrary network chunks.
 */
import { LoupeError } from '../types.js';

export interface SseEvent {
  event?: string;
  data: string;
}

/** Incremental SSE parser: feed text as it arrives, get whole events back. */
export class SseParser {
  private buf = '';
  private data: string[] = [];
  private event: string | undefined;

  /** Feeds a chunk; returns the events it completed. */
  push(chunk: string): SseEvent[] {
    this.buf += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const nl = this.buf.search(/\r\n|\r|\n/);
      if (nl < 0) break;
      const len = this.buf.startsWith('\r\n', nl) ? 2 : 1;
      // A lone \r at the very end may be the first half of \r\n: wait for more.
      if (len === 1 && this.buf[nl] === '\r' && nl === this.buf.length - 1) break;
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + len);
      this.line(line, out);
    }
    return out;
  }

  /** Ends the stream; returns an event left without its closing blank line. */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    if (this.buf) this.line(this.buf, out);
    this.buf = '';
    this.line('', out);
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === '') {
      if (this.data.length) out.push({ event: this.event, data: this.data.join('\n') });
      this.data = [];
      this.event = undefined;
      return;
    }
    if (line.startsWith(':')) return; // comment / keep-alive
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
  }
}

/** One parsed `chat.completion.chunk`. */
export type ChatChunk =
  | { done: true }
  | { done: false; text: string; finishReason: 'stop' | 'length' | null; usage?: { promptTokens?: number; completionTokens?: number } };

/** Parses the data of one streamed event; throws a LoupeError for an error the server streamed. */
export function parseChatChunk(data: string): ChatChunk {
  if (data.trim() === '[DONE]') return { done: true };
  let obj: {
    choices?: { delta?: { content?: string | null }; text?: string; finish_reason?: string | null }[];
    usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
    error?: { message?: string } | string;
  };
  try {
    obj = JSON.parse(data);
  } catch {
    throw new LoupeError(`The answer server sent a malformed stream event: ${data.slice(0, 200)}`, 'bad-stream');
  }
  if (obj.error) {
    const msg = typeof obj.error === 'string' ? obj.error : (obj.error.message ?? JSON.stringify(obj.error));
    throw new LoupeError(`The answer server reported an error: ${msg}`, 'server-error');
  }
  const choice = obj.choices?.[0];
  const text = choice?.delta?.content ?? choice?.text ?? '';
  const fr = choice?.finish_reason;
  const finishReason = fr === 'length' ? 'length' : fr ? 'stop' : null;
  const usage = obj.usage ? { promptTokens: obj.usage.prompt_tokens, completionTokens: obj.usage.completion_tokens } : undefined;
  return { done: false, text, finishReason, usage };
}

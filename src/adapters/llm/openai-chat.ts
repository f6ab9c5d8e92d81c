/**
 * Chat with any OpenAI-compatible server (mlx_lm.server, Ollama, LM Studio, llama-server) over
 * plain node:http: streamed `/v1/chat/completions`, cancel by AbortSignal (the socket is closed,
 * which stops generation on servers that watch for it), and timeouts for connecting, for the
 * first byte and between bytes, so a dead or wedged server is an error, never a hang. POST
 * bodies always carry Content-Length (mlx_lm.server rejects requests without it).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { SseParser, parseChatChunk } from '../../core/answer/sse.js';
import { StopMatcher } from '../../core/answer/stop.js';
import type {
  AnswerModelInfo,
  AnswerModelKind,
  ChatMessage,
  ChatModelPort,
  GenerateOptions,
  GenerateResult,
} from '../../core/answer/types.js';
import { LoupeError } from '../../core/types.js';

export interface OpenAiChatOptions {
  /** Server address, e.g. `http://127.0.0.1:8080` (a trailing `/v1` is accepted). */
  baseUrl: string;
  /** `model` field of requests; left out when unset (mlx_lm.server then uses the model it loaded). */
  model?: string;
  kind?: AnswerModelKind;
  /** Context window assumed for the prompt budget (default 8192). */
  contextSize?: number;
  /** Describes where it runs, for the user. */
  where?: string;
  apiKey?: string;
  /** Connection must be made within this (default 5 s). */
  connectTimeoutMs?: number;
  /** Response headers must arrive within this (default 120 s: a long prompt takes a while). */
  headersTimeoutMs?: number;
  /** Longest silence between bytes of a streamed answer (default 120 s; keep-alive comments count). */
  idleTimeoutMs?: number;
  /** Extra fields merged into every request body (e.g. `logit_bias`, Ollama `options`). */
  extraBody?: Record<string, unknown>;
}

/** Characters per token assumed when the server's tokenizer is not at hand (conservative for code). */
export const CHARS_PER_TOKEN_ESTIMATE = 3;

/** `http://host:port` without a trailing slash or `/v1`. */
export function normalizeBaseUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new LoupeError(`Not a valid server URL: ${url} (expected something like http://127.0.0.1:8080).`, 'bad-url');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new LoupeError(`Unsupported URL scheme in ${url}: use http:// or https://.`, 'bad-url');
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '').replace(/\/v1$/, '')}`;
}

function abortError(): Error {
  return Object.assign(new Error('The answer was cancelled.'), { name: 'AbortError' });
}

function networkError(e: NodeJS.ErrnoException, baseUrl: string): LoupeError {
  if (e.code === 'ECONNREFUSED')
    return new LoupeError(
      `No answer server is running at ${baseUrl} (connection refused). Start it, or choose another answer model.`,
      'server-not-running',
    );
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN')
    return new LoupeError(`The answer server host in ${baseUrl} cannot be resolved.`, 'server-not-running');
  return new LoupeError(`The connection to the answer server at ${baseUrl} failed: ${e.message}`, 'server-died');
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  res: http.IncomingMessage;
  req: http.ClientRequest;
}

/**
 * Sends one request and resolves when response headers arrive. Timeouts: `connectMs` to get a
 * socket connected, `headersMs` for the headers after that.
 */
function send(
  method: 'GET' | 'POST',
  url: string,
  body: unknown,
  opts: { connectMs: number; headersMs: number; signal?: AbortSignal; apiKey?: string; accept?: string },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(abortError());
    const u = new URL(url);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const headers: http.OutgoingHttpHeaders = { Accept: opts.accept ?? 'application/json' };
    if (payload) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = payload.length;
    }
    if (opts.apiKey) headers.Authorization = `Bearer ${opts.apiKey}`;
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(u, { method, headers, agent: false });
    let settled = false;
    const fail = (e: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      req.destroy();
      reject(e);
    };
    const onAbort = (): void => fail(abortError());
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    let timer = setTimeout(
      () =>
        fail(new LoupeError(`The answer server at ${u.host} did not accept a connection within ${opts.connectMs} ms.`, 'server-timeout')),
      opts.connectMs,
    );
    req.on('socket', (sock) => {
      const armHeaders = (): void => {
        clearTimeout(timer);
        timer = setTimeout(
          () =>
            fail(
              new LoupeError(
                `The answer server at ${u.host} did not respond within ${Math.round(opts.headersMs / 1000)} s.`,
                'server-timeout',
              ),
            ),
          opts.headersMs,
        );
      };
      if ((sock as { connecting?: boolean }).connecting) sock.once('connect', armHeaders);
      else armHeaders();
    });
    req.on('error', (e) => fail(networkError(e as NodeJS.ErrnoException, `${u.protocol}//${u.host}`)));
    req.on('response', (res) => {
      if (settled) {
        res.destroy();
        return;
      }
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve({ status: res.statusCode ?? 0, headers: res.headers, res, req });
    });
    req.end(payload);
  });
}

/** Reads a whole (small) body as text, at most `limit` bytes. */
function readBody(res: http.IncomingMessage, limit = 1 << 20): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    res.on('data', (d: Buffer) => {
      size += d.length;
      if (size <= limit) parts.push(d);
    });
    res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    res.on('error', reject);
    res.on('aborted', () => reject(new LoupeError('The answer server closed the connection while sending its reply.', 'server-died')));
  });
}

function errorText(body: string): string {
  try {
    const j = JSON.parse(body) as { error?: { message?: string } | string; detail?: string; message?: string };
    const e = j.error;
    return (typeof e === 'string' ? e : e?.message) ?? j.detail ?? j.message ?? body;
  } catch {
    return body;
  }
}

/** What a GET on a server said. */
export interface ProbeResult {
  running: boolean;
  /** `/health` answered 200 (mlx_lm.server, llama-server). */
  healthy?: boolean;
  /** HTTP status of `/health`, when it answered (mlx_lm.server: 503 once its generation thread died). */
  healthStatus?: number;
  /** Model ids from `/v1/models`, when it answered. */
  models?: string[];
  error?: string;
}

/** Asks a server whether it runs: `/health`, then `/v1/models`. Never throws. */
export async function probeServer(baseUrl: string, timeoutMs = 1500): Promise<ProbeResult> {
  const base = normalizeBaseUrl(baseUrl);
  const get = async (p: string): Promise<{ status: number; body: string } | { error: LoupeError }> => {
    try {
      const r = await send('GET', base + p, undefined, { connectMs: timeoutMs, headersMs: timeoutMs });
      const timer = setTimeout(() => r.res.destroy(), timeoutMs);
      try {
        return { status: r.status, body: await readBody(r.res, 1 << 18) };
      } finally {
        clearTimeout(timer);
      }
    } catch (e) {
      return { error: e instanceof LoupeError ? e : new LoupeError((e as Error).message, 'server-error') };
    }
  };
  const health = await get('/health');
  if ('error' in health && health.error.code === 'server-not-running') return { running: false, error: health.error.message };
  const healthy = 'status' in health && health.status === 200;
  const models = await get('/v1/models');
  let ids: string[] | undefined;
  if ('status' in models && models.status === 200) {
    try {
      ids = ((JSON.parse(models.body) as { data?: { id?: string }[] }).data ?? []).map((m) => String(m.id));
    } catch {
      ids = undefined;
    }
  }
  const running = healthy || ids !== undefined;
  return {
    running,
    healthy,
    healthStatus: 'status' in health ? health.status : undefined,
    models: ids,
    error: running ? undefined : 'error' in health ? health.error.message : `GET /health answered ${health.status}`,
  };
}

/** A chat model behind an OpenAI-compatible HTTP server. */
export class OpenAiChat implements ChatModelPort {
  readonly info: AnswerModelInfo;
  readonly exactTokenCount = false;
  readonly baseUrl: string;

  constructor(private readonly opts: OpenAiChatOptions) {
    this.baseUrl = normalizeBaseUrl(opts.baseUrl);
    this.info = {
      kind: opts.kind ?? 'openai',
      name: opts.model ?? 'server default model',
      where: opts.where ?? `OpenAI-compatible server at ${this.baseUrl}`,
      contextSize: opts.contextSize ?? 8192,
    };
  }

  countTokens(text: string): number {
    return Math.ceil(text.length / CHARS_PER_TOKEN_ESTIMATE);
  }

  async generate(messages: ChatMessage[], o: GenerateOptions): Promise<GenerateResult> {
    const t0 = performance.now();
    const body: Record<string, unknown> = {
      messages,
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: o.maxTokens,
      temperature: o.temperature ?? 0,
      ...(this.opts.model ? { model: this.opts.model } : {}),
      // Stop strings are matched here, not sent: mlx_lm.server 0.32 hides a matched stop string
      // from the stream but keeps generating (it matches token ids; the text matcher only hides).
      ...this.opts.extraBody,
    };
    const { status, headers, res, req } = await send('POST', `${this.baseUrl}/v1/chat/completions`, body, {
      connectMs: this.opts.connectTimeoutMs ?? 5000,
      headersMs: this.opts.headersTimeoutMs ?? 120_000,
      signal: o.signal,
      apiKey: this.opts.apiKey,
      accept: 'text/event-stream',
    });
    if (status !== 200) {
      const text = errorText(await readBody(res).catch(() => ''));
      const code =
        status === 404 && /model/i.test(text)
          ? 'model-missing'
          : /context|too long|exceed/i.test(text)
            ? 'context-overflow'
            : 'server-error';
      throw new LoupeError(`The answer server at ${this.baseUrl} refused the request (HTTP ${status}): ${text.slice(0, 500)}`, code);
    }
    const streamed = String(headers['content-type'] ?? '').includes('text/event-stream');
    if (!streamed) {
      // A server that ignored `stream: true` answers with one JSON object.
      const text = await readBody(res);
      let j: {
        choices?: { message?: { content?: string }; finish_reason?: string }[];
        usage?: { prompt_tokens?: number; completion_tokens?: number };
      };
      try {
        j = JSON.parse(text);
      } catch {
        throw new LoupeError(`The answer server sent something that is not a chat completion: ${text.slice(0, 200)}`, 'bad-stream');
      }
      const content = j.choices?.[0]?.message?.content ?? '';
      if (content) o.onToken?.(content);
      return {
        text: content,
        finishReason: j.choices?.[0]?.finish_reason === 'length' ? 'length' : 'stop',
        completionTokens: j.usage?.completion_tokens,
        promptTokens: j.usage?.prompt_tokens,
        firstTokenMs: performance.now() - t0,
      };
    }
    return this.readStream(res, req, o, t0);
  }

  private readStream(res: http.IncomingMessage, req: http.ClientRequest, o: GenerateOptions, t0: number): Promise<GenerateResult> {
    const idleMs = this.opts.idleTimeoutMs ?? 120_000;
    return new Promise((resolve, reject) => {
      const parser = new SseParser();
      const stop = new StopMatcher(o.stop);
      let text = '';
      let finishReason: 'stop' | 'length' | null = null;
      let usage: { promptTokens?: number; completionTokens?: number } | undefined;
      let chunks = 0;
      let firstTokenMs: number | undefined;
      let settled = false;
      let idle: NodeJS.Timeout | undefined;
      const emit = (piece: string): void => {
        if (!piece) return;
        firstTokenMs ??= performance.now() - t0;
        text += piece;
        o.onToken?.(piece);
      };
      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(idle);
        o.signal?.removeEventListener('abort', onAbort);
        if (err) {
          req.destroy();
          res.destroy();
          reject(err);
        } else {
          if (stop.stopped) {
            // Closing the connection is how OpenAI-compatible servers are told to stop generating.
            finishReason = 'stop';
            req.destroy();
            res.destroy();
          } else {
            emit(stop.flush());
            res.resume();
          }
          resolve({
            text,
            finishReason: finishReason ?? 'stop',
            completionTokens: usage?.completionTokens ?? chunks,
            promptTokens: usage?.promptTokens,
            firstTokenMs,
          });
        }
      };
      const armIdle = (): void => {
        clearTimeout(idle);
        idle = setTimeout(
          () =>
            finish(
              new LoupeError(
                `The answer server at ${this.baseUrl} stopped sending for ${Math.round(idleMs / 1000)} s in the middle of an answer.`,
                'server-timeout',
              ),
            ),
          idleMs,
        );
      };
      const onAbort = (): void => finish(abortError());
      if (o.signal?.aborted) return finish(abortError());
      o.signal?.addEventListener('abort', onAbort, { once: true });
      armIdle();
      const handle = (events: { data: string }[]): void => {
        for (const ev of events) {
          if (settled) return;
          let c;
          try {
            c = parseChatChunk(ev.data);
          } catch (e) {
            return finish(e as Error);
          }
          if (c.done) return finish();
          if (c.usage) usage = c.usage;
          if (c.finishReason) finishReason = c.finishReason;
          if (c.text) {
            chunks++;
            const r = stop.push(c.text);
            emit(r.emit);
            if (r.stopped) return finish();
          }
        }
      };
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        armIdle();
        handle(parser.push(d));
      });
      res.on('end', () => {
        handle(parser.end());
        if (settled) return;
        // No [DONE]: a finish_reason means the server finished; otherwise it died mid-answer.
        if (finishReason) finish();
        else
          finish(
            new LoupeError(
              `The answer server at ${this.baseUrl} ended the stream in the middle of an answer (after ${text.length} characters); it may have crashed or been stopped.`,
              'server-died',
            ),
          );
      });
      const died = (): void =>
        finish(
          new LoupeError(
            `The connection to the answer server at ${this.baseUrl} broke in the middle of an answer (after ${text.length} characters); the server may have crashed or been stopped.`,
            'server-died',
          ),
        );
      res.on('aborted', died);
      res.on('error', died);
      res.on('close', () => {
        if (!settled && !res.complete) died();
      });
    });
  }

  async dispose(): Promise<void> {
    // Nothing held between requests (no keep-alive agent).
  }
}

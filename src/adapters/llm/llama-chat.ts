/**
 * A GGUF chat model in process through node-llama-cpp. One context with `sequences` parallel
 * sequences; each request takes a free sequence (or waits for one), replays the chat history and
 * streams the answer. Threads are always set explicitly (node-llama-cpp's default oversubscribes
 * small machines by 100× or more).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type { AnswerModelInfo, ChatMessage, ChatModelPort, GenerateOptions, GenerateResult } from '../../core/answer/types.js';
import { LoupeError, silentLogger, type Logger } from '../../core/types.js';
import { checkGgufFile } from '../llama-embedder.js';

/** GGUF architectures that only embed (llama.cpp's encoder families): never an answer model. */
const EMBEDDING_ARCHITECTURES = new Set([
  'bert',
  'nomic-bert',
  'nomic-bert-moe',
  'jina-bert-v2',
  'gemma-embedding',
  'modern-bert',
  't5encoder',
]);

type NodeLlama = typeof import('node-llama-cpp');
type Llama = import('node-llama-cpp').Llama;
type LlamaModel = import('node-llama-cpp').LlamaModel;
type LlamaContext = import('node-llama-cpp').LlamaContext;
type LlamaContextSequence = import('node-llama-cpp').LlamaContextSequence;
type ChatHistoryItem = import('node-llama-cpp').ChatHistoryItem;
type ChatWrapper = import('node-llama-cpp').ChatWrapper;

export interface LlamaChatOptions {
  modelPath: string;
  /** `auto` lets node-llama-cpp pick Metal/CUDA/Vulkan; false forces CPU. */
  gpu?: 'auto' | false;
  /** Threads for generation (default: half the cores, 1–8). */
  threads?: number;
  /** Context window (default: the model's training context, at most 8192). */
  contextSize?: number;
  /** Parallel requests (sequences of the context; default 1). */
  sequences?: number;
  logger?: Logger;
}

let runtimePromise: Promise<{ mod: NodeLlama; llama: Llama; gpu: 'auto' | false }> | undefined;

async function runtime(gpu: 'auto' | false): Promise<{ mod: NodeLlama; llama: Llama }> {
  if (!runtimePromise || (await runtimePromise).gpu !== gpu) {
    runtimePromise = (async () => {
      const mod = (await import('node-llama-cpp')) as NodeLlama;
      const llama = await mod.getLlama({ gpu, build: 'never', logLevel: mod.LlamaLogLevel.error });
      return { mod, llama, gpu };
    })();
  }
  return runtimePromise;
}

/** Default generation threads: half the cores, between 1 and 8. */
export function defaultChatThreads(): number {
  return Math.max(1, Math.min(8, Math.floor(os.availableParallelism() / 2)));
}

export class LlamaChat implements ChatModelPort {
  readonly exactTokenCount = true;
  private readonly free: LlamaContextSequence[];
  private readonly waiting: ((s: LlamaContextSequence) => void)[] = [];

  private constructor(
    readonly info: AnswerModelInfo,
    private readonly mod: NodeLlama,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    sequences: LlamaContextSequence[],
    /** Resolved once: node-llama-cpp resolves it per session otherwise (about 1 s each, checking the Jinja template). */
    private readonly chatWrapper: ChatWrapper | null,
  ) {
    this.free = sequences;
  }

  static async load(o: LlamaChatOptions): Promise<LlamaChat> {
    const logger = o.logger ?? silentLogger;
    const modelPath = path.resolve(o.modelPath);
    await checkGgufFile(modelPath, 'chat');
    const { mod, llama } = await runtime(o.gpu ?? 'auto');
    let model: LlamaModel;
    try {
      model = await llama.loadModel({ modelPath });
    } catch (e) {
      throw new LoupeError(`The chat model ${modelPath} could not be loaded: ${(e as Error).message}`, 'model-load-failed');
    }
    // An embedding model loads like any other GGUF but cannot write an answer: say which kind is needed.
    const arch = (model.fileInfo.metadata as unknown as { general?: { architecture?: string } }).general?.architecture ?? '';
    if (EMBEDDING_ARCHITECTURES.has(arch)) {
      await model.dispose();
      throw new LoupeError(
        `${path.basename(modelPath)} is an embedding model (${arch}); answers need a chat (instruct) model, e.g. Qwen2.5-Coder-1.5B-Instruct (see \`loupe models list\`).`,
        'model-not-chat',
      );
    }
    const n = Math.max(1, o.sequences ?? 1);
    const threads = Math.max(1, o.threads ?? defaultChatThreads());
    const contextSize = Math.min(o.contextSize ?? Math.min(8192, model.trainContextSize), model.trainContextSize);
    let context: LlamaContext;
    try {
      // contextSize is per sequence: node-llama-cpp allocates contextSize × sequences cells.
      context = await model.createContext({ contextSize, sequences: n, threads, batchSize: Math.min(512, contextSize) });
    } catch (e) {
      await model.dispose();
      throw new LoupeError(
        `No room for a ${contextSize}-token context for ${path.basename(modelPath)}: ${(e as Error).message}`,
        'model-load-failed',
      );
    }
    const seqs: LlamaContextSequence[] = [];
    for (let i = 0; i < n; i++) seqs.push(context.getSequence());
    const meta = model.fileInfo.metadata as unknown as { general?: { name?: string } };
    const name = meta.general?.name ?? path.basename(modelPath, '.gguf');
    const gpu = llama.gpu && model.gpuLayers > 0 ? `GPU: ${llama.gpu}` : 'CPU';
    logger.info(`Answer model ${name}: context ${contextSize} tokens × ${n} sequence(s), ${threads} thread(s), ${gpu}`);
    const info: AnswerModelInfo = {
      kind: 'llama',
      name,
      where: `in process (node-llama-cpp, ${gpu}, ${threads} thread${threads === 1 ? '' : 's'})`,
      contextSize,
    };
    return new LlamaChat(info, mod, model, context, seqs, mod.resolveChatWrapper(model));
  }

  countTokens(text: string): number {
    return this.model.tokenize(text).length;
  }

  private acquire(signal?: AbortSignal): Promise<LlamaContextSequence> {
    const s = this.free.pop();
    if (s) return Promise.resolve(s);
    return new Promise((resolve, reject) => {
      const take = (seq: LlamaContextSequence): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(seq);
      };
      const onAbort = (): void => {
        const i = this.waiting.indexOf(take);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(Object.assign(new Error('The answer was cancelled.'), { name: 'AbortError' }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(take);
    });
  }

  private release(s: LlamaContextSequence): void {
    const next = this.waiting.shift();
    if (next) next(s);
    else this.free.push(s);
  }

  async generate(messages: ChatMessage[], o: GenerateOptions): Promise<GenerateResult> {
    o.signal?.throwIfAborted();
    const last = messages[messages.length - 1];
    if (!last || last.role !== 'user') throw new LoupeError("The last chat message must be the user's.", 'bad-request');
    const history: ChatHistoryItem[] = messages
      .slice(0, -1)
      .map((m) =>
        m.role === 'system'
          ? { type: 'system', text: m.content }
          : m.role === 'user'
            ? { type: 'user', text: m.content }
            : { type: 'model', response: [m.content] },
      );
    const seq = await this.acquire(o.signal);
    const t0 = performance.now();
    let firstTokenMs: number | undefined;
    let tokens = 0;
    const session = new this.mod.LlamaChatSession({
      contextSequence: seq,
      autoDisposeSequence: false,
      chatWrapper: this.chatWrapper ?? 'auto',
    });
    try {
      session.setChatHistory(history);
      // Replaying the history needs room: check the prompt fits before generating.
      const promptTokens = this.countTokens(messages.map((m) => m.content).join('\n')) + 8 * messages.length;
      if (promptTokens + o.maxTokens > this.info.contextSize) {
        throw new LoupeError(
          `The prompt (about ${promptTokens} tokens) and the answer (${o.maxTokens}) do not fit the model's ${this.info.contextSize}-token context.`,
          'context-overflow',
        );
      }
      const r = await session.promptWithMeta(last.content, {
        maxTokens: o.maxTokens,
        temperature: o.temperature ?? 0,
        signal: o.signal,
        customStopTriggers: o.stop?.length ? o.stop : undefined,
        onToken: (t) => {
          tokens += t.length;
        },
        onTextChunk: (text) => {
          if (!text) return;
          firstTokenMs ??= performance.now() - t0;
          o.onToken?.(text);
        },
      });
      if (r.stopReason === 'abort') throw Object.assign(new Error('The answer was cancelled.'), { name: 'AbortError' });
      return {
        text: r.responseText,
        finishReason: r.stopReason === 'maxTokens' ? 'length' : 'stop',
        completionTokens: tokens,
        promptTokens,
        firstTokenMs,
      };
    } catch (e) {
      if ((e as Error).name === 'AbortError' || o.signal?.aborted)
        throw Object.assign(new Error('The answer was cancelled.'), { name: 'AbortError' });
      if (e instanceof LoupeError) throw e;
      const msg = (e as Error).message;
      throw new LoupeError(`The chat model failed: ${msg}`, /context/i.test(msg) ? 'context-overflow' : 'model-error');
    } finally {
      session.dispose({ disposeSequence: false });
      await seq.clearHistory();
      this.release(seq);
    }
  }

  async dispose(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
  }
}

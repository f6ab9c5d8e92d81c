import type { EmbedderPort, ModelProfile } from './types.js';

/**
 * An EmbedderPort that forwards every member to another one; subclasses override the calls they
 * observe (recording texts, timing). The wrapped embedder belongs to whoever made it:
 * `dispose()` leaves it alone.
 */
export class ForwardingEmbedder implements EmbedderPort {
  constructor(protected readonly inner: EmbedderPort) {}

  get modelId(): string {
    return this.inner.modelId;
  }

  get modelName(): string {
    return this.inner.modelName;
  }

  get dimensions(): number {
    return this.inner.dimensions;
  }

  get profile(): ModelProfile {
    return this.inner.profile;
  }

  get computeUnit(): string {
    return this.inner.computeUnit;
  }

  countTokens(text: string): number {
    return this.inner.countTokens(text);
  }

  embedDocuments(texts: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    return this.inner.embedDocuments(texts, signal);
  }

  embedQuery(text: string, signal?: AbortSignal): Promise<Float32Array> {
    return this.inner.embedQuery(text, signal);
  }

  async dispose(): Promise<void> {
    // The wrapped embedder outlives this wrapper; its owner disposes it.
  }
}

/**
 * What `loupe ask` shows when no answer model is set up: the passages an answer would have been
 * built from, and how to get answers (a local OpenAI-compatible server, or a small chat model).
 */
import { CHAT_CATALOG, chatDownloadUrl } from '../models/chat-catalog.js';
import type { Source } from './types.js';

/** Lines of a passage shown under its heading before it is cut. */
export const PASSAGE_PREVIEW_LINES = 8;

/** The retrieved passages as numbered blocks: heading (path:lines, symbol, score), then indented code. */
export function formatPassages(sources: Source[], previewLines = PASSAGE_PREVIEW_LINES): string[] {
  const out: string[] = [];
  sources.forEach((s, i) => {
    out.push(`[${i + 1}] ${s.path}:${s.startLine}-${s.endLine}${s.symbol ? `  ${s.symbol}` : ''}  (score ${s.score.toFixed(3)})`);
    const lines = s.text.split('\n');
    for (const l of lines.slice(0, previewLines)) out.push(`      ${l}`);
    if (lines.length > previewLines)
      out.push(`      … ${lines.length - previewLines} more line${lines.length - previewLines === 1 ? '' : 's'}`);
    out.push('');
  });
  return out;
}

/** Short instructions for getting answers; `dir` and `question` fill in the example commands. */
export function howToGetAnswers(dir = '<dir>', question = '<question>'): string[] {
  const small = CHAT_CATALOG[0]!;
  const q = JSON.stringify(question);
  return [
    'How to get answers:',
    '  • A local server with an OpenAI-compatible API (Ollama, LM Studio, llama-server, mlx_lm.server):',
    `      loupe ask ${dir} ${q} --llm openai --llm-url http://127.0.0.1:11434 --llm-model qwen2.5-coder:1.5b   (Ollama)`,
    '      LM Studio listens on http://127.0.0.1:1234, llama-server on http://127.0.0.1:8080.',
    '      In VS Code: settings loupe.answer.provider = "openai" and loupe.answer.url.',
    `  • Or a small chat model in process: download ${small.file} (${chatDownloadUrl(small)}, ~${(small.approxMB / 1000).toFixed(1)} GB, ${small.licence}), then`,
    `      loupe models install ${small.id} --from <file.gguf>`,
    '    Loupe then answers with it by default; `loupe models list` shows the other answer models.',
  ];
}

/**
 * The command table. Every command that needs the engine goes through `guarded`, which
 * explains why it cannot run (Restricted Mode, no folder, engine not started) instead of
 * failing silently.
 */
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Loupe } from './loupe.js';
import { showError } from './logger.js';

/** Embedding models offered for download (Hugging Face GGUF files; needs network). */
export const DOWNLOADABLE_MODELS = [
  { label: 'bge-small-en-v1.5 (Q8_0, 36 MB)', url: 'https://huggingface.co/CompendiumLabs/bge-small-en-v1.5-gguf/resolve/main/bge-small-en-v1.5-q8_0.gguf', file: 'bge-small-en-v1.5-q8_0.gguf' },
  { label: 'nomic-embed-text-v1.5 (Q8_0, 146 MB)', url: 'https://huggingface.co/nomic-ai/nomic-embed-text-v1.5-GGUF/resolve/main/nomic-embed-text-v1.5.Q8_0.gguf', file: 'nomic-embed-text-v1.5.Q8_0.gguf' },
];

type Handler = (...args: unknown[]) => unknown;

/** Registers every command; returns their disposables. */
export function registerCommands(loupe: Loupe): vscode.Disposable[] {
  const explain = async (why: string) => {
    const actions = loupe.blocked() === 'untrusted' ? ['Manage Workspace Trust'] : [];
    const pick = await vscode.window.showInformationMessage(why, ...actions);
    if (pick === 'Manage Workspace Trust') await vscode.commands.executeCommand('workbench.trust.manage');
  };
  /** Runs `fn` only when the engine can run; otherwise says why. */
  const guarded = (fn: Handler): Handler => async (...args) => {
    const why = loupe.blockedReason() ?? (loupe.sessions.size ? undefined : 'The Loupe engine is still starting; try again in a moment.');
    if (why) return explain(why);
    try {
      return await fn(...args);
    } catch (e) {
      void showError(loupe.log, `Loupe: ${(e as Error).message}`);
    }
  };

  const table: Record<string, Handler> = {
    'loupe.search': guarded((query?: unknown) => loupe.search(typeof query === 'string' ? query : undefined)),
    'loupe.ask': async (question?: unknown) => loupe.qa.reveal(typeof question === 'string' ? question : undefined),
    'loupe.reindex': guarded(() => loupe.reindex()),
    'loupe.pause': guarded(() => loupe.setPaused(true)),
    'loupe.resume': guarded(() => loupe.setPaused(false)),
    'loupe.togglePause': guarded(() => loupe.setPaused(!loupe.paused)),
    'loupe.cancelIndex': guarded(async () => {
      for (const s of loupe.sessions.values()) await s.cancelIndex();
    }),
    'loupe.showStatus': async () => {
      await vscode.window.showInformationMessage('Loupe index status', { modal: true, detail: loupe.statusReport() });
    },
    'loupe.showLogs': () => loupe.log.show(),
    'loupe.chooseModel': () => chooseModel(loupe),
  };
  return Object.entries(table).map(([id, fn]) => vscode.commands.registerCommand(id, fn));
}

/** Picks the embedding model: bundled, a GGUF file on disk, or a download. */
async function chooseModel(loupe: Loupe): Promise<void> {
  type Item = vscode.QuickPickItem & { run: () => Promise<string | undefined> };
  const current = loupe.settings.embeddingModel;
  const items: Item[] = [
    { label: '$(package) Bundled: all-MiniLM-L6-v2 (Q8_0)', description: current ? '' : 'current', detail: 'Ships with Loupe; 384 dimensions, English, fast on CPU.', run: async () => '' },
    { label: '$(folder-opened) GGUF file on disk…', description: current || '', run: async () => (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'GGUF models': ['gguf'] }, openLabel: 'Use as embedding model' }))?.[0]?.fsPath },
    ...DOWNLOADABLE_MODELS.map((m) => ({ label: `$(cloud-download) Download ${m.label}`, detail: m.url, run: () => download(loupe, m.url, m.file) })),
  ];
  const pick = await vscode.window.showQuickPick(items, { title: 'Loupe: embedding model', placeHolder: 'Changing the model re-indexes every folder' });
  if (!pick) return;
  const model = await pick.run();
  if (model === undefined || model === current) return;
  await vscode.workspace.getConfiguration('loupe').update('embedding.model', model, vscode.ConfigurationTarget.Global);
}

/** Downloads a model into global storage with a cancellable progress notification. */
async function download(loupe: Loupe, url: string, file: string): Promise<string | undefined> {
  const dir = path.join(loupe.context.globalStorageUri.fsPath, 'models');
  mkdirSync(dir, { recursive: true });
  const dest = path.join(dir, file);
  const { createWriteStream, renameSync, rmSync, existsSync } = await import('node:fs');
  if (existsSync(dest)) return dest;
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Loupe: downloading ${file}`, cancellable: true }, async (progress, token) => {
    const ac = new AbortController();
    token.onCancellationRequested(() => ac.abort());
    const tmp = `${dest}.part`;
    try {
      const res = await fetch(url, { signal: ac.signal });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status} for ${url}`);
      const total = Number(res.headers.get('content-length')) || 0;
      const out = createWriteStream(tmp);
      let got = 0;
      let lastPct = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
        got += chunk.length;
        const pct = total ? (100 * got) / total : 0;
        progress.report({ message: `${(got / 1048576).toFixed(1)}${total ? ` of ${(total / 1048576).toFixed(1)}` : ''} MiB`, increment: pct - lastPct });
        lastPct = pct;
      }
      await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
      renameSync(tmp, dest);
      loupe.log.info(`downloaded ${url} to ${dest}`);
      return dest;
    } catch (e) {
      rmSync(tmp, { force: true });
      if (!ac.signal.aborted) void showError(loupe.log, `Loupe: download failed: ${(e as Error).message}`);
      return undefined;
    }
  });
}

/**
 * The command table. Every command that needs the engine goes through `guarded`, which
 * explains why it cannot run (Restricted Mode, no folder, engine not started) instead of
 * failing silently.
 */
import * as vscode from 'vscode';
import { CATALOG, ModelManager } from '../core/models/manager.js';
import { abortSignalFrom } from './async-utils.js';
import { runBenchmark } from './bench.js';
import { exportToProjector } from './export.js';
import type { Loupe } from './loupe.js';
import { showError } from './logger.js';
import type { Passage } from './passages.js';
import { openPassage } from './search-pick.js';

type Handler = (...args: unknown[]) => unknown;

/** Registers every command; returns their disposables. */
export function registerCommands(loupe: Loupe): vscode.Disposable[] {
  const explain = async (why: string) => {
    const actions = loupe.blocked() === 'untrusted' ? ['Manage Workspace Trust'] : [];
    const pick = await vscode.window.showInformationMessage(why, ...actions);
    if (pick === 'Manage Workspace Trust') await vscode.commands.executeCommand('workbench.trust.manage');
  };
  /** Runs `fn` only when the engine can run; otherwise says why. */
  const guarded =
    (fn: Handler): Handler =>
    async (...args) => {
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
    'loupe.findSimilar': guarded(() => loupe.findSimilar()),
    'loupe.chooseAnswerModel': () => loupe.chooseAnswerModel(),
    'loupe.clearResults': () => loupe.results.clear(),
    'loupe.getStarted': () =>
      vscode.commands.executeCommand('workbench.action.openWalkthrough', `${loupe.context.extension.id}#loupe.start`, false),
    // The Results view's rows (not in the palette: it takes the row's passage).
    'loupe.openResult': (p?: unknown) => (p && typeof p === 'object' ? openPassage(p as Passage, false) : undefined),
    'loupe.chooseModel': () => chooseModel(loupe),
    // The benchmark needs no engine session (it runs in its own process); export asks the folder's engine.
    'loupe.runBenchmark': reported(loupe, (mode?: unknown) => runBenchmark(loupe, mode)),
    'loupe.exportProjector': guarded(() => exportToProjector(loupe)),
  };
  return Object.entries(table).map(([id, fn]) => vscode.commands.registerCommand(id, fn));
}

/** Shows an error a command throws (with Show Logs) instead of VS Code's bare one. */
function reported(loupe: Loupe, fn: Handler): Handler {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (e) {
      void showError(loupe.log, `Loupe: ${(e as Error).message}`);
    }
  };
}

/** Picks the embedding model: bundled, installed, a download from the catalogue, or a GGUF file. */
async function chooseModel(loupe: Loupe): Promise<void> {
  type Item = vscode.QuickPickItem & { run?: () => Promise<string | undefined> };
  const current = loupe.settings.embeddingModel;
  // The same model folder and catalogue as `loupe models` on the command line.
  const mm = new ModelManager();
  const installed = mm.installed();
  const here = (p: string) => (p === current ? 'current' : '');
  const items: Item[] = [
    {
      label: '$(package) Bundled: all-MiniLM-L6-v2 (Q8_0)',
      description: current ? '' : 'current',
      detail: 'Ships with Loupe; 384 dimensions, English, fast on CPU.',
      run: async () => '',
    },
    ...(installed.length ? [{ label: 'Installed', kind: vscode.QuickPickItemKind.Separator } as Item] : []),
    ...installed.map((m) => ({ label: `$(check) ${m.name}`, description: here(m.path), detail: m.path, run: async () => m.path })),
    { label: 'Download', kind: vscode.QuickPickItemKind.Separator },
    ...CATALOG.filter((c) => !installed.some((m) => m.id === c.id)).map((c) => ({
      label: `$(cloud-download) ${c.name}`,
      description: `~${c.approxMB} MB · ${c.dimensions} dims · ${c.licence}`,
      detail: c.notes,
      run: () => download(loupe, mm, c.id, c.name),
    })),
    { label: 'Other', kind: vscode.QuickPickItemKind.Separator },
    {
      label: '$(folder-opened) GGUF file on disk…',
      description: current && !installed.some((m) => m.path === current) ? current : '',
      run: async () =>
        (
          await vscode.window.showOpenDialog({
            canSelectMany: false,
            filters: { 'GGUF models': ['gguf'] },
            openLabel: 'Use as embedding model',
          })
        )?.[0]?.fsPath,
    },
  ];
  const pick = await vscode.window.showQuickPick(items, {
    title: 'Loupe: embedding model',
    placeHolder: 'Changing the model re-indexes every folder',
  });
  if (!pick?.run) return;
  const model = await pick.run();
  if (model === undefined || model === current) return;
  await vscode.workspace.getConfiguration('loupe').update('embedding.model', model, vscode.ConfigurationTarget.Global);
}

/** Installs a catalogue model with a cancellable progress notification (resumable, sha256-verified). */
async function download(loupe: Loupe, mm: ModelManager, id: string, name: string): Promise<string | undefined> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Loupe: downloading ${name}`, cancellable: true },
    async (progress, token) => {
      const { signal, dispose } = abortSignalFrom(token);
      let lastPct = 0;
      try {
        const m = await mm.install(id, {
          signal,
          onProgress: (p) => {
            const pct = p.total ? (100 * p.received) / p.total : 0;
            progress.report({
              message: `${(p.received / 1048576).toFixed(1)}${p.total ? ` of ${(p.total / 1048576).toFixed(1)}` : ''} MiB`,
              increment: pct - lastPct,
            });
            lastPct = pct;
          },
        });
        loupe.log.info(`installed ${m.name} at ${m.path}`);
        return m.path;
      } catch (e) {
        if (!signal.aborted) void showError(loupe.log, `Loupe: could not download ${name}: ${(e as Error).message}`);
        return undefined;
      } finally {
        dispose();
      }
    },
  );
}

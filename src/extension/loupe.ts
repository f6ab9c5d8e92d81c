/**
 * The composition root: one object owns every service of the extension (log, settings, one
 * engine session per workspace folder, status bar, search, Q&A panel, commands) and disposes
 * them together. Engine sessions have their own, shorter lifetime: a model or storage change
 * restarts them without touching the rest.
 */
import { describeModel } from '../core/models/tiers.js';
import { describeProgress } from '../core/progress-meter.js';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import * as vscode from 'vscode';
import { computeLine } from '../core/compute/status.js';
import { LoupeError } from '../core/types.js';
import { registerCommands } from './commands.js';
import { registerAgentTools } from './agent-tools.js';
import { EngineSession } from './engine-session.js';
import { ChannelLogger, showError } from './logger.js';
import { mergeResults, readPassages, type Passage } from './passages.js';
import { engineAnswerer, type Answerer } from './answerer.js';
import { QaViewProvider } from './qa-view.js';
import { openPassage, showResults, showSearch } from './search-pick.js';
import { NO_FILTER, type FilterState, type SearchFilter } from './search-filter.js';
import { ResultsView } from './results-view.js';
import { CONTEXT_KEY_NAMES, contextKeys, type ContextKeys } from './context-keys.js';
import { ModelManager } from '../core/models/manager.js';
import { changeEffect, describeSettings, openParamsFor, readSettings, type LoupeSettings } from './settings.js';
import { StatusBar } from './status-bar.js';
import { combineStates, coverageNote, describeState, type Blocked } from './status-view.js';
import { appendMetric, startLoopSampler } from './metrics.js';

const FIRST_INDEX_KEY = 'loupe.firstIndexNotified';

export class Loupe implements vscode.Disposable {
  readonly log = new ChannelLogger();
  settings: LoupeSettings;
  readonly sessions = new Map<string, EngineSession>();
  private readonly statusBar = new StatusBar();
  readonly qa: QaViewProvider;
  readonly results: ResultsView;
  /** Context keys as last set (only changes are sent to VS Code). */
  private readonly contextSent = new Map<string, unknown>();
  private readonly disposables: vscode.Disposable[] = [];
  /** Event-loop delay of the extension host, reset at the start of each index job. */
  /** The search quick pick's filter, kept for the next search in this window. */
  private searchFilter: FilterState = NO_FILTER;
  private readonly loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  private renderQueued = false;
  /** Fires when a watcher update reached any folder's index. */
  private readonly indexed = new vscode.EventEmitter<void>();

  constructor(readonly context: vscode.ExtensionContext) {
    this.settings = readSettings((k) => vscode.workspace.getConfiguration('loupe').get(k));
    this.log.info(
      `Loupe ${context.extension.packageJSON.version as string} on ${process.platform}-${process.arch}, Node ${process.versions.node}; settings ${describeSettings(this.settings)}`,
    );
    this.qa = new QaViewProvider(context.extensionUri, context.workspaceState, {
      searchPassages: (q, signal, k) => this.searchPassages(q, signal, k ?? this.settings.answerPassages),
      blockedReason: () => this.blockedReason(),
      answerer: this.answerer,
      openPassage: (p) => openPassage(p, false),
      configureAnswerModel: () => this.chooseAnswerModel(),
      log: this.log,
    });
    this.results = new ResultsView(() => this.render());
    this.loopDelay.enable();
    this.disposables.push(
      this.results,
      this.log,
      this.statusBar,
      this.qa,
      vscode.window.registerWebviewViewProvider(QaViewProvider.viewId, this.qa, { webviewOptions: { retainContextWhenHidden: false } }),
      ...registerCommands(this),
      vscode.workspace.onDidChangeConfiguration((e) => void this.onConfigChange(e)),
      vscode.workspace.onDidChangeWorkspaceFolders(() => void this.syncFolders()),
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        this.log.info('workspace trusted: starting the engine');
        this.offerAgentTools();
        void this.syncFolders();
      }),
      { dispose: () => this.loopDelay.disable() },
      { dispose: startLoopSampler(() => [...this.sessions.values()].some((s) => s.indexing)) },
    );
  }

  private agentTools: vscode.Disposable[] | undefined;

  /** The language-model tool and the MCP server definition, in a trusted workspace only (once). */
  private offerAgentTools(): void {
    if (this.agentTools || !vscode.workspace.isTrusted) return;
    this.agentTools = registerAgentTools(this);
    this.disposables.push(...this.agentTools);
  }

  /** Why nothing runs: Restricted Mode, or no folder open. */
  blocked(): Blocked {
    if (!vscode.workspace.isTrusted) return 'untrusted';
    if (!vscode.workspace.workspaceFolders?.length) return 'noFolder';
    return undefined;
  }

  /** A sentence for commands that cannot run, or undefined when they can. */
  blockedReason(): string | undefined {
    const b = this.blocked();
    if (b === 'untrusted')
      return 'Loupe does not run in Restricted Mode: indexing and search start an engine process and load native code and model files. Trust this workspace to use Loupe.';
    if (b === 'noFolder') return 'Open a folder to index and search it.';
    return undefined;
  }

  /** Starts engines for the workspace folders (nothing in Restricted Mode). */
  start(): void {
    this.render();
    this.offerAgentTools();
    if (this.blocked() === 'untrusted') this.log.info('Restricted Mode: no engine process is started until the workspace is trusted');
    void this.syncFolders();
  }

  /** Re-renders the status bar on the next tick (state events come in bursts). */
  render(): void {
    if (this.renderQueued) return;
    this.renderQueued = true;
    queueMicrotask(() => {
      this.renderQueued = false;
      this.statusBar.render(
        [...this.sessions.values()].map((s) => ({
          name: s.name,
          state: s.shownState,
          computeUnit: s.computeUnit,
          modelName: s.modelName,
          computeLine: s.compute ? computeLine(s.compute) : undefined,
          progress: s.progress,
        })),
        this.blocked(),
      );
      this.setContextKeys();
    });
  }

  /** Sets the `when`/`enablement` context keys (context-keys.ts) that changed since last time. */
  private setContextKeys(): void {
    const sessions = [...this.sessions.values()];
    const keys: ContextKeys = contextKeys({
      blocked: this.blocked(),
      states: sessions.map((s) => s.shownState),
      chunks: sessions.map((s) => s.status?.chunks ?? 0),
      answerModel: !this.answerer.unavailable(),
      hasResults: this.results.hasResults,
    });
    for (const name of CONTEXT_KEY_NAMES) {
      if (this.contextSent.get(name) === keys[name]) continue;
      this.contextSent.set(name, keys[name]);
      void vscode.commands.executeCommand('setContext', name, keys[name]);
    }
  }

  storeDirFor(root: string): string | undefined {
    if (this.settings.storage === 'workspace') return undefined;
    const id = createHash('sha256').update(root).digest('hex').slice(0, 16);
    return path.join(this.context.globalStorageUri.fsPath, 'indexes', `${path.basename(root)}-${id}`);
  }

  private newSession(folder: vscode.WorkspaceFolder): EngineSession {
    const root = folder.uri.fsPath;
    return new EngineSession({
      root,
      name: folder.name,
      params: openParamsFor(root, this.settings, this.storeDirFor(root)),
      serverScript: path.join(this.context.extensionPath, 'dist', 'engine-server.mjs'),
      logger: this.log,
      onChange: () => this.render(),
      onIndexed: () => this.indexed.fire(),
    });
  }

  /** Opens sessions for new folders and closes those of removed ones. */
  async syncFolders(): Promise<void> {
    this.render();
    if (this.blocked()) return;
    const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file');
    const keep = new Set(folders.map((f) => f.uri.toString()));
    for (const [key, s] of this.sessions) {
      if (!keep.has(key)) {
        this.sessions.delete(key);
        void s.dispose();
      }
    }
    await Promise.all(folders.filter((f) => !this.sessions.has(f.uri.toString())).map((f) => this.startSession(f)));
    this.render();
  }

  private async startSession(folder: vscode.WorkspaceFolder, rebuild = false): Promise<void> {
    const session = this.newSession(folder);
    this.sessions.set(folder.uri.toString(), session);
    this.render();
    let status;
    try {
      status = await session.open(rebuild);
    } catch (e) {
      const err = e as LoupeError;
      if (err.code === 'model-mismatch') {
        const pick = await showError(
          this.log,
          `Loupe (${folder.name}): the index was built with another embedding model. Re-index with the current model?`,
          'Re-index',
        );
        if (pick === 'Re-index') await this.restartSession(folder, true);
      } else {
        void showError(this.log, `Loupe (${folder.name}) could not start: ${err.message}`);
      }
      return;
    }
    if (!this.settings.autoIndex) return;
    const first = status.chunks === 0 && !this.context.globalState.get<boolean>(FIRST_INDEX_KEY);
    await this.runIndex(session, first);
    await session.watch(true).catch((e) => this.log.warn(`[${session.name}] watcher did not start: ${(e as Error).message}`));
  }

  private async restartSession(folder: vscode.WorkspaceFolder, rebuild: boolean): Promise<void> {
    const key = folder.uri.toString();
    const old = this.sessions.get(key);
    this.sessions.delete(key);
    await old?.dispose();
    await this.startSession(folder, rebuild);
  }

  /**
   * Runs an index job. The first index ever shows a cancellable notification; later ones show
   * only the status bar. Logs the extension host's event-loop delay during the job.
   */
  async runIndex(session: EngineSession, notify: boolean): Promise<void> {
    this.loopDelay.reset();
    const t0 = performance.now();
    const job = session.index();
    if (notify) {
      void this.context.globalState.update(FIRST_INDEX_KEY, true);
      void vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Loupe: indexing ${session.name}`, cancellable: true },
        async (progress, token) => {
          token.onCancellationRequested(() => void session.cancelIndex());
          let last = 0;
          const off = session.onJobProgress((p) => {
            const e = session.progress;
            if (!p.filesTotal || !e) return;
            // The total is an estimate until every file is read: the bar never moves back.
            progress.report({ message: `${describeProgress(e)} — search works on what is done`, increment: Math.max(0, e.percent - last) });
            last = Math.max(last, e.percent);
          });
          await job.done.catch(() => undefined);
          off();
        },
      );
    }
    try {
      const summary = await job.done;
      const h = this.loopDelay;
      const lag = { p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6, mean: h.mean / 1e6, samples: h.count };
      this.log.info(
        `[${session.name}] extension-host event-loop delay during the index job: p50 ${lag.p50.toFixed(1)} ms, p99 ${lag.p99.toFixed(1)} ms, max ${lag.max.toFixed(1)} ms (${lag.samples} samples at 10 ms resolution)`,
      );
      appendMetric({
        event: 'index',
        root: session.name,
        ms: Math.round(performance.now() - t0),
        cancelled: !summary,
        summary,
        eventLoopDelayMs: lag,
      });
    } catch (e) {
      void showError(this.log, `Loupe (${session.name}): indexing failed: ${(e as Error).message}`);
    }
  }

  /** Searches every folder (limited by `filter` when given) and reads the passages' text; best score first. */
  async searchPassages(query: string, signal: AbortSignal, k = this.settings.maxResults, filter?: SearchFilter): Promise<Passage[]> {
    const why = this.blockedReason();
    if (why) throw new LoupeError(why, 'blocked');
    const sessions = [...this.sessions.values()].filter((s) => !s.openError);
    if (!sessions.length) throw new LoupeError('The Loupe engine is not running; see the log.', 'not-running');
    const lists = await Promise.all(
      sessions.map((s) =>
        s.search(query, k, undefined, filter).catch((e) => {
          this.log.warn(`[${s.name}] search failed: ${(e as Error).message}`);
          return [];
        }),
      ),
    );
    signal.throwIfAborted();
    return (await readPassages(mergeResults(lists, k))).map((p, i) => ({ ...p, n: i + 1 }));
  }

  /** How much a search covers right now. */
  coverage(): string {
    return coverageNote(combineStates([...this.sessions.values()].map((s) => s.shownState)));
  }

  /** Shows the search quick pick. */
  search(initial?: string): void {
    const multiRoot = this.sessions.size > 1;
    showSearch(
      {
        searchPassages: (q, signal, filter) => this.searchPassages(q, signal, undefined, filter),
        filter: { get: () => this.searchFilter, set: (f) => (this.searchFilter = f) },
        coverage: () => this.coverage(),
        onIndexed: this.indexed.event,
        multiRoot,
        log: this.log,
        onResults: (q, ps, filter) => this.results.show(filter ? `“${q}” (${filter})` : `“${q}”`, ps, multiRoot),
      },
      initial,
    );
  }

  /**
   * Find Similar Code: searches with the selected code itself and lists the other places like it
   * (the selection's own passage is left out), in a quick pick and in the Results view.
   */
  async findSimilar(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const sel = editor?.selection;
    const text = editor && sel && !sel.isEmpty ? editor.document.getText(sel) : '';
    if (!editor || !sel || !text.trim()) {
      void vscode.window.showInformationMessage('Loupe: select some code first, then run Find Similar Code.');
      return;
    }
    const file = editor.document.uri.fsPath;
    const ac = new AbortController();
    const k = this.settings.maxResults;
    const found = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Loupe: finding similar code' }, () =>
      this.searchPassages(text.slice(0, 8000), ac.signal, k + 1),
    );
    const first = sel.start.line + 1;
    const last = sel.end.line + 1;
    // The selection finds itself first: drop passages of this file that overlap it.
    const others = found
      .filter((p) => !(path.join(p.root, ...p.path.split('/')) === file && p.startLine <= last && p.endLine >= first))
      .slice(0, k)
      .map((p, i) => ({ ...p, n: i + 1 }));
    const where = `${vscode.workspace.asRelativePath(editor.document.uri)}:${first}${last > first ? `-${last}` : ''}`;
    const multiRoot = this.sessions.size > 1;
    this.results.show(`similar to ${where}`, others, multiRoot);
    showResults({ multiRoot, log: this.log }, `Loupe: Code Similar to ${where}`, others);
  }

  /** Lets the user choose how answers are written: an installed chat model, a GGUF file, a local server, or automatic. */
  async chooseAnswerModel(): Promise<void> {
    type Item = vscode.QuickPickItem & { run?: () => Promise<void> };
    const cfg = () => vscode.workspace.getConfiguration('loupe');
    const set = async (provider: string, model: string, url: string) => {
      await cfg().update('answer.provider', provider, vscode.ConfigurationTarget.Global);
      await cfg().update('answer.model', model, vscode.ConfigurationTarget.Global);
      await cfg().update('answer.url', url, vscode.ConfigurationTarget.Global);
    };
    const servers: [string, string][] = [
      ['Ollama', 'http://127.0.0.1:11434'],
      ['LM Studio', 'http://127.0.0.1:1234'],
      ['llama-server', 'http://127.0.0.1:8080'],
    ];
    const installed = new ModelManager().installedChat();
    const items: Item[] = [
      ...(installed.length ? [{ label: 'Installed Answer Models', kind: vscode.QuickPickItemKind.Separator } as Item] : []),
      ...installed.map((m) => ({
        label: `$(check) ${m.name}`,
        description: this.settings.answerModel === m.path ? 'current' : '',
        detail: m.path,
        run: () => set('llama', m.path, ''),
      })),
      { label: 'Local Server (OpenAI-Compatible API)', kind: vscode.QuickPickItemKind.Separator },
      ...servers.map(([name, url]) => ({
        label: `$(server) ${name}`,
        description: url,
        detail: `Answers come from ${name} running on this machine; its loaded model writes them.`,
        run: async () => {
          const chosen = await vscode.window.showInputBox({
            title: `Loupe: ${name} address`,
            value: url,
            prompt: 'The server’s base URL (the /v1 suffix is optional)',
          });
          if (chosen) await set('openai', '', chosen);
        },
      })),
      { label: 'Other', kind: vscode.QuickPickItemKind.Separator },
      {
        label: '$(folder-opened) GGUF Chat Model on Disk…',
        detail: 'An instruct model such as Qwen2.5-Coder-1.5B-Instruct (Q4_K_M, ~1.1 GB); not an embedding model.',
        run: async () => {
          await this.configureAnswerModel();
          await cfg().update('answer.provider', 'auto', vscode.ConfigurationTarget.Global);
        },
      },
      { label: '$(sparkle) Automatic', description: 'MLX on Apple Silicon, else an installed chat model', run: () => set('auto', '', '') },
    ];
    const pick = await vscode.window.showQuickPick(items, {
      title: 'Loupe: Choose Answer Model',
      placeHolder: 'How answers are written (retrieval works without one)',
    });
    await pick?.run?.();
    this.render();
  }

  /** Re-indexes every folder; restarts engines whose settings changed (a new model rebuilds). */
  async reindex(): Promise<void> {
    const folders = vscode.workspace.workspaceFolders ?? [];
    await Promise.all(
      folders.map(async (f) => {
        const s = this.sessions.get(f.uri.toString());
        const params = openParamsFor(f.uri.fsPath, this.settings, this.storeDirFor(f.uri.fsPath));
        if (!s || s.openError || JSON.stringify(params) !== JSON.stringify(s.opts.params)) {
          const rebuild =
            !!s &&
            (s.opts.params.modelPath !== params.modelPath ||
              s.opts.params.backend !== params.backend ||
              (s.openError instanceof LoupeError && s.openError.code === 'model-mismatch'));
          await this.restartSession(f, rebuild);
          if (!this.settings.autoIndex) await this.indexOnly(f);
        } else {
          await this.runIndex(s, false);
        }
      }),
    );
  }

  private async indexOnly(f: vscode.WorkspaceFolder): Promise<void> {
    const s = this.sessions.get(f.uri.toString());
    if (s && !s.openError) await this.runIndex(s, false);
  }

  /** Pauses (or resumes) embedding work in every folder. */
  async setPaused(paused: boolean): Promise<void> {
    await Promise.all(
      [...this.sessions.values()].map((s) =>
        (paused ? s.pause('paused from VS Code') : s.resume()).catch((e) => this.log.warn(`[${s.name}] ${(e as Error).message}`)),
      ),
    );
    this.log.info(paused ? 'paused' : 'resumed');
  }

  /** True when any folder is paused. */
  get paused(): boolean {
    return [...this.sessions.values()].some((s) => s.shownState?.kind === 'paused');
  }

  /** A multi-line report of every folder's index. */
  statusReport(): string {
    if (!this.sessions.size) return this.blockedReason() ?? 'No engine is running.';
    return [...this.sessions.values()]
      .map((s) => {
        const st = s.status;
        const lines = [`${s.name}: ${describeState(s.shownState)}`];
        if (s.openError) lines.push(`  could not open: ${s.openError.message}`);
        if (st) {
          lines.push(`  model: ${describeModel(st.model.name)} (${st.model.dimensions} dims) on ${st.model.computeUnit}`);
          if (s.compute) lines.push(`  compute: ${computeLine(s.compute)}; units: ${s.compute.units.join(', ') || 'CPU'}`);
          lines.push(
            `  index: ${st.chunks} chunks in ${st.files} files, ${st.searchStructure}, ${(st.diskBytes / 1048576).toFixed(1)} MiB`,
          );
          lines.push(`  stored in ${st.storeDir}; updated ${st.updatedAt || 'never'}`);
        }
        return lines.join('\n');
      })
      .join('\n\n');
  }

  private async onConfigChange(e: vscode.ConfigurationChangeEvent): Promise<void> {
    const effect = changeEffect((s) => e.affectsConfiguration(s));
    if (!effect) return;
    this.settings = readSettings((k) => vscode.workspace.getConfiguration('loupe').get(k));
    this.log.info(`settings changed (${effect}): ${describeSettings(this.settings)}`);
    if (this.blocked()) return;
    if (effect === 'reindex') {
      const pick = await vscode.window.showInformationMessage(
        'Loupe: the model or file settings changed; the index must be rebuilt to apply them.',
        'Re-index now',
        'Later',
      );
      if (pick === 'Re-index now') await this.reindex();
    } else if (effect === 'restart') {
      for (const f of vscode.workspace.workspaceFolders ?? []) await this.restartSession(f, false);
    } else {
      for (const s of this.sessions.values()) if (!s.openError) await s.watch(this.settings.autoIndex).catch(() => undefined);
      this.qa.settingsChanged();
    }
  }

  /** Lets the user pick a GGUF chat model for answers. */
  async configureAnswerModel(): Promise<void> {
    const picked = await vscode.window.showOpenDialog({
      canSelectMany: false,
      openLabel: 'Use as answer model',
      filters: { 'GGUF models': ['gguf'] },
      title: 'Loupe: choose a GGUF chat model for answers',
    });
    if (picked?.[0])
      await vscode.workspace.getConfiguration('loupe').update('answer.model', picked[0].fsPath, vscode.ConfigurationTarget.Global);
  }

  /** Answers over the engine process's answer model (see `answerer.ts`). */
  get answerer(): Answerer {
    return (this._answerer ??= engineAnswerer({
      sessions: () => this.sessions.values(),
      settings: () => this.settings,
      log: this.log,
      installedChat: installedChatModel,
      installedChatName: () => (installedChatModel() ? (new ModelManager().installedChat()[0]?.name ?? null) : null),
    }));
  }
  private _answerer: Answerer | undefined;

  /** Stops every engine process and waits until each has exited (deactivate awaits this). */
  async shutdown(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(sessions.map((s) => s.dispose().catch((e) => this.log.warn(`[${s.name}] engine shutdown: ${(e as Error).message}`))));
  }

  dispose(): void {
    this.indexed.dispose();
    for (const s of this.sessions.values()) void s.dispose();
    this.sessions.clear();
    for (const d of this.disposables.reverse()) d.dispose();
  }
}

/** Whether an answer model was installed with `loupe models install <id> --from <file>` (cached briefly: render calls this often). */
let chatCache: { at: number; value: boolean } | undefined;
function installedChatModel(): boolean {
  if (!chatCache || Date.now() - chatCache.at > 5000) {
    let value = false;
    try {
      value = new ModelManager().installedChat().length > 0;
    } catch {
      /* an unreadable models folder: none installed */
    }
    chatCache = { at: Date.now(), value };
  }
  return chatCache.value;
}

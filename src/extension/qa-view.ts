/**
 * The Q&A panel: a webview view in Loupe's activity-bar container. Questions retrieve passages
 * from every folder's index; an answer model (when configured) streams an answer citing them as
 * [n]; without one the panel says so and shows the passages. History lives on the extension side
 * (workspace state), so it survives reloads; the webview only renders it.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { retrievalQuery } from '../core/answer/answer.js';
import { isAbort } from './async-utils.js';
import type { Answerer } from './answerer.js';
import type { Passage } from './passages.js';
import { parseFromWebview, type ToWebview, type Turn } from './qa-protocol.js';

const HISTORY_KEY = 'loupe.qa.history';
const CONVERSATION_KEY = 'loupe.qa.conversation';
const MAX_TURNS = 50;

/** What the panel needs from the root. */
export interface QaHost {
  searchPassages(query: string, signal: AbortSignal, k?: number): Promise<Passage[]>;
  /** Undefined when questions can be asked; otherwise why not (restricted mode, no folder). */
  blockedReason(): string | undefined;
  readonly answerer: Answerer;
  openPassage(p: Passage): Promise<void>;
  configureAnswerModel(): Promise<void>;
  readonly log: { info(m: string): void; error(m: string): void };
}

export class QaViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewId = 'loupe.qa';
  private view: vscode.WebviewView | undefined;
  private turns: Turn[];
  private running: { id: string; ac: AbortController } | undefined;
  private pendingQuestion: string | undefined;
  private conversationId: string;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly memento: vscode.Memento,
    private readonly host: QaHost,
  ) {
    const saved = memento.get<Turn[]>(HISTORY_KEY, []);
    // A turn interrupted by a reload cannot resume: mark it stopped.
    this.turns = saved.map((t) => (t.status === 'streaming' || t.status === 'retrieving' ? { ...t, status: 'stopped' } : t));
    this.conversationId = memento.get<string>(CONVERSATION_KEY) ?? this.newConversation();
  }

  private newConversation(): string {
    this.conversationId = randomBytes(8).toString('hex');
    void this.memento.update(CONVERSATION_KEY, this.conversationId);
    return this.conversationId;
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    const scripts = vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
    view.webview.options = { enableScripts: true, localResourceRoots: [media, scripts] };
    view.webview.html = this.html(view.webview, media, scripts);
    this.disposables.push(
      view.webview.onDidReceiveMessage((m) => void this.onMessage(m)),
      view.onDidDispose(() => {
        if (this.view === view) this.view = undefined;
      }),
    );
  }

  private html(webview: vscode.Webview, media: vscode.Uri, scripts: vscode.Uri): string {
    const nonce = randomBytes(16).toString('base64');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(scripts, 'qa.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(media, 'qa.css'));
    const csp = `default-src 'none'; style-src ${webview.cspSource}; script-src 'nonce-${nonce}'; img-src ${webview.cspSource}; font-src ${webview.cspSource};`;
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link href="${style}" rel="stylesheet">
<title>Loupe Q&amp;A</title>
</head>
<body>
<div id="turns" role="log" aria-live="polite"></div>
<form id="ask">
  <textarea id="question" rows="3" placeholder="Ask about this codebase… (Enter to send, Shift+Enter for a new line)" aria-label="Question"></textarea>
  <div class="buttons">
    <button type="submit" id="send">Ask</button>
    <button type="button" id="stop" class="secondary" hidden>Stop</button>
    <button type="button" id="clear" class="secondary">Clear</button>
  </div>
</form>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
  }

  private post(m: ToWebview): void {
    void this.view?.webview.postMessage(m);
  }

  private async onMessage(raw: unknown): Promise<void> {
    const m = parseFromWebview(raw);
    if (!m) {
      this.host.log.error(`Q&A panel: ignored a malformed message`);
      return;
    }
    switch (m.type) {
      case 'ready':
        this.post({ type: 'init', turns: this.turns, answerModel: this.host.answerer.modelName(), busy: !!this.running });
        if (this.pendingQuestion) {
          const q = this.pendingQuestion;
          this.pendingQuestion = undefined;
          await this.ask(q);
        }
        break;
      case 'ask':
        await this.ask(m.question);
        break;
      case 'stop':
        this.running?.ac.abort();
        break;
      case 'clear':
        this.running?.ac.abort();
        this.host.answerer.forget(this.conversationId);
        this.newConversation();
        this.turns = [];
        await this.save();
        this.post({ type: 'init', turns: [], answerModel: this.host.answerer.modelName(), busy: false });
        break;
      case 'open': {
        const p = this.turns.find((t) => t.id === m.turnId)?.passages.find((x) => x.n === m.n);
        if (p) await this.host.openPassage(p).catch((e) => this.host.log.error(`cannot open ${p.path}: ${(e as Error).message}`));
        break;
      }
      case 'configure':
        await this.host.configureAnswerModel();
        break;
    }
  }

  /** Reveals the panel and focuses its input (with `question`, asks it). */
  async reveal(question?: string): Promise<void> {
    await vscode.commands.executeCommand(`${QaViewProvider.viewId}.focus`);
    if (question) {
      if (this.view) await this.ask(question);
      else this.pendingQuestion = question;
    } else {
      this.post({ type: 'focusInput' });
    }
  }

  private async save(): Promise<void> {
    await this.memento.update(HISTORY_KEY, this.turns.slice(-MAX_TURNS));
  }

  private update(turn: Turn): void {
    this.post({ type: 'turn', turn });
  }

  /** Asks a question: retrieve once, then answer from those passages (or explain why no answer model runs). */
  async ask(question: string): Promise<void> {
    const blocked = this.host.blockedReason();
    this.running?.ac.abort();
    const id = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const ac = new AbortController();
    this.running = { id, ac };
    this.post({ type: 'busy', busy: true });
    const turn: Turn = { id, question, passages: [], answer: '', status: 'retrieving' };
    this.turns.push(turn);
    this.update(turn);
    try {
      if (blocked) {
        turn.status = 'error';
        turn.note = blocked;
        return;
      }
      // One retrieval per question: the passages shown are the ones the answer model reads.
      const previous = this.turns.slice(0, -1).findLast((t) => t.status === 'done')?.question;
      turn.passages = await this.host.searchPassages(retrievalQuery(question, previous), ac.signal);
      const why = this.host.answerer.unavailable();
      if (why) {
        turn.status = 'noModel';
        turn.note = why;
        return;
      }
      turn.status = 'streaming';
      this.update(turn);
      // The engine keeps the conversation's history: follow-ups build on earlier answers.
      await this.host.answerer.answer(question, this.conversationId, turn.passages, ac.signal, {
        citations: (passages) => {
          turn.passages = passages;
          this.update(turn);
        },
        token: (text) => {
          turn.answer += text;
          this.post({ type: 'token', id, text });
        },
      });
      turn.status = 'done';
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (isAbort(e) || ac.signal.aborted) {
        turn.status = 'stopped';
      } else if (code === 'model-missing' || code === 'server-not-running') {
        turn.status = 'noModel';
        turn.note = (e as Error).message;
      } else {
        turn.status = 'error';
        turn.note = (e as Error).message;
        this.host.log.error(`Q&A: ${(e as Error).message}`);
      }
    } finally {
      this.update(turn);
      if (this.running?.id === id) {
        this.running = undefined;
        this.post({ type: 'busy', busy: false });
      }
      await this.save();
    }
  }

  /** Tells the panel the answer model may have changed. */
  settingsChanged(): void {
    this.post({ type: 'init', turns: this.turns, answerModel: this.host.answerer.modelName(), busy: !!this.running });
  }

  dispose(): void {
    this.running?.ac.abort();
    for (const d of this.disposables) d.dispose();
  }
}

/**
 * The search quick pick: results update as you type (debounced; a newer query supersedes the
 * one in flight), each row shows symbol, path:line and a snippet, moving through rows previews
 * the location, and accepting opens the exact range.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { LiveQuery } from './async-utils.js';
import type { Passage } from './passages.js';
import { buildRows, RELATIVE_CUTOFF, type Row } from './result-rows.js';

interface ResultItem extends vscode.QuickPickItem {
  passage?: Passage;
}

/** What the quick pick needs from the root. */
export interface SearchHost {
  /** Searches every folder; results merged best first, with their text. */
  searchPassages(query: string, signal: AbortSignal): Promise<Passage[]>;
  /** A note on coverage (`indexing: 120 of 800 files…`), empty when complete. */
  coverage(): string;
  /** Fires when an update reached the index, so open results can be refreshed. */
  onIndexed?: vscode.Event<void>;
  readonly multiRoot: boolean;
  readonly log: { error(m: string): void };
  /** Told the results of each finished search (the Results view keeps the last ones). */
  onResults?(query: string, passages: Passage[]): void;
}

/**
 * Quick-pick items for rows; results never get filtered by the pick's own matching. While the user
 * types, VS Code hides separators, so the live search shows the cut-off as a row of its own
 * (`separatorAsRow`); fixed results use a real separator.
 */
export function itemsFor(rows: Row[], separatorAsRow = false): ResultItem[] {
  return rows.map((r) => r.type === 'separator'
    ? separatorAsRow
      ? { label: `$(fold-down) ${r.label[0]!.toUpperCase()}${r.label.slice(1)} below`, description: `scored under ${Math.round(RELATIVE_CUTOFF * 100)}% of the best match`, alwaysShow: true }
      : { label: r.label, kind: vscode.QuickPickItemKind.Separator }
    // The query is semantic: never let the quick pick's own label filter hide a result.
    : { label: `$(${r.icon}) ${r.label}`, description: r.description, detail: r.detail, alwaysShow: true, passage: r.passage });
}

/** The range of a passage in its document (0-based lines). */
export function rangeOf(p: Passage): vscode.Range {
  return new vscode.Range(p.startLine - 1, 0, Math.max(p.startLine - 1, p.endLine - 1), Number.MAX_SAFE_INTEGER);
}

let highlight: { type: vscode.TextEditorDecorationType; editor?: vscode.TextEditor; timer?: ReturnType<typeof setTimeout> } | undefined;

/** Marks the passage's lines for a moment (the cursor goes to its first line; nothing is selected). */
function flash(editor: vscode.TextEditor, range: vscode.Range): void {
  highlight ??= { type: vscode.window.createTextEditorDecorationType({ backgroundColor: new vscode.ThemeColor('editor.rangeHighlightBackground'), isWholeLine: true }) };
  if (highlight.timer) clearTimeout(highlight.timer);
  highlight.editor?.setDecorations(highlight.type, []);
  editor.setDecorations(highlight.type, [range]);
  highlight.editor = editor;
  highlight.timer = setTimeout(() => editor.setDecorations(highlight!.type, []), 2500);
}

/** Opens a passage's file at its range. */
export async function openPassage(p: Passage, preview: boolean, preserveFocus = false): Promise<void> {
  const uri = vscode.Uri.file(path.join(p.root, ...p.path.split('/')));
  const editor = await vscode.window.showTextDocument(uri, { preview, preserveFocus, selection: new vscode.Range(p.startLine - 1, 0, p.startLine - 1, 0) });
  const range = rangeOf(p);
  editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  flash(editor, range);
}

/** Shows the live search quick pick; `initial` pre-fills the query. */
export function showSearch(host: SearchHost, initial = ''): void {
  const qp = vscode.window.createQuickPick<ResultItem>();
  qp.title = 'Loupe: Search by Meaning';
  qp.placeholder = 'Describe the code you are looking for (e.g. "retry a failed HTTP request")';
  qp.matchOnDescription = false;
  qp.matchOnDetail = false;
  const setTitle = () => {
    const note = host.coverage();
    qp.title = note ? `Loupe: Search by Meaning — ${note}` : 'Loupe: Search by Meaning';
  };
  const live = new LiveQuery<string, Passage[]>(
    (q, signal) => host.searchPassages(q, signal),
    (passages, q) => {
      qp.busy = false;
      setTitle();
      qp.items = itemsFor(buildRows(passages, { multiRoot: host.multiRoot }), true);
      host.onResults?.(q, passages);
    },
    (e) => {
      qp.busy = false;
      qp.title = `Loupe: search failed — ${(e as Error).message}`;
      host.log.error(`search failed: ${(e as Error).message}`);
    },
    150,
  );
  qp.onDidChangeValue((v) => {
    if (!v.trim()) {
      live.cancel();
      qp.items = [];
      qp.busy = false;
      return;
    }
    qp.busy = true;
    live.push(v);
  });
  // A save that reaches the index while the pick is open refreshes its results, unless the user
  // has moved through them (refreshing would move the selection under them).
  const onIndexed = host.onIndexed?.(() => {
    const first = qp.items[0];
    if (!qp.value.trim() || (first && qp.activeItems[0] !== first)) return;
    live.push(qp.value);
  });
  wirePassagePick(qp, host, () => {
    onIndexed?.dispose();
    live.cancel();
  });
  setTitle();
  qp.show();
  if (initial) {
    qp.value = initial;
    qp.busy = true;
    live.push(initial);
  }
}

/**
 * Shows fixed results (Find Similar Code) in a quick pick: the same rows, previews and opening as
 * the live search, with the query being the selected code rather than typed text.
 */
export function showResults(host: Pick<SearchHost, 'multiRoot' | 'log'>, title: string, passages: Passage[]): void {
  const qp = vscode.window.createQuickPick<ResultItem>();
  qp.title = title;
  qp.placeholder = passages.length ? 'Filter by name or path' : 'Nothing similar found in the index';
  qp.matchOnDescription = true;
  qp.items = itemsFor(buildRows(passages, { multiRoot: host.multiRoot })).map((i) => ({ ...i, alwaysShow: false }));
  wirePassagePick(qp, host);
  qp.show();
}

/**
 * What both picks do with their rows: moving through them previews the passage, accepting opens
 * it, and hiding without a choice goes back to the editor the user was in before the previews.
 * `onHide` runs first when the pick hides (then the pick is disposed).
 */
function wirePassagePick(qp: vscode.QuickPick<ResultItem>, host: Pick<SearchHost, 'log'>, onHide?: () => void): void {
  const previousEditor = vscode.window.activeTextEditor;
  let accepted = false;
  qp.onDidChangeActive((items) => {
    const p = items[0]?.passage;
    if (p) void openPassage(p, true, true).catch(() => undefined);
  });
  qp.onDidAccept(() => {
    const p = qp.selectedItems[0]?.passage ?? qp.activeItems[0]?.passage;
    if (!p) return;
    accepted = true;
    qp.hide();
    void openPassage(p, false).catch((e) => host.log.error(`cannot open ${p.path}: ${(e as Error).message}`));
  });
  qp.onDidHide(() => {
    onHide?.();
    qp.dispose();
    if (!accepted && previousEditor) void vscode.window.showTextDocument(previousEditor.document, { selection: previousEditor.selection, viewColumn: previousEditor.viewColumn }).then(undefined, () => undefined);
  });
}

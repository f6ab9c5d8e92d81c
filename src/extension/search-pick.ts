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
import {
  contentWords,
  describeFilter,
  isFiltered,
  LANGUAGE_CHOICES,
  languageName,
  nextContent,
  NO_FILTER,
  pathGlobProblem,
  toSearchFilter,
  type ContentChoice,
  type FilterState,
  type SearchFilter,
} from './search-filter.js';

interface ResultItem extends vscode.QuickPickItem {
  passage?: Passage;
}

/** What the quick pick needs from the root. */
export interface SearchHost {
  /** Searches every folder, limited by `filter` when given; results merged best first, with their text. */
  searchPassages(query: string, signal: AbortSignal, filter?: SearchFilter): Promise<Passage[]>;
  /** The filter the pick starts with, and where it keeps the user's changes (for the next search). */
  filter?: { get(): FilterState; set(state: FilterState): void };
  /** A note on coverage (`indexing: 120 of 800 files…`), empty when complete. */
  coverage(): string;
  /** Fires when an update reached the index, so open results can be refreshed. */
  onIndexed?: vscode.Event<void>;
  readonly multiRoot: boolean;
  readonly log: { error(m: string): void };
  /** Told the results of each finished search (the Results view keeps the last ones); `filter` in words, empty when none. */
  onResults?(query: string, passages: Passage[], filter: string): void;
}

/**
 * Quick-pick items for rows; results never get filtered by the pick's own matching. While the user
 * types, VS Code hides separators, so the live search shows the cut-off as a row of its own
 * (`separatorAsRow`); fixed results use a real separator.
 */
export function itemsFor(rows: Row[], separatorAsRow = false): ResultItem[] {
  return rows.map((r) =>
    r.type === 'separator'
      ? separatorAsRow
        ? {
            label: `$(fold-down) ${r.label[0]!.toUpperCase()}${r.label.slice(1)} below`,
            description: `scored under ${Math.round(RELATIVE_CUTOFF * 100)}% of the best match`,
            alwaysShow: true,
          }
        : { label: r.label, kind: vscode.QuickPickItemKind.Separator }
      : // The query is semantic: never let the quick pick's own label filter hide a result.
        { label: `$(${r.icon}) ${r.label}`, description: r.description, detail: r.detail, alwaysShow: true, passage: r.passage },
  );
}

/** The range of a passage in its document (0-based lines). */
export function rangeOf(p: Passage): vscode.Range {
  return new vscode.Range(p.startLine - 1, 0, Math.max(p.startLine - 1, p.endLine - 1), Number.MAX_SAFE_INTEGER);
}

let highlight: { type: vscode.TextEditorDecorationType; editor?: vscode.TextEditor; timer?: ReturnType<typeof setTimeout> } | undefined;

/** Marks the passage's lines for a moment (the cursor goes to its first line; nothing is selected). */
function flash(editor: vscode.TextEditor, range: vscode.Range): void {
  highlight ??= {
    type: vscode.window.createTextEditorDecorationType({
      backgroundColor: new vscode.ThemeColor('editor.rangeHighlightBackground'),
      isWholeLine: true,
    }),
  };
  if (highlight.timer) clearTimeout(highlight.timer);
  highlight.editor?.setDecorations(highlight.type, []);
  editor.setDecorations(highlight.type, [range]);
  highlight.editor = editor;
  highlight.timer = setTimeout(() => editor.setDecorations(highlight!.type, []), 2500);
}

/** Opens a passage's file at its range. */
export async function openPassage(p: Passage, preview: boolean, preserveFocus = false): Promise<void> {
  const uri = vscode.Uri.file(path.join(p.root, ...p.path.split('/')));
  const editor = await vscode.window.showTextDocument(uri, {
    preview,
    preserveFocus,
    selection: new vscode.Range(p.startLine - 1, 0, p.startLine - 1, 0),
  });
  const range = rangeOf(p);
  editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  flash(editor, range);
}

const CONTENT_ICONS: Record<ContentChoice, string> = { all: 'filter', code: 'symbol-method', tests: 'beaker', docs: 'book' };

interface FilterButton extends vscode.QuickInputButton {
  action: 'content' | 'language' | 'path' | 'clear';
}

/** The title bar buttons for a filter state: each shows its current value in its tooltip. */
export function filterButtons(s: FilterState): FilterButton[] {
  const buttons: FilterButton[] = [
    {
      action: 'content',
      iconPath: new vscode.ThemeIcon(CONTENT_ICONS[s.content]),
      tooltip: `Content: ${contentWords(s.content)} (click for ${contentWords(nextContent(s.content))})`,
    },
    {
      action: 'language',
      iconPath: new vscode.ThemeIcon('file-code'),
      tooltip: `Languages: ${s.languages.length ? s.languages.map(languageName).join(', ') : 'all'} (click to choose)`,
    },
    {
      action: 'path',
      iconPath: new vscode.ThemeIcon('folder'),
      tooltip: `Paths: ${s.path.trim() || 'all'} (click to set a glob such as src/** or *.go)`,
    },
  ];
  if (isFiltered(s)) buttons.push({ action: 'clear', iconPath: new vscode.ThemeIcon('clear-all'), tooltip: 'Clear the filter' });
  return buttons;
}

/** Shows the live search quick pick; `initial` pre-fills the query. */
export function showSearch(host: SearchHost, initial = ''): void {
  const qp = vscode.window.createQuickPick<ResultItem>();
  const basePlaceholder = 'Describe the code you are looking for (e.g. "retry a failed HTTP request")';
  qp.matchOnDescription = false;
  qp.matchOnDetail = false;
  let filter = host.filter?.get() ?? NO_FILTER;
  // While a language or path prompt is open the pick is hidden, not closed.
  let choosing = false;
  const setTitle = () => {
    const note = host.coverage();
    const limited = describeFilter(filter);
    qp.title = ['Loupe: Search by Meaning', limited && `Filter: ${limited}`, note].filter(Boolean).join(' — ');
  };
  const showFilter = () => {
    setTitle();
    qp.placeholder = isFiltered(filter) ? `${basePlaceholder} · searching ${describeFilter(filter)}` : basePlaceholder;
    qp.buttons = filterButtons(filter);
  };
  const live = new LiveQuery<string, Passage[]>(
    (q, signal) => host.searchPassages(q, signal, toSearchFilter(filter)),
    (passages, q) => {
      qp.busy = false;
      setTitle();
      qp.items =
        passages.length || !isFiltered(filter)
          ? itemsFor(buildRows(passages, { multiRoot: host.multiRoot }), true)
          : [
              {
                label: '$(filter) Nothing matches the filter',
                description: describeFilter(filter),
                detail: 'Clear it with the title bar button, or choose other content, languages or paths',
                alwaysShow: true,
              },
            ];
      host.onResults?.(q, passages, describeFilter(filter));
    },
    (e) => {
      qp.busy = false;
      qp.title = `Loupe: search failed — ${(e as Error).message}`;
      host.log.error(`search failed: ${(e as Error).message}`);
    },
    150,
  );
  const rerun = () => {
    if (!qp.value.trim()) return;
    qp.busy = true;
    live.push(qp.value);
  };
  const setFilter = (next: FilterState) => {
    filter = next;
    host.filter?.set(next);
    showFilter();
    rerun();
  };
  /** Runs a prompt over the hidden pick, then shows the pick again. */
  const prompt = async <T>(ask: () => Thenable<T>): Promise<T> => {
    choosing = true;
    try {
      return await ask();
    } finally {
      choosing = false;
      qp.show();
    }
  };
  qp.onDidTriggerButton(async (b) => {
    const action = (b as FilterButton).action;
    if (action === 'content') setFilter({ ...filter, content: nextContent(filter.content) });
    else if (action === 'clear') setFilter(NO_FILTER);
    else if (action === 'language') {
      const picked = await prompt(() =>
        vscode.window.showQuickPick(
          LANGUAGE_CHOICES.map((l) => ({
            label: l.label,
            description: l.id,
            detail: l.detail,
            picked: filter.languages.includes(l.id),
            id: l.id,
          })),
          { canPickMany: true, title: 'Loupe: Search Only These Languages', placeHolder: 'None checked: every language' },
        ),
      );
      if (picked) setFilter({ ...filter, languages: picked.map((p) => p.id) });
    } else if (action === 'path') {
      const glob = await prompt(() =>
        vscode.window.showInputBox({
          title: 'Loupe: Search Only These Paths',
          prompt: 'A glob relative to the workspace folder: src/**, *.go, test/, src/{api,db}/**. Empty: every path.',
          value: filter.path,
          validateInput: pathGlobProblem,
        }),
      );
      if (glob !== undefined) setFilter({ ...filter, path: glob.trim() });
    }
  });
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
  wirePassagePick(
    qp,
    host,
    () => {
      onIndexed?.dispose();
      live.cancel();
    },
    () => choosing,
  );
  showFilter();
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
function wirePassagePick(
  qp: vscode.QuickPick<ResultItem>,
  host: Pick<SearchHost, 'log'>,
  onHide?: () => void,
  suspended?: () => boolean,
): void {
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
    // Hidden under a prompt of its own (a filter's language or path), not closed.
    if (suspended?.()) return;
    onHide?.();
    qp.dispose();
    if (!accepted && previousEditor)
      void vscode.window
        .showTextDocument(previousEditor.document, { selection: previousEditor.selection, viewColumn: previousEditor.viewColumn })
        .then(undefined, () => undefined);
  });
}

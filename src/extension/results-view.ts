/**
 * The Results view: the last search's (or Find Similar Code's) results, kept until the next one,
 * so the user can come back to them. Empty, it shows package.json's welcome content for the
 * workspace's state (no index yet, indexing, ready…).
 */
import * as vscode from 'vscode';
import type { Passage } from './passages.js';
import { buildRows, type Row } from './result-rows.js';

type Node = { row: Row };

export class ResultsView implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  static readonly viewId = 'loupe.results';
  private rows: Row[] = [];
  private title = '';
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly view: vscode.TreeView<Node>;

  constructor(private readonly onChange: (hasResults: boolean) => void) {
    this.view = vscode.window.createTreeView(ResultsView.viewId, { treeDataProvider: this });
  }

  /** Replaces the results; `title` says what they are for (the query, or the selection). */
  show(title: string, passages: Passage[], multiRoot: boolean): void {
    this.rows = buildRows(passages, { multiRoot });
    this.title = title;
    this.view.description = title;
    this.view.message = passages.length ? undefined : `Nothing found for ${title}`;
    this.changed.fire(undefined);
    this.onChange(this.rows.length > 0);
  }

  clear(): void {
    this.show('', [], false);
    this.view.message = undefined;
  }

  get hasResults(): boolean {
    return this.rows.length > 0;
  }

  getChildren(node?: Node): Node[] {
    return node ? [] : this.rows.map((row) => ({ row }));
  }

  getTreeItem({ row }: Node): vscode.TreeItem {
    if (row.type === 'separator') {
      const item = new vscode.TreeItem(`── ${row.label} ──`);
      item.tooltip = 'These scored well below the best result.';
      return item;
    }
    const item = new vscode.TreeItem(row.label);
    item.description = row.description;
    item.iconPath = new vscode.ThemeIcon(row.icon);
    const tip = new vscode.MarkdownString();
    tip.appendCodeblock(row.passage.text.split('\n').slice(0, 12).join('\n'), row.passage.language);
    item.tooltip = tip;
    item.command = { command: 'loupe.openResult', title: 'Open', arguments: [row.passage] };
    return item;
  }

  dispose(): void {
    this.view.dispose();
    this.changed.dispose();
  }
}

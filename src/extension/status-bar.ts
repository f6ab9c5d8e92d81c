/** The status-bar compute indicator: renders what `renderStatus` computes, nothing more. */
import * as vscode from 'vscode';
import { renderStatus, type Blocked, type RootView } from './status-view.js';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('loupe.status', vscode.StatusBarAlignment.Left, 10);

  constructor() {
    this.item.name = 'Loupe';
  }

  /** Renders the folders' engine states (or why nothing runs). */
  render(roots: RootView[], blocked: Blocked): void {
    const v = renderStatus(roots, blocked);
    this.item.text = v.text;
    const tip = new vscode.MarkdownString(v.tooltip, true);
    tip.isTrusted = {
      enabledCommands: [
        'loupe.pause',
        'loupe.resume',
        'loupe.reindex',
        'loupe.showStatus',
        'loupe.showLogs',
        'loupe.chooseModel',
        'workbench.trust.manage',
      ],
    };
    this.item.tooltip = tip;
    this.item.command = v.command;
    this.item.backgroundColor =
      v.severity === 'error'
        ? new vscode.ThemeColor('statusBarItem.errorBackground')
        : v.severity === 'warning'
          ? new vscode.ThemeColor('statusBarItem.warningBackground')
          : undefined;
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}

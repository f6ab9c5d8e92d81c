/** The one LogOutputChannel, behind the core's Logger port. */
import * as vscode from 'vscode';
import type { Logger } from '../core/types.js';

/** A Logger writing to the "Loupe" log channel; `channel.show()` is the Show Logs action. */
export class ChannelLogger implements Logger, vscode.Disposable {
  readonly channel = vscode.window.createOutputChannel('Loupe', { log: true });

  info(msg: string): void {
    this.channel.info(msg);
  }
  warn(msg: string): void {
    this.channel.warn(msg);
  }
  error(msg: string): void {
    this.channel.error(msg);
  }
  debug(msg: string): void {
    this.channel.debug(msg);
  }
  /** Shows the log channel. */
  show(): void {
    this.channel.show(true);
  }
  dispose(): void {
    this.channel.dispose();
  }
}

/** Shows an error with a "Show Logs" action and logs it. */
export async function showError(log: ChannelLogger, message: string, ...actions: string[]): Promise<string | undefined> {
  log.error(message);
  const picked = await vscode.window.showErrorMessage(message, ...actions, 'Show Logs');
  if (picked === 'Show Logs') log.show();
  return picked;
}

/**
 * Entry point. Activation only builds the composition root and starts the engine processes in
 * the background: no model is loaded here (that happens in the engine process), so activation
 * stays fast. Failures are shown, since VS Code shows nothing for a failed activation.
 */
import * as vscode from 'vscode';
import { Loupe } from './loupe.js';
import { appendMetric } from './metrics.js';

/** When this bundle finished loading (module evaluation), for the activation figure. */
const loadedAt = performance.now();

/** The composition root while the extension is active. */
let root: Loupe | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const t0 = performance.now();
  try {
    const loupe = new Loupe(context);
    root = loupe;
    context.subscriptions.push(loupe);
    loupe.start();
    const ms = performance.now() - t0;
    loupe.log.info(`activated in ${ms.toFixed(1)} ms (bundle evaluated ${(t0 - loadedAt).toFixed(1)} ms before activate)`);
    appendMetric({ event: 'activate', activateMs: ms, sinceBundleLoadMs: performance.now() - loadedAt });
  } catch (e) {
    void vscode.window.showErrorMessage(`Loupe failed to start: ${(e as Error).message}`);
    throw e;
  }
}

/** Waits for the engine processes to finish their queues and exit; the rest goes with context.subscriptions. */
export async function deactivate(): Promise<void> {
  const loupe = root;
  root = undefined;
  await loupe?.shutdown();
}

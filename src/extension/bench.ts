/**
 * "Loupe: Run Benchmark": runs `loupe bench` in a child process (dist/bench-worker.mjs, so the
 * extension host loads no native module) with a cancellable progress notification, shows the
 * report in a webview (the report's own CSP: only its nonce'd inline scripts and styles, no
 * local resources), and keeps each run's JSON (and HTML) under the extension's global storage
 * (benchmarks/<timestamp>.json) so the next run's report compares with the last ones.
 */
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { runBenchForked } from '../adapters/bench/bench-client.js';
import { abortSignalFrom, isAbort } from './async-utils.js';
import { earlierRuns, runFileName, runSummaryMessage } from './bench-runs.js';
import type { Loupe } from './loupe.js';
import { showError } from './logger.js';
import { answerParamsFor } from './settings.js';
import { gpuChoice } from '../core/defaults.js';

/** Runs the benchmark; resolves when it is shown (or cancelled). */
export async function runBenchmark(loupe: Loupe, modeArg?: unknown): Promise<void> {
  if (loupe.blocked() === 'untrusted') {
    const pick = await vscode.window.showInformationMessage(
      'Loupe does not run the benchmark in Restricted Mode: it loads native code and the model files the settings name. Trust this workspace to run it.',
      'Manage Workspace Trust',
    );
    if (pick === 'Manage Workspace Trust') await vscode.commands.executeCommand('workbench.trust.manage');
    return;
  }
  let quick: boolean;
  if (modeArg === 'quick' || modeArg === 'full') quick = modeArg === 'quick';
  else {
    const pick = await vscode.window.showQuickPick(
      [
        { label: 'Quick', detail: 'Smaller sweeps and fewer repetitions: about a minute on a small model.', quick: true },
        {
          label: 'Full',
          detail: 'Every sweep (batch size, sequence length up to the model maximum, dimensions): several minutes.',
          quick: false,
        },
      ],
      { title: 'Loupe: Run Benchmark', placeHolder: 'How thorough? (uses the embedding model and compute settings)' },
    );
    if (!pick) return;
    quick = pick.quick;
  }
  const s = loupe.settings;
  const dir = path.join(loupe.context.globalStorageUri.fsPath, 'benchmarks');
  mkdirSync(dir, { recursive: true });
  const earlier = earlierRuns(dir);
  for (const f of earlier.skipped) loupe.log.warn(`benchmark: ${f} is not a loupe bench result; not compared`);
  const base = runFileName(new Date()).replace(/\.json$/, '');
  const jsonPath = path.join(dir, `${base}.json`);
  const reportPath = path.join(dir, `${base}.html`);
  loupe.log.info(
    `benchmark (${quick ? 'quick' : 'full'}) started; results → ${jsonPath}${earlier.files.length ? `; comparing with ${earlier.files.join(', ')}` : ''}`,
  );

  const run = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Loupe: benchmark (${quick ? 'quick' : 'full'})`, cancellable: true },
    async (progress, token) => {
      const { signal, dispose } = abortSignalFrom(token);
      let last = 0;
      try {
        return await runBenchForked(
          {
            quick,
            modelPath: s.embeddingModel || undefined,
            contexts: s.computeContexts,
            threadsPerContext: s.computeThreads,
            gpu: gpuChoice(s.computeDevice),
            jsonPath,
            reportPath,
            compareWith: earlier.files.length ? earlier.files : undefined,
            // The answer model is measured only when one is set explicitly (a bench never starts one on a guess).
            answerModel: s.answerModel || s.answerUrl ? answerParamsFor(s) : undefined,
          },
          (p) => {
            const pct = Math.max(0, Math.min(100, p.fraction * 100));
            progress.report({ message: `${p.step}${p.detail ? `: ${p.detail}` : ''}`, increment: Math.max(0, pct - last) });
            last = Math.max(last, pct);
          },
          {
            workerScript: path.join(loupe.context.extensionPath, 'dist', 'bench-worker.mjs'),
            env: { ELECTRON_RUN_AS_NODE: '1' },
            signal,
            onLog: (level, message) =>
              level === 'error'
                ? loupe.log.error(`bench: ${message}`)
                : level === 'warn'
                  ? loupe.log.warn(`bench: ${message}`)
                  : loupe.log.info(`bench: ${message}`),
          },
        );
      } catch (e) {
        if (isAbort(e) || signal.aborted) {
          loupe.log.info('benchmark cancelled');
          void vscode.window.showInformationMessage('Loupe: benchmark cancelled.');
        } else void showError(loupe.log, `Loupe: the benchmark failed: ${(e as Error).message}`);
        return undefined;
      } finally {
        dispose();
      }
    },
  );
  if (!run) return;
  showReport(run.html, run.results.startedAt);
  const current = loupe.settings.computeBatchSize;
  const msg = runSummaryMessage(run.results, earlier.files.length, current);
  loupe.log.info(`${msg} Saved ${run.jsonPath ?? jsonPath} and ${run.reportPath ?? reportPath}.`);
  const recommended = run.results.recommendations.batchSize;
  const apply = recommended !== null && recommended !== current ? `Use ${recommended}` : undefined;
  const pick = await vscode.window.showInformationMessage(msg, ...(apply ? [apply] : []), 'Reveal Saved Runs');
  if (pick === 'Reveal Saved Runs') await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(run.jsonPath ?? jsonPath));
  else if (apply && pick === apply) {
    // A user setting: the recommendation is about this machine, not this workspace. The engine
    // restarts with it (the setting's change class), as after any compute setting.
    await vscode.workspace.getConfiguration('loupe').update('compute.batchSize', recommended, vscode.ConfigurationTarget.Global);
  }
}

/** The report in a webview: scripts on for its nonce'd inline scripts (its CSP allows nothing else), no local resources. */
function showReport(html: string, startedAt: string): vscode.WebviewPanel {
  const panel = vscode.window.createWebviewPanel(
    'loupe.benchReport',
    `Loupe Benchmark ${startedAt.slice(0, 16).replace('T', ' ')}`,
    vscode.ViewColumn.Active,
    {
      enableScripts: true,
      enableCommandUris: false,
      enableForms: false,
      localResourceRoots: [],
      retainContextWhenHidden: true,
    },
  );
  panel.webview.html = html;
  return panel;
}

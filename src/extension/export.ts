/**
 * "Loupe: Export Embeddings to TensorFlow Projector": the folder's engine process writes its
 * index as vectors.tsv, metadata.tsv and projector_config.json (the engine's `exportProjector`
 * request: the extension host opens no index) into a folder the user picks; then the command
 * offers to open https://projector.tensorflow.org, where the user loads the files. Nothing is sent.
 */
import * as vscode from 'vscode';
import type { Loupe } from './loupe.js';

export const PROJECTOR_URL = 'https://projector.tensorflow.org';

export async function exportToProjector(loupe: Loupe): Promise<void> {
  const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file');
  if (!folders.length) {
    await vscode.window.showInformationMessage('Open a folder (and let Loupe index it) to export its embeddings.');
    return;
  }
  const folder =
    folders.length === 1
      ? folders[0]
      : await vscode.window.showWorkspaceFolderPick({ placeHolder: 'Export the embeddings of which folder?' });
  if (!folder) return;
  const picked = await vscode.window.showOpenDialog({
    canSelectFiles: false,
    canSelectFolders: true,
    canSelectMany: false,
    defaultUri: folder.uri,
    openLabel: 'Export here',
    title: `Loupe: folder for the Projector files of ${folder.name}`,
  });
  const out = picked?.[0];
  if (!out) return;
  const session = loupe.sessions.get(folder.uri.toString());
  if (!session || session.openError) {
    await vscode.window.showInformationMessage(
      loupe.blockedReason() ??
        `Loupe's engine for ${folder.name} is not running${session?.openError ? `: ${session.openError.message}` : ''}.`,
    );
    return;
  }
  const summary = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Loupe: exporting ${folder.name}` },
    () => session.exportProjector(out.fsPath),
  );
  const f = summary.files;
  loupe.log.info(
    `exported ${summary.rows} chunks × ${summary.dimensions} dims of ${session.root} to ${f.vectors}, ${f.metadata}, ${f.config}${summary.skipped ? ` (${summary.skipped} chunks without a vector skipped)` : ''}`,
  );
  const msg = `Exported ${summary.rows} chunks (${summary.dimensions} dimensions) of ${folder.name}: ${f.vectors}, ${f.metadata}, ${f.config}.${summary.skipped ? ` ${summary.skipped} chunks without a vector were skipped.` : ''} Load the two TSV files in the Projector (“Load”); the files stay on this machine until you do.`;
  const pick = await vscode.window.showInformationMessage(msg, 'Open Projector', 'Reveal Files');
  if (pick === 'Open Projector') await vscode.env.openExternal(vscode.Uri.parse(PROJECTOR_URL));
  else if (pick === 'Reveal Files') await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(f.vectors));
}

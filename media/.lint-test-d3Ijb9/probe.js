// @ts-check
const vscode = acquireVsCodeApi();
vscode.postMessage({ type: 'open', turnId: 't', n: '1' });

// Types of the webview globals for media/qa.js, against the shared webview protocol
// (src/extension/qa-protocol.ts). Checked by `tsc -p media` in `npm run lint`; nothing is emitted.
import type { FromWebview } from '../src/extension/qa-protocol.js';

/** The draft kept in webview state (history is the extension's). */
interface QaState {
  draft?: string;
}

/** VS Code's webview API, typed with the messages this webview may send. */
interface WebviewApi {
  postMessage(message: FromWebview): void;
  getState(): QaState | undefined;
  setState(state: QaState): void;
}

declare global {
  function acquireVsCodeApi(): WebviewApi;
}

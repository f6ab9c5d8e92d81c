// @ts-check
// The Q&A panel's script. It renders what the extension sends (see src/extension/qa-protocol.ts)
// and sends back user actions. It builds DOM nodes only (no innerHTML): answers and passages are
// untrusted text. Types: media/tsconfig.json checks this file against the protocol.
/** @typedef {import('../src/extension/qa-protocol.js').Turn} Turn */
/** @typedef {import('../src/extension/qa-protocol.js').ToWebview} ToWebview */
/** @typedef {import('../src/extension/passages.js').Passage} Passage */
(function () {
  const vscode = acquireVsCodeApi();
  const turnsEl = /** @type {HTMLElement} */ (document.getElementById('turns'));
  const form = /** @type {HTMLFormElement} */ (document.getElementById('ask'));
  const input = /** @type {HTMLTextAreaElement} */ (document.getElementById('question'));
  const stopBtn = /** @type {HTMLButtonElement} */ (document.getElementById('stop'));
  const clearBtn = /** @type {HTMLButtonElement} */ (document.getElementById('clear'));
  const sendBtn = /** @type {HTMLButtonElement} */ (document.getElementById('send'));
  /** @type {Map<string, Turn>} */
  const turns = new Map();
  /** Turn id → passages list opened (true) or closed (false) by the user. @type {Map<string, boolean>} */
  const openPassages = new Map();
  /** @type {string | null} */
  let answerModel = null;

  // Only the unsent draft lives in webview state; history is the extension's.
  const saved = vscode.getState();
  if (saved && typeof saved.draft === 'string') input.value = saved.draft;
  input.addEventListener('input', () => vscode.setState({ draft: input.value }));

  /** @param {string} tag @param {string} [cls] @param {string} [text] */
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /** Answer text with [n] turned into citation buttons. @param {HTMLElement} container @param {Turn} turn */
  function renderAnswer(container, turn) {
    container.replaceChildren();
    const parts = turn.answer.split(/(\[\d{1,3}\])/);
    for (const part of parts) {
      const m = /^\[(\d{1,3})\]$/.exec(part);
      const n = m ? Number(m[1]) : 0;
      if (m && turn.passages.some((p) => p.n === n)) {
        const b = el('button', 'cite', `[${n}]`);
        b.title = describe(/** @type {Passage} */ (turn.passages.find((p) => p.n === n)), spansRoots(turn));
        b.addEventListener('click', () => vscode.postMessage({ type: 'open', turnId: turn.id, n }));
        container.append(b);
      } else if (part) {
        container.append(document.createTextNode(part));
      }
    }
  }

  /** `path:start-end symbol`; the folder name only when a turn's passages span several folders. @param {Passage} p @param {boolean} multiRoot */
  function describe(p, multiRoot) {
    return `${multiRoot ? p.rootName + '/' : ''}${p.path}:${p.startLine}-${p.endLine}${p.symbol ? ' ' + p.symbol : ''}`;
  }

  /** @param {Turn} turn */
  function spansRoots(turn) {
    return new Set(turn.passages.map((p) => p.root)).size > 1;
  }

  /** @type {Record<Turn['status'], string>} */
  const STATUS_TEXT = {
    retrieving: 'Retrieving passages…',
    streaming: '',
    done: '',
    stopped: 'Stopped.',
    noModel: '',
    error: '',
  };

  /** @param {Turn} turn */
  function renderTurn(turn) {
    let node = document.getElementById(`turn-${turn.id}`);
    if (!node) {
      node = el('section', 'turn');
      node.id = `turn-${turn.id}`;
      turnsEl.append(node);
    }
    node.replaceChildren();
    node.dataset.status = turn.status;
    node.append(el('div', 'question', turn.question));
    const answer = el('div', 'answer');
    answer.id = `answer-${turn.id}`;
    if (turn.answer) renderAnswer(answer, turn);
    node.append(answer);
    if (turn.status === 'noModel') {
      const note = el('div', 'notice no-model');
      note.append(el('strong', '', 'No answer model configured. '), document.createTextNode(turn.note || ''));
      const b = el('button', 'link', 'Configure an answer model…');
      b.addEventListener('click', () => vscode.postMessage({ type: 'configure' }));
      note.append(' ', b);
      node.append(note);
    } else if (turn.status === 'error') {
      node.append(el('div', 'notice error', turn.note || 'Something went wrong.'));
    } else if (STATUS_TEXT[turn.status]) {
      node.append(el('div', 'notice', STATUS_TEXT[turn.status]));
    }
    if (turn.passages.length) {
      const details = /** @type {HTMLDetailsElement} */ (el('details', 'passages'));
      // Open while there is no answer to read; a user's own toggle wins over that on re-renders.
      details.open = openPassages.get(turn.id) ?? (turn.status === 'noModel' || !turn.answer);
      const summary = el('summary', '', `${turn.passages.length} retrieved passage${turn.passages.length === 1 ? '' : 's'}`);
      // A click on the summary is the user's toggle (the toggle event also fires for our own changes).
      summary.addEventListener('click', () => openPassages.set(turn.id, !details.open));
      details.append(summary);
      for (const p of turn.passages) {
        const item = el('div', 'passage');
        const head = el('button', 'passage-head', `[${p.n}] ${describe(p, spansRoots(turn))}`);
        head.title = `Open ${p.path} at line ${p.startLine} (score ${p.score.toFixed(2)})`;
        head.addEventListener('click', () => vscode.postMessage({ type: 'open', turnId: turn.id, n: p.n }));
        item.append(head, el('pre', 'code', p.text));
        details.append(item);
      }
      node.append(details);
    } else if (turn.status !== 'retrieving' && turn.status !== 'error') {
      node.append(el('div', 'notice', 'No indexed passage matched.'));
    }
    turns.set(turn.id, turn);
    // The question at the top: the answer or the no-model notice follows it, then the passages.
    node.scrollIntoView({ block: 'start' });
  }

  /** @param {boolean} busy */
  function setBusy(busy) {
    stopBtn.hidden = !busy;
    sendBtn.disabled = busy;
  }

  window.addEventListener('message', (event) => {
    const m = /** @type {ToWebview} */ (event.data);
    if (!m || typeof m !== 'object') return;
    switch (m.type) {
      case 'init':
        answerModel = m.answerModel;
        turnsEl.replaceChildren();
        turns.clear();
        if (!m.turns.length) {
          const empty = el('div', 'empty', answerModel ? `Ask a question about this codebase. Answers come from ${answerModel}, citing the passages as [n].` : 'Ask a question about this codebase. Loupe retrieves the most relevant passages; with an answer model configured it also writes an answer citing them.');
          turnsEl.append(empty);
        }
        for (const t of m.turns) renderTurn(t);
        setBusy(m.busy);
        break;
      case 'turn':
        turnsEl.querySelector('.empty')?.remove();
        renderTurn(m.turn);
        break;
      case 'token': {
        const t = turns.get(m.id);
        if (!t) return;
        t.answer += m.text;
        const a = document.getElementById(`answer-${m.id}`);
        if (a) renderAnswer(a, t);
        break;
      }
      case 'busy':
        setBusy(m.busy);
        break;
      case 'focusInput':
        if (m.question) input.value = m.question;
        input.focus();
        break;
    }
  });

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = input.value.trim();
    if (!q) return;
    vscode.postMessage({ type: 'ask', question: q });
    input.value = '';
    vscode.setState({ draft: '' });
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  stopBtn.addEventListener('click', () => vscode.postMessage({ type: 'stop' }));
  clearBtn.addEventListener('click', () => vscode.postMessage({ type: 'clear' }));
  vscode.postMessage({ type: 'ready' });
})();

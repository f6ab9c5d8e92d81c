// @ts-check
/* global document, window, requestAnimationFrame, acquireVsCodeApi */
// The Ask panel's script, bundled with the Markdown renderer by esbuild into dist/webview/qa.js.
// It renders what the extension sends (see src/extension/qa-protocol.ts) and sends back user
// actions. Passages and questions are built as DOM text nodes; answers are Markdown rendered by
// renderMarkdown (markdown.ts: raw HTML off, safe links only, highlighted code), the one place
// that assigns innerHTML.
import { renderMarkdown } from './markdown.js';

(function () {
  const vscode = acquireVsCodeApi();
  const turnsEl = /** @type {HTMLElement} */ (document.getElementById('turns'));
  const form = /** @type {HTMLFormElement} */ (document.getElementById('ask'));
  const input = /** @type {HTMLTextAreaElement} */ (document.getElementById('question'));
  const stopBtn = /** @type {HTMLButtonElement} */ (document.getElementById('stop'));
  const clearBtn = /** @type {HTMLButtonElement} */ (document.getElementById('clear'));
  const sendBtn = /** @type {HTMLButtonElement} */ (document.getElementById('send'));
  /** @type {Map<string, any>} */
  const turns = new Map();
  /** Turn id → passages list opened (true) or closed (false) by the user. */
  const openPassages = new Map();
  let answerModel = null;

  // Only the unsent draft lives in webview state; history is the extension's.
  const saved = vscode.getState();
  if (saved && typeof saved.draft === 'string') input.value = saved.draft;
  input.addEventListener('input', () => vscode.setState({ draft: input.value }));

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /** The answer's Markdown as HTML, with [n] as citation buttons (clicks handled by delegation below). */
  function renderAnswer(container, turn) {
    const multi = spansRoots(turn);
    container.innerHTML = renderMarkdown(turn.answer, {
      citation: (n) => {
        const p = turn.passages.find((x) => x.n === n);
        return p ? describe(p, multi) : undefined;
      },
    });
    container.dataset.turnId = turn.id;
  }

  // One listener for every citation button: rendered HTML carries no handlers of its own.
  turnsEl.addEventListener('click', (e) => {
    const target = /** @type {HTMLElement} */ (e.target);
    const cite = target.closest ? target.closest('button.cite') : null;
    const answer = cite ? cite.closest('.answer') : null;
    if (!cite || !answer) return;
    const n = Number(cite.getAttribute('data-n'));
    const turnId = /** @type {HTMLElement} */ (answer).dataset.turnId;
    if (turnId && n > 0) vscode.postMessage({ type: 'open', turnId, n });
  });

  /** Streamed tokens re-render an answer at most once a frame. */
  const pendingRender = new Set();
  function scheduleRender(id) {
    if (pendingRender.has(id)) return;
    pendingRender.add(id);
    requestAnimationFrame(() => {
      pendingRender.delete(id);
      const t = turns.get(id);
      const a = document.getElementById(`answer-${id}`);
      if (t && a) renderAnswer(a, t);
    });
  }

  /** `path:start-end symbol`; the folder name only when a turn's passages span several folders. */
  function describe(p, multiRoot) {
    return `${multiRoot ? p.rootName + '/' : ''}${p.path}:${p.startLine}-${p.endLine}${p.symbol ? ' ' + p.symbol : ''}`;
  }

  function spansRoots(turn) {
    return new Set(turn.passages.map((p) => p.root)).size > 1;
  }

  const STATUS_TEXT = {
    retrieving: 'Retrieving passages…',
    streaming: '',
    done: '',
    stopped: 'Stopped.',
    noModel: '',
    error: '',
  };

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
      const b = el('button', 'link', 'Choose Answer Model…');
      b.addEventListener('click', () => vscode.postMessage({ type: 'configure' }));
      note.append(' ', b);
      node.append(note);
    } else if (turn.status === 'error') {
      node.append(el('div', 'notice error', turn.note || 'Something went wrong.'));
    } else if (STATUS_TEXT[turn.status]) {
      node.append(el('div', 'notice', STATUS_TEXT[turn.status]));
    }
    if (turn.passages.length) {
      const details = el('details', 'passages');
      // Open while there is no answer to read; a user's own toggle wins over that on re-renders.
      details.open = openPassages.has(turn.id) ? openPassages.get(turn.id) : turn.status === 'noModel' || !turn.answer;
      const summary = el('summary', '', `${turn.passages.length} retrieved passage${turn.passages.length === 1 ? '' : 's'}`);
      // A click on the summary is the user's toggle (the toggle event also fires for our own changes).
      summary.addEventListener('click', () => openPassages.set(turn.id, !details.open));
      details.append(summary);
      for (const p of turn.passages) {
        const item = el('div', 'passage');
        const head = el('button', 'passage-head', `[${p.n}] ${describe(p, spansRoots(turn))}`);
        head.title = `${describe(p, spansRoots(turn))} · score ${p.score.toFixed(2)} · click to open`;
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

  function setBusy(busy) {
    stopBtn.hidden = !busy;
    sendBtn.disabled = busy;
  }

  window.addEventListener('message', (event) => {
    const m = event.data;
    if (!m || typeof m !== 'object') return;
    switch (m.type) {
      case 'init':
        answerModel = m.answerModel;
        turnsEl.replaceChildren();
        turns.clear();
        if (!m.turns.length) {
          const empty = el(
            'div',
            'empty',
            answerModel
              ? `Ask a question about this codebase. Answers come from ${answerModel}, citing the passages as [n].`
              : 'Ask a question about this codebase. Loupe retrieves the most relevant passages; with an answer model it also writes an answer citing them.',
          );
          if (!answerModel) {
            // Welcome content for a first run without an answer model: how to get one.
            const how = el(
              'p',
              'how',
              'Answer models run on this machine too: a local Ollama, LM Studio or llama-server, or a small GGUF chat model such as Qwen2.5-Coder-1.5B-Instruct. ',
            );
            const b = el('button', 'link', 'Choose Answer Model…');
            b.addEventListener('click', () => vscode.postMessage({ type: 'configure' }));
            how.append(b);
            empty.append(how);
          }
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
        scheduleRender(m.id);
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

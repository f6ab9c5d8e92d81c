/**
 * Renders an answer's Markdown to HTML for the Ask panel. The model's output is untrusted:
 * markdown-it runs with raw HTML disabled (tags in the text come out escaped), links are kept only
 * for http(s) and mailto (anything else, `javascript:` included, renders as plain text), images
 * render as their alt text (the panel's CSP loads none), and code is highlighted by highlight.js,
 * which escapes what it highlights. Citations `[n]` become buttons. The same function runs in the
 * webview (bundled by esbuild into dist/webview/qa.js) and in the unit tests.
 */
import MarkdownIt from 'markdown-it';
import hljs from 'highlight.js/lib/common';

/** What the renderer needs to know about citations. */
export interface RenderEnv {
  /** The tooltip of citation `n` (its path and lines), or undefined when there is no passage `n`. */
  citation(n: number): string | undefined;
}

const SAFE_LINK = /^(https?:|mailto:)/i;

function create(): MarkdownIt {
  const md: MarkdownIt = new MarkdownIt({
    html: false,
    linkify: false,
    typographer: false,
    highlight: (code, lang) => {
      const language = lang && hljs.getLanguage(lang) ? lang : undefined;
      try {
        const html = language ? hljs.highlight(code, { language, ignoreIllegals: true }).value : hljs.highlightAuto(code).value;
        return `<pre class="code-block"><code class="hljs${language ? ` language-${md.utils.escapeHtml(language)}` : ''}">${html}</code></pre>`;
      } catch {
        return '';
      }
    },
  });
  // Links only where the webview can safely send the user: the web and e-mail.
  md.validateLink = (url) => SAFE_LINK.test(url.trim());
  // Images load nothing (the panel's CSP allows none from the web): their alt text stands in.
  md.renderer.rules.image = (tokens, idx) => md.utils.escapeHtml(tokens[idx]!.content);
  // [n] citations, before markdown-it tries them as reference links.
  md.inline.ruler.before('link', 'citation', (state, silent) => {
    if (state.src.charCodeAt(state.pos) !== 0x5b /* [ */) return false;
    const m = /^\[(\d{1,3})\](?![([])/.exec(state.src.slice(state.pos, state.posMax));
    if (!m) return false;
    if (!silent) {
      const t = state.push('citation', '', 0);
      t.meta = Number(m[1]);
      t.content = m[0];
    }
    state.pos += m[0].length;
    return true;
  });
  md.renderer.rules.citation = (tokens, idx, _o, env) => {
    const t = tokens[idx]!;
    const n = t.meta as number;
    const title = (env as RenderEnv | undefined)?.citation(n);
    if (title === undefined) return md.utils.escapeHtml(t.content);
    return `<button type="button" class="cite" data-n="${n}" title="${md.utils.escapeHtml(title)}">[${n}]</button>`;
  };
  // External links open outside the panel (VS Code routes http links from webviews to the browser).
  md.renderer.rules.link_open = (tokens, idx, options, _env, self) => {
    const title = md.utils.escapeHtml(tokens[idx]!.attrGet('href') ?? '');
    return (self as { renderToken(t: unknown[], i: number, o: unknown): string })
      .renderToken(tokens, idx, options)
      .replace(/^<a /, `<a title="${title}" `);
  };
  return md;
}

let instance: MarkdownIt | undefined;

/** The answer `text` as HTML safe to assign to innerHTML in the Ask panel. */
export function renderMarkdown(text: string, env: RenderEnv): string {
  instance ??= create();
  return instance.render(text, env);
}

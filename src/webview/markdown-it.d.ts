// markdown-it 14 ships no type declarations; this is the part Loupe uses.
declare module 'markdown-it' {
  interface Token {
    type: string;
    tag: string;
    content: string;
    meta: unknown;
    info: string;
    attrGet(name: string): string | null;
  }
  interface InlineState {
    src: string;
    pos: number;
    posMax: number;
    push(type: string, tag: string, nesting: number): Token;
  }
  interface Ruler<R> {
    before(beforeName: string, ruleName: string, fn: R): void;
  }
  type RenderRule = (tokens: Token[], idx: number, options: unknown, env: unknown, self: unknown) => string;
  interface Options {
    html?: boolean;
    linkify?: boolean;
    typographer?: boolean;
    breaks?: boolean;
    highlight?: (code: string, lang: string, attrs: string) => string;
  }
  class MarkdownIt {
    constructor(options?: Options);
    inline: { ruler: Ruler<(state: InlineState, silent: boolean) => boolean> };
    renderer: { rules: Record<string, RenderRule | undefined> };
    utils: { escapeHtml(s: string): string };
    validateLink: (url: string) => boolean;
    disable(rules: string | string[]): this;
    render(src: string, env?: unknown): string;
  }
  export default MarkdownIt;
}

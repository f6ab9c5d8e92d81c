/**
 * ChunkerPort on web-tree-sitter: parses a file, finds its named definitions with one query per
 * language, and hands that outline to the pure chunking logic in src/core/chunking.ts.
 * Grammars load lazily, the first time a file of their language is seen.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Language, Parser, Query, type Node, type Tree } from 'web-tree-sitter';
import {
  CHUNKING_REVISION,
  chunkLineWindows,
  chunkOutline,
  isMinified,
  resolveChunkingOptions,
  type ChunkingOptions,
  type CutCost,
  type OutlineDef,
} from '../core/chunking.js';
import { isMarkdownPath, languageForPath, type CodeLanguage } from '../core/languages.js';
import { silentLogger, type Chunk, type ChunkerPort, type Logger } from '../core/types.js';

/** Options of the tree-sitter chunker; chunk-size tunables are those of `ChunkingOptions`. */
export interface TreeSitterChunkerOptions extends Partial<ChunkingOptions> {
  /** Folder holding `tree-sitter-<lang>.wasm` for every language (e.g. a bundle's `dist/`). */
  grammarDir?: string;
  /** Path of web-tree-sitter's own `tree-sitter.wasm`. */
  webTreeSitterWasm?: string;
  /** Files longer than this (characters) are not parsed but cut into line windows. */
  maxParseChars?: number;
  /** Files with more lines than this are not parsed but cut into line windows (default 50,000). */
  maxParseLines?: number;
  /**
   * Time budget of one file's parse and outline query, in ms (default 5000): past it the parse is
   * cancelled and the file cut into line windows, so one pathological file cannot dominate a run.
   */
  parseTimeoutMs?: number;
  logger?: Logger;
}

/** Grammar wasm file per language. */
export const GRAMMAR_FILE: Record<CodeLanguage, string> = {
  typescript: 'tree-sitter-typescript.wasm',
  tsx: 'tree-sitter-tsx.wasm',
  javascript: 'tree-sitter-javascript.wasm',
  python: 'tree-sitter-python.wasm',
  go: 'tree-sitter-go.wasm',
  rust: 'tree-sitter-rust.wasm',
  java: 'tree-sitter-java.wasm',
  c: 'tree-sitter-c.wasm',
  cpp: 'tree-sitter-cpp.wasm',
  csharp: 'tree-sitter-c-sharp.wasm',
  ruby: 'tree-sitter-ruby.wasm',
  php: 'tree-sitter-php.wasm',
};

const TS_PATTERNS = [
  '(function_declaration name: (_) @name) @def',
  '(generator_function_declaration name: (_) @name) @def',
  '(class_declaration name: (_) @name) @def',
  '(abstract_class_declaration name: (_) @name) @def',
  '(method_definition name: (_) @name) @def',
  '(interface_declaration name: (_) @name) @def',
  '(enum_declaration name: (_) @name) @def',
  '(type_alias_declaration name: (_) @name) @def',
  '(internal_module name: (_) @name) @def',
  '(lexical_declaration (variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression) (class)])) @def',
  '(variable_declaration (variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)])) @def',
  '(public_field_definition name: (_) @name value: [(arrow_function) (function_expression)]) @def',
  '(expression_statement (assignment_expression left: (member_expression) @name right: [(arrow_function) (function_expression) (class)])) @def',
];

const JS_PATTERNS = [
  '(function_declaration name: (_) @name) @def',
  '(generator_function_declaration name: (_) @name) @def',
  '(class_declaration name: (_) @name) @def',
  '(method_definition name: (_) @name) @def',
  '(lexical_declaration (variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression) (class)])) @def',
  '(variable_declaration (variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)])) @def',
  '(field_definition property: (_) @name value: [(arrow_function) (function_expression)]) @def',
  // CommonJS-style definitions: `res.sendFile = function sendFile() {}`, `Foo.prototype.bar = () => {}`.
  '(expression_statement (assignment_expression left: (member_expression) @name right: [(arrow_function) (function_expression) (class)])) @def',
];

const C_PATTERNS = [
  // The name of a function sits deep in its declarator; see nameOf.
  '(function_definition) @def',
  '(struct_specifier name: (_) @name body: (_)) @def',
  '(union_specifier name: (_) @name body: (_)) @def',
  '(enum_specifier name: (_) @name body: (_)) @def',
  '(type_definition type: [(struct_specifier body: (_)) (union_specifier body: (_)) (enum_specifier body: (_))] declarator: (_) @name) @def',
];

/** Query patterns capturing each definition as `@def`, its name as `@name` (Go receivers as `@receiver`). */
const PATTERNS: Record<CodeLanguage, string[]> = {
  typescript: TS_PATTERNS,
  tsx: TS_PATTERNS,
  javascript: JS_PATTERNS,
  python: ['(function_definition name: (identifier) @name) @def', '(class_definition name: (identifier) @name) @def'],
  go: [
    '(function_declaration name: (identifier) @name) @def',
    '(method_declaration receiver: (parameter_list (parameter_declaration type: (_) @receiver)) name: (field_identifier) @name) @def',
    '(type_declaration (type_spec name: (type_identifier) @name)) @def',
  ],
  rust: [
    '(function_item name: (identifier) @name) @def',
    '(struct_item name: (type_identifier) @name) @def',
    '(enum_item name: (type_identifier) @name) @def',
    '(union_item name: (type_identifier) @name) @def',
    '(trait_item name: (type_identifier) @name) @def',
    '(impl_item type: (_) @name) @def',
    '(mod_item name: (identifier) @name body: (_)) @def',
    '(macro_definition name: (identifier) @name) @def',
  ],
  java: [
    '(class_declaration name: (identifier) @name) @def',
    '(interface_declaration name: (identifier) @name) @def',
    '(enum_declaration name: (identifier) @name) @def',
    '(record_declaration name: (identifier) @name) @def',
    '(annotation_type_declaration name: (identifier) @name) @def',
    '(method_declaration name: (identifier) @name) @def',
    '(constructor_declaration name: (identifier) @name) @def',
  ],
  c: C_PATTERNS,
  cpp: [...C_PATTERNS, '(class_specifier name: (_) @name body: (_)) @def'],
  csharp: [
    '(class_declaration name: (identifier) @name) @def',
    '(struct_declaration name: (identifier) @name) @def',
    '(interface_declaration name: (identifier) @name) @def',
    '(enum_declaration name: (identifier) @name) @def',
    '(record_declaration name: (identifier) @name) @def',
    '(method_declaration name: (identifier) @name) @def',
    '(constructor_declaration name: (identifier) @name) @def',
    '(property_declaration name: (identifier) @name) @def',
  ],
  ruby: [
    '(method name: (_) @name) @def',
    '(singleton_method name: (_) @name) @def',
    '(class name: (_) @name) @def',
    '(module name: (_) @name) @def',
  ],
  php: [
    '(function_definition name: (name) @name) @def',
    '(class_declaration name: (name) @name) @def',
    '(interface_declaration name: (name) @name) @def',
    '(trait_declaration name: (name) @name) @def',
    '(enum_declaration name: (name) @name) @def',
    '(method_declaration name: (name) @name) @def',
  ],
};

/**
 * Extra captures for every language: `@wrapper` nodes wrap a definition without changing what it
 * is (the chunk covers the wrapper); `@leading` nodes just above a definition belong to it (doc
 * comments, Rust attributes). Captured by the query rather than found with `node.parent` /
 * `previousSibling`, which web-tree-sitter computes by walking from the root: quadratic on
 * files with thousands of top-level nodes.
 */
const COMMON_PATTERNS = [
  '(export_statement) @wrapper',
  '(decorated_definition) @wrapper',
  '(template_declaration) @wrapper',
  '(ambient_declaration) @wrapper',
  '(comment) @leading',
  '(line_comment) @leading',
  '(block_comment) @leading',
  '(attribute_item) @leading',
];

/** Names longer than this are cut: a symbol is a label, not a signature. */
const MAX_NAME = 80;

interface Grammar {
  parser: Parser;
  query: Query;
}

/** A definition found by the query, before nesting. */
interface RawDef {
  node: Node;
  startIndex: number;
  endIndex: number;
  own: string[];
}

let initPromise: Promise<void> | null = null;

/** Loads web-tree-sitter's runtime once per process (it is module-global). */
function initRuntime(wasmPath: string | undefined): Promise<void> {
  initPromise ??= Parser.init(wasmPath ? { locateFile: () => wasmPath } : undefined).catch((err: unknown) => {
    initPromise = null;
    throw err;
  });
  return initPromise;
}

/** 1-based first line of a node. */
function firstLine(n: Node): number {
  return n.startPosition.row + 1;
}

/** 1-based last line of a node (a node ending at column 0 ends on the line before). */
function lastLine(n: Node): number {
  const end = n.endPosition;
  return end.column === 0 && end.row > n.startPosition.row ? end.row : end.row + 1;
}

/** A symbol segment list from a name's source text: `Foo<T>` → Foo, `Foo::bar` → Foo, bar. */
function cleanName(text: string): string[] {
  let t = text.replace(/\s+/g, '');
  let prev = '';
  while (prev !== t) {
    prev = t;
    t = t.replace(/<[^<>]*>/g, '').replace(/\[[^[\]]*\]/g, '');
  }
  t = t.replace(/^[*&]+/, '').replace(/^'\w+/, '');
  const parts = t
    .split(/::|\\/)
    .filter(Boolean)
    .map((p) => (p.length > MAX_NAME ? p.slice(0, MAX_NAME) : p));
  return parts.length ? parts : [text.slice(0, MAX_NAME)];
}

/** The declared name of a C/C++ function: follow `declarator` fields down to the function declarator. */
function functionName(def: Node): string | null {
  let d: Node | null = def.childForFieldName('declarator');
  for (let i = 0; d && i < 8; i++) {
    if (d.type === 'function_declarator') return d.childForFieldName('declarator')?.text ?? null;
    d = d.childForFieldName('declarator');
  }
  return null;
}

/** Files with more lines than this are cut into line windows without parsing. */
export const DEFAULT_MAX_PARSE_LINES = 50_000;

/** Whether `text` has more than `max` lines (stops counting once it knows). */
function lineCountOver(text: string, max: number): boolean {
  let lines = 1;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) if (++lines > max) return true;
  return false;
}

/** Finds a default grammar file: @vscode/tree-sitter-wasm, else our vendored native/grammars. */
export function defaultGrammarPath(file: string): string {
  const req = createRequire(import.meta.url);
  const vscodeDir = path.join(path.dirname(req.resolve('@vscode/tree-sitter-wasm/package.json')), 'wasm');
  const fromVscode = path.join(vscodeDir, file);
  if (existsSync(fromVscode)) return fromVscode;
  // Walk up from this module (src/adapters or out/src/adapters) to the folder holding native/.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'native', 'grammars', file);
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error(`Grammar ${file} not found in @vscode/tree-sitter-wasm or native/grammars; pass grammarDir.`);
}

/** Splits source files into syntax-aware chunks with web-tree-sitter. */
export class TreeSitterChunker implements ChunkerPort {
  private readonly options: ChunkingOptions;
  private readonly grammars = new Map<CodeLanguage, Promise<Grammar>>();
  private readonly loaded: Grammar[] = [];
  private readonly maxParseChars: number;
  private readonly maxParseLines: number;
  private readonly parseTimeoutMs: number;
  private readonly logger: Logger;
  readonly version: string;

  constructor(private readonly config: TreeSitterChunkerOptions = {}) {
    this.options = resolveChunkingOptions(config);
    this.maxParseChars = config.maxParseChars ?? 2_000_000;
    this.maxParseLines = config.maxParseLines ?? DEFAULT_MAX_PARSE_LINES;
    this.parseTimeoutMs = config.parseTimeoutMs ?? 5000;
    this.logger = config.logger ?? silentLogger;
    // The rules that decide a file's chunks: the core algorithm's revision, the options and the
    // grammar queries. Changing any of them re-chunks indexed files at the next run.
    this.version = createHash('sha256')
      .update(
        JSON.stringify([
          CHUNKING_REVISION,
          this.options,
          this.maxParseChars,
          PATTERNS,
          COMMON_PATTERNS,
          // Only a non-default line budget changes the version (the default came later: no re-chunk for it).
          ...(this.maxParseLines !== DEFAULT_MAX_PARSE_LINES ? [this.maxParseLines] : []),
        ]),
      )
      .digest('hex')
      .slice(0, 16);
  }

  /** Language id for a relative path, or `text` when no grammar applies. */
  languageFor(relPath: string): string {
    return languageForPath(relPath);
  }

  /** Chunks of one file; falls back to line windows on unknown languages, minified text or any parse failure. */
  async chunkFile(relPath: string, text: string): Promise<Chunk[]> {
    const language = languageForPath(relPath);
    if (language === 'text') return chunkLineWindows(relPath, 'text', text, this.options, isMarkdownPath(relPath));
    if (text.length > this.maxParseChars || isMinified(text, this.options.minifiedLineChars) || lineCountOver(text, this.maxParseLines)) {
      return chunkLineWindows(relPath, language, text, this.options);
    }
    let grammar: Grammar;
    try {
      grammar = await this.grammar(language);
    } catch (err) {
      this.logger.warn(`Chunker: no ${language} grammar (${String(err)}); using line windows for ${relPath}.`);
      return chunkLineWindows(relPath, language, text, this.options);
    }
    let tree: Tree | null = null;
    try {
      const deadline = performance.now() + this.parseTimeoutMs;
      const overdue = (): boolean => performance.now() > deadline;
      tree = grammar.parser.parse(text, null, { progressCallback: overdue as (s: unknown) => void });
      if (!tree) {
        // A cancelled parse resumes on the next call unless the parser is reset.
        grammar.parser.reset();
        this.logger.warn(`Chunker: parsing ${relPath} took over ${this.parseTimeoutMs} ms; using line windows.`);
        return chunkLineWindows(relPath, language, text, this.options);
      }
      const lineStarts = lineStartsOf(text);
      const defs = this.outline(tree, grammar.query, text, lineStarts, overdue);
      if (overdue()) {
        this.logger.warn(`Chunker: outlining ${relPath} took over ${this.parseTimeoutMs} ms; using line windows.`);
        return chunkLineWindows(relPath, language, text, this.options);
      }
      return chunkOutline(relPath, language, text, defs, this.options, cutCost(tree, text, lineStarts));
    } catch (err) {
      this.logger.warn(`Chunker: parsing ${relPath} failed (${String(err)}); using line windows.`);
      return chunkLineWindows(relPath, language, text, this.options);
    } finally {
      // The wasm heap only grows: every tree must be freed.
      tree?.delete();
    }
  }

  /** Deletes parsers and queries; a later chunkFile loads them again. */
  dispose(): void {
    for (const g of this.loaded) {
      g.query.delete();
      g.parser.delete();
    }
    this.loaded.length = 0;
    this.grammars.clear();
  }

  private grammar(language: CodeLanguage): Promise<Grammar> {
    let g = this.grammars.get(language);
    if (!g) {
      g = this.loadGrammar(language);
      g.catch(() => this.grammars.delete(language));
      this.grammars.set(language, g);
    }
    return g;
  }

  private async loadGrammar(language: CodeLanguage): Promise<Grammar> {
    await initRuntime(this.config.webTreeSitterWasm ?? createRequire(import.meta.url).resolve('web-tree-sitter/tree-sitter.wasm'));
    const file = GRAMMAR_FILE[language];
    const wasm = this.config.grammarDir ? path.join(this.config.grammarDir, file) : defaultGrammarPath(file);
    const lang = await Language.load(wasm);
    const parser = new Parser();
    parser.setLanguage(lang);
    const grammar = { parser, query: this.buildQuery(lang, language) };
    this.loaded.push(grammar);
    return grammar;
  }

  /**
   * One query of all patterns the grammar knows: a pattern naming a node type or field this
   * grammar lacks (another language's wrapper, a node renamed across versions) is dropped
   * up front, since building queries one by one to find out is slow.
   */
  private buildQuery(lang: Language, language: CodeLanguage): Query {
    const known = (p: string) =>
      [...p.matchAll(/\((\w+)/g)].every((m) => m[1] === '_' || lang.idForNodeType(m[1], true) !== null) &&
      [...p.matchAll(/(\w+):/g)].every((m) => lang.fieldIdForName(m[1]) !== null);
    const patterns = [...PATTERNS[language], ...COMMON_PATTERNS].filter(known);
    try {
      return new Query(lang, patterns.join('\n'));
    } catch {
      const ok = patterns.filter((p) => {
        try {
          new Query(lang, p).delete();
          return true;
        } catch {
          this.logger.debug(`Chunker: ${language} grammar rejects pattern ${p}`);
          return false;
        }
      });
      return new Query(lang, ok.join('\n'));
    }
  }

  /** Named definitions of a tree, nested by containment, with line ranges including leading comments. */
  private outline(tree: Tree, query: Query, text: string, lineStarts: number[], overdue: () => boolean = () => false): OutlineDef[] {
    const raw: RawDef[] = [];
    const seen = new Set<number>();
    const wrappersByEnd = new Map<number, Node[]>();
    /** Last line of a leading comment → its first line, and whether it is a doc block (`/**`). */
    const leadingByLastLine = new Map<number, { first: number; doc: boolean }>();
    for (const m of query.matches(tree.rootNode, { progressCallback: overdue as (s: unknown) => void })) {
      let def: Node | null = null;
      let name: Node | null = null;
      let receiver: Node | null = null;
      for (const c of m.captures) {
        if (c.name === 'def') def = c.node;
        else if (c.name === 'name') name = c.node;
        else if (c.name === 'receiver') receiver = c.node;
        else if (c.name === 'wrapper') {
          const list = wrappersByEnd.get(c.node.endIndex);
          if (list) list.push(c.node);
          else wrappersByEnd.set(c.node.endIndex, [c.node]);
        } else if (c.name === 'leading') {
          const n = c.node;
          // Only comments that start their line; one trailing code belongs to that code.
          if (text.slice(lineStarts[n.startPosition.row], n.startIndex).trim() !== '') continue;
          const last = lastLine(n);
          const first = firstLine(n);
          const prev = leadingByLastLine.get(last);
          leadingByLastLine.set(last, {
            first: Math.min(first, prev?.first ?? first),
            doc: (prev?.doc ?? false) || n.text.startsWith('/**'),
          });
        }
      }
      if (!def || seen.has(def.id)) continue;
      seen.add(def.id);
      const nameText = name ? name.text : def.type === 'function_definition' ? functionName(def) : null;
      if (!nameText) continue;
      const own = receiver ? [...cleanName(receiver.text), ...cleanName(nameText)] : cleanName(nameText);
      raw.push({ node: def, startIndex: def.startIndex, endIndex: def.endIndex, own });
    }
    for (const r of raw) {
      r.node = unwrap(r.node, wrappersByEnd);
      r.startIndex = r.node.startIndex;
    }
    raw.sort((a, b) => a.startIndex - b.startIndex || b.endIndex - a.endIndex);

    /** The first line of the run of leading comments that ends just above `line` (or `line`). */
    const withCommentsAbove = (line: number): number => {
      for (let above = leadingByLastLine.get(line - 1); above !== undefined; above = leadingByLastLine.get(line - 1)) line = above.first;
      return line;
    };
    const roots: OutlineDef[] = [];
    const stack: { raw: RawDef; def: OutlineDef }[] = [];
    for (const r of raw) {
      while (stack.length && stack[stack.length - 1].raw.endIndex < r.endIndex) stack.pop();
      const top = stack[stack.length - 1];
      // The same range reached by two patterns: keep the first.
      if (top && top.raw.startIndex === r.startIndex && top.raw.endIndex === r.endIndex) continue;
      const parent = top?.def;
      let startLine = withCommentsAbove(firstLine(r.node));
      // A doc block separated from its definition by one blank line (a common JSDoc layout) still
      // documents it.
      const docAbove = leadingByLastLine.get(startLine - 2);
      if (docAbove?.doc && startLine - 2 >= 1 && isBlankLine(text, lineStarts, startLine - 2))
        startLine = withCommentsAbove(docAbove.first);
      const def: OutlineDef = { path: [...(parent?.path ?? []), ...r.own], startLine, endLine: lastLine(r.node), children: [] };
      (parent ? parent.children : roots).push(def);
      stack.push({ raw: r, def });
    }
    return roots.map(collapse);
  }
}

/** Whether the line at 0-based row `row` holds only whitespace. */
function isBlankLine(text: string, lineStarts: number[], row: number): boolean {
  const end = row + 1 < lineStarts.length ? lineStarts[row + 1] : text.length;
  return text.slice(lineStarts[row], end).trim() === '';
}

/** The outermost wrapper (export, decorators, template) whose direct child chain leads to `node`. */
function unwrap(node: Node, wrappersByEnd: Map<number, Node[]>): Node {
  for (let depth = 0; depth < 4; depth++) {
    const outer = wrappersByEnd
      .get(node.endIndex)
      ?.find((w) => w.startIndex <= node.startIndex && w.id !== node.id && w.namedChildren.some((c) => c?.id === node.id));
    if (!outer) return node;
    node = outer;
  }
  return node;
}

/** A definition whose only child spans the same lines (typedef struct, wrapped class) keeps one name. */
function collapse(d: OutlineDef): OutlineDef {
  const children = d.children.map(collapse);
  if (children.length === 1 && children[0].startLine === d.startLine && children[0].endLine === d.endLine) {
    return { ...d, children: children[0].children };
  }
  return { ...d, children };
}

/** Index of the first character of each line. */
function lineStartsOf(text: string): number[] {
  const starts: number[] = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/**
 * Cut cost from the syntax tree: the depth of the outermost named node that starts at the
 * line's first non-blank character; Infinity when the line continues an expression or
 * starts with a closing token. Descends from the root (`.parent` would walk from the root on
 * every call).
 */
function cutCost(tree: Tree, text: string, lineStarts: number[]): CutCost {
  const root = tree.rootNode;
  return (line) => {
    let at = lineStarts[line - 1];
    if (at === undefined) return Infinity;
    while (at < text.length && (text[at] === ' ' || text[at] === '\t')) at++;
    let node: Node | null = root;
    for (let depth = 0; node && depth < 256; depth++) {
      if (node.startIndex === at) return node.isNamed ? depth : Infinity;
      if (node.startIndex > at) return Infinity;
      node = node.firstChildForIndex(at);
    }
    return Infinity;
  };
}

/**
 * Mining (query, definition) pairs the CodeSearchNet way, for the mined benchmark set (mine.ts):
 * each documented function or method of a source file gives one candidate pair, the first
 * sentence of its doc comment as the query and the definition's line range as the target. The
 * file is returned with its doc comments removed, so the query text is not in the indexed copy.
 *
 * Parsing is web-tree-sitter with the grammars the chunker uses, but the outline here is this
 * module's own (every function and method, whatever its size) so that targets do not depend on
 * how Loupe happens to chunk.
 *
 * What is removed from the indexed copy:
 * - every comment block directly above a definition (functions, methods, classes, types …; for
 *   a `/**` block, also across one blank line, as the chunker joins it), whatever its style;
 * - every doc-style comment anywhere (`/**`, `/*!`, `///`, `//!`), e.g. on fields and interface members;
 * - every Python docstring (module, class, function); a body left empty gets `pass`.
 * A comment is removed only when it owns its lines (nothing but blanks around it on them); a
 * definition whose doc comment could not be removed is not mined.
 */
import { createHash } from 'node:crypto';
import { Language, Parser, Query, type Node } from 'web-tree-sitter';
import { createRequire } from 'node:module';
import { defaultGrammarPath, GRAMMAR_FILE } from '../../../src/adapters/treesitter-chunker.js';
import type { CodeLanguage } from '../../../src/core/languages.js';
import { splitIdentifier } from '../../../src/core/lexical/index.js';

/** A mined candidate: a documented definition of the stripped file. */
export interface MinedDef {
  /** The definition's own name (last component). */
  name: string;
  /** 1-based inclusive lines in the stripped file (decorators, export and template wrappers included). */
  startLine: number;
  endLine: number;
  /** The doc comment as written (markers included), or null when the definition has none that could be removed. */
  doc: string | null;
}

export interface MinedFile {
  /** The file with its doc comments removed. */
  stripped: string;
  /** Every function and method, documented or not. */
  defs: MinedDef[];
}

const JSDOC_STYLE = new Set<CodeLanguage>(['javascript', 'typescript', 'tsx', 'java', 'php', 'csharp']);

const JS_TARGETS = [
  '(function_declaration name: (identifier) @name) @def',
  '(generator_function_declaration name: (identifier) @name) @def',
  '(method_definition name: (_) @name) @def',
  '(lexical_declaration (variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)])) @def',
  '(variable_declaration (variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)])) @def',
  '(expression_statement (assignment_expression left: (member_expression property: (_) @name) right: [(arrow_function) (function_expression)])) @def',
  '(pair key: (_) @name value: [(arrow_function) (function_expression)]) @def',
  '(class_declaration) @other',
  '(abstract_class_declaration) @other',
  '(interface_declaration) @other',
  '(type_alias_declaration) @other',
  '(enum_declaration) @other',
  '(lexical_declaration) @other',
  '(variable_declaration) @other',
  '(public_field_definition) @other',
  '(field_definition) @other',
  '(method_signature) @other',
  '(abstract_method_signature) @other',
  '(function_signature) @other',
  '(property_signature) @other',
  '(export_statement) @wrapper',
  '(decorator) @attr',
];

const C_TARGETS = [
  '(function_definition) @def',
  '(declaration) @other',
  '(struct_specifier) @other',
  '(union_specifier) @other',
  '(enum_specifier) @other',
  '(type_definition) @other',
  '(preproc_def) @other',
  '(preproc_function_def) @other',
];

/**
 * Per language: `@def` a function or method (with `@name` unless nameOf finds it), `@doc` a
 * Python docstring of the `@def`, `@other` any other definition whose leading comments go too,
 * `@wrapper` a node that wraps a definition, `@attr` attributes that may stand between a doc
 * comment and its definition.
 */
const PATTERNS: Record<CodeLanguage, string[]> = {
  python: [
    '(function_definition name: (identifier) @name body: (block . (expression_statement (string) @doc))) @def',
    '(function_definition name: (identifier) @name) @def',
    '(class_definition body: (block . (expression_statement (string) @doc))) @other',
    '(class_definition) @other',
    '(module . (expression_statement (string) @doc))',
    '(decorated_definition) @wrapper',
  ],
  javascript: JS_TARGETS,
  typescript: JS_TARGETS,
  tsx: JS_TARGETS,
  go: [
    '(function_declaration name: (identifier) @name) @def',
    '(method_declaration name: (field_identifier) @name) @def',
    '(type_declaration) @other',
    '(const_declaration) @other',
    '(var_declaration) @other',
  ],
  rust: [
    '(function_item name: (identifier) @name) @def',
    '(struct_item) @other',
    '(enum_item) @other',
    '(union_item) @other',
    '(trait_item) @other',
    '(impl_item) @other',
    '(mod_item) @other',
    '(type_item) @other',
    '(const_item) @other',
    '(static_item) @other',
    '(macro_definition) @other',
    '(function_signature_item) @other',
    '(attribute_item) @attr',
  ],
  java: [
    '(method_declaration name: (identifier) @name body: (block)) @def',
    '(constructor_declaration name: (identifier) @name) @def',
    '(class_declaration) @other',
    '(interface_declaration) @other',
    '(enum_declaration) @other',
    '(record_declaration) @other',
    '(method_declaration) @other',
    '(field_declaration) @other',
    '(constant_declaration) @other',
  ],
  c: C_TARGETS,
  cpp: [
    ...C_TARGETS,
    '(class_specifier) @other',
    '(field_declaration) @other',
    '(alias_declaration) @other',
    '(template_declaration) @wrapper',
  ],
  csharp: [
    '(method_declaration name: (identifier) @name body: (block)) @def',
    '(constructor_declaration name: (identifier) @name) @def',
    '(class_declaration) @other',
    '(interface_declaration) @other',
    '(struct_declaration) @other',
    '(property_declaration) @other',
  ],
  ruby: ['(method name: (_) @name) @def', '(singleton_method name: (_) @name) @def', '(class) @other', '(module) @other'],
  php: [
    '(function_definition name: (name) @name) @def',
    '(method_declaration name: (name) @name body: (compound_statement)) @def',
    '(class_declaration) @other',
    '(interface_declaration) @other',
    '(trait_declaration) @other',
    '(enum_declaration) @other',
    '(method_declaration) @other',
    '(property_declaration) @other',
    '(const_declaration) @other',
  ],
};

const COMMENTS = ['(comment) @comment', '(line_comment) @comment', '(block_comment) @comment'];

interface Grammar {
  parser: Parser;
  query: Query;
}
const grammars = new Map<CodeLanguage, Promise<Grammar>>();
let runtime: Promise<void> | null = null;

function grammar(language: CodeLanguage): Promise<Grammar> {
  let g = grammars.get(language);
  if (!g) {
    g = (async () => {
      runtime ??= Parser.init({ locateFile: () => createRequire(import.meta.url).resolve('web-tree-sitter/tree-sitter.wasm') });
      await runtime;
      const lang = await Language.load(defaultGrammarPath(GRAMMAR_FILE[language]));
      const parser = new Parser();
      parser.setLanguage(lang);
      const known = (p: string) =>
        [...p.matchAll(/\((\w+)/g)].every((m) => m[1] === '_' || lang.idForNodeType(m[1], true) !== null) &&
        [...p.matchAll(/(\w+):/g)].every((m) => lang.fieldIdForName(m[1]) !== null);
      return { parser, query: new Query(lang, [...PATTERNS[language], ...COMMENTS].filter(known).join('\n')) };
    })();
    grammars.set(language, g);
  }
  return g;
}

/** Frees the parsers (the wasm heap only grows). */
export async function disposeMining(): Promise<void> {
  for (const g of grammars.values()) {
    const { parser, query } = await g;
    query.delete();
    parser.delete();
  }
  grammars.clear();
}

/** 1-based first line of a node. */
const firstLine = (n: Node) => n.startPosition.row + 1;
/** 1-based last line of a node (a node ending at column 0 ends on the line before). */
function lastLine(n: Node): number {
  const end = n.endPosition;
  return end.column === 0 && end.row > n.startPosition.row ? end.row : end.row + 1;
}

/** The declared name of a C/C++ function: follow `declarator` fields down to the function declarator. */
function cFunctionName(def: Node): string | null {
  let d: Node | null = def.childForFieldName('declarator');
  for (let i = 0; d && i < 8; i++) {
    if (d.type === 'function_declarator') {
      const n = d.childForFieldName('declarator')?.text ?? null;
      return n
        ? n
            .split(/::|\s/)
            .pop()!
            .replace(/^[~*&]+/, '')
        : null;
    }
    d = d.childForFieldName('declarator');
  }
  return null;
}

interface Leading {
  first: number;
  last: number;
  nodes: Node[];
  attrOnly: boolean;
}

/** Parses a file, removes its doc comments, and lists its functions and methods with their doc comments. */
export async function mineFile(text: string, language: CodeLanguage): Promise<MinedFile> {
  const { parser, query } = await grammar(language);
  const tree = parser.parse(text);
  if (!tree) throw new Error('parse failed');
  try {
    const lines = text.split('\n');
    const lineStart: number[] = [0];
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lineStart.push(i + 1);
    /** Whether a node owns its lines: only blanks before it on its first line and after it on its last. */
    const ownsLines = (n: Node) => {
      const before = text.slice(lineStart[n.startPosition.row], n.startIndex);
      const lastRow = lastLine(n) - 1;
      const lineEnd = lastRow + 1 < lineStart.length ? lineStart[lastRow + 1] : text.length;
      return before.trim() === '' && (n.endIndex >= lineEnd || text.slice(n.endIndex, lineEnd).trim() === '');
    };
    const blank = (line: number) => (lines[line - 1] ?? '').trim() === '';

    const defs = new Map<number, { node: Node; name: string | null; doc: Node | null; target: boolean }>();
    const wrappersByEnd = new Map<number, Node[]>();
    const leadingByLast = new Map<number, Leading>();
    const docstrings: Node[] = [];
    const allComments: Node[] = [];
    for (const m of query.matches(tree.rootNode)) {
      let def: Node | null = null;
      let name: string | null = null;
      let doc: Node | null = null;
      let target = false;
      for (const c of m.captures) {
        if (c.name === 'def' || c.name === 'other') {
          def = c.node;
          target = c.name === 'def';
        } else if (c.name === 'name') name = c.node.text;
        else if (c.name === 'doc') doc = c.node.parent!;
        else if (c.name === 'wrapper') {
          const list = wrappersByEnd.get(c.node.endIndex) ?? [];
          list.push(c.node);
          wrappersByEnd.set(c.node.endIndex, list);
        } else if (c.name === 'comment' || c.name === 'attr') {
          if (c.name === 'comment') allComments.push(c.node);
          if (!ownsLines(c.node) && c.name === 'comment') continue;
          const last = lastLine(c.node);
          const prev = leadingByLast.get(last);
          if (prev && prev.nodes.some((p) => p.id === c.node.id)) continue;
          leadingByLast.set(last, {
            first: Math.min(firstLine(c.node), prev?.first ?? Infinity),
            last,
            nodes: [...(prev?.nodes ?? []), ...(c.name === 'comment' ? [c.node] : [])],
            attrOnly: (prev?.attrOnly ?? true) && c.name === 'attr',
          });
        }
      }
      if (doc) docstrings.push(doc);
      if (!def) continue;
      const prev = defs.get(def.id);
      if (language === 'c' || language === 'cpp') name ??= def.type === 'function_definition' ? cFunctionName(def) : null;
      if (def.type === 'function_definition' && (language === 'c' || language === 'cpp')) target = !!name;
      defs.set(def.id, {
        node: def,
        name: prev?.name ?? name,
        doc: prev?.doc ?? (target ? doc : null),
        target: (prev?.target ?? false) || target,
      });
    }

    const unwrap = (node: Node): Node => {
      for (let depth = 0; depth < 4; depth++) {
        const outer = wrappersByEnd
          .get(node.endIndex)
          ?.find((w) => w.startIndex <= node.startIndex && w.id !== node.id && w.namedChildren.some((c) => c?.id === node.id));
        if (!outer) return node;
        node = outer;
      }
      return node;
    };
    /** The runs of comments (and attributes) directly above `line`, nearest last. */
    const leadingAbove = (line: number): Leading[] => {
      const out: Leading[] = [];
      const walk = () => {
        for (let above = leadingByLast.get(line - 1); above; above = leadingByLast.get(line - 1)) {
          out.unshift(above);
          line = above.first;
        }
      };
      walk();
      const docAbove = leadingByLast.get(line - 2);
      if (docAbove && docAbove.nodes.some((n) => n.text.startsWith('/**')) && blank(line - 1)) {
        out.unshift(docAbove);
        line = docAbove.first;
        walk();
      }
      return out;
    };

    const deleted = new Set<number>();
    const replaced = new Map<number, string>();
    const removeNode = (n: Node): boolean => {
      if (!ownsLines(n)) return false;
      for (let l = firstLine(n); l <= lastLine(n); l++) deleted.add(l);
      return true;
    };
    for (const c of allComments) if (/^(\/\*\*|\/\*!|\/\/\/|\/\/!)/.test(c.text) && !/^\/\*\*+\/$/.test(c.text)) removeNode(c);
    const removedDocstrings = new Set<number>();
    for (const d of docstrings) {
      if (!ownsLines(d)) continue;
      const block = d.parent;
      const onlyStatement = block?.type === 'block' && block.namedChildren.filter((c) => c && c.type !== 'comment').length === 1;
      removeNode(d);
      if (onlyStatement) {
        const first = firstLine(d);
        deleted.delete(first);
        replaced.set(first, `${/^\s*/.exec(lines[first - 1])![0]}pass`);
      }
      removedDocstrings.add(d.id);
    }
    // Declarations inside a function body (locals) are not definitions: comments above them stay.
    const bodies = [...defs.values()].filter((d) => d.target).map((d) => d.node);
    const inBody = (n: Node) =>
      bodies.some(
        (b) =>
          b.id !== n.id &&
          b.startIndex <= n.startIndex &&
          n.endIndex <= b.endIndex &&
          !(b.startIndex === n.startIndex && b.endIndex === n.endIndex),
      );
    const mined: { node: Node; name: string; doc: string | null }[] = [];
    for (const d of defs.values()) {
      if (!d.target && inBody(d.node)) continue;
      const outer = unwrap(d.node);
      const blocks = leadingAbove(firstLine(outer));
      let docOk = true;
      for (const b of blocks) for (const n of b.nodes) if (!removeNode(n)) docOk = false;
      if (!d.target || !d.name) continue;
      let doc: string | null = null;
      if (language === 'python') doc = d.doc && removedDocstrings.has(d.doc.id) ? d.doc.text : null;
      else {
        const comments = blocks.flatMap((b) => b.nodes);
        doc = docComment(comments, language);
        if (!docOk) doc = null;
      }
      mined.push({ node: outer, name: d.name, doc });
    }

    const newLine: number[] = [0];
    let removedSoFar = 0;
    for (let l = 1; l <= lines.length; l++) {
      if (deleted.has(l)) removedSoFar++;
      newLine.push(l - removedSoFar);
    }
    const out: string[] = [];
    lines.forEach((line, i) => {
      if (!deleted.has(i + 1)) out.push(replaced.get(i + 1) ?? line);
    });
    const result: MinedDef[] = mined
      .map(({ node, name, doc }) => ({ name, startLine: newLine[firstLine(node)], endLine: newLine[lastLine(node)], doc }))
      .sort((a, b) => a.startLine - b.startLine || a.endLine - b.endLine);
    return { stripped: out.join('\n'), defs: result };
  } finally {
    tree.delete();
  }
}

/** The doc comment among a definition's leading comments, by the language's convention, or null. */
function docComment(nodes: { text: string }[], language: CodeLanguage): string | null {
  if (!nodes.length) return null;
  // Some grammars' line comments end with their newline.
  const comments = nodes.map((n) => ({ text: n.text.replace(/\r?\n$/, '') }));
  if (JSDOC_STYLE.has(language)) {
    if (language === 'csharp') {
      const lines = comments.filter((c) => c.text.startsWith('///'));
      return lines.length ? lines.map((c) => c.text).join('\n') : null;
    }
    const jsdoc = comments.filter((c) => c.text.startsWith('/**'));
    return jsdoc.length ? jsdoc[jsdoc.length - 1].text : null;
  }
  if (language === 'rust') {
    const docs = comments.filter((c) => /^(\/\/\/(?!\/)|\/\*\*)/.test(c.text));
    return docs.length ? docs.map((c) => c.text).join('\n') : null;
  }
  // Go, Ruby, C, C++: the comment block right above is the doc; for a run of block comments, the nearest.
  const last = comments[comments.length - 1];
  if (last.text.startsWith('/*')) return last.text;
  const run: { text: string }[] = [];
  for (let i = comments.length - 1; i >= 0 && !comments[i].text.startsWith('/*'); i--) run.unshift(comments[i]);
  return run.map((c) => c.text).join('\n');
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", nbsp: ' ', '#39': "'" };

/** Lines of a doc comment without comment markers. */
function docLines(doc: string): string[] {
  let t = doc.trim();
  const py = /^[rRuUbB]{0,2}("""|''')([\s\S]*?)(\1)?$/.exec(t) ?? /^[rRuUbB]{0,2}(["'])([\s\S]*?)\1$/.exec(t);
  if (py) t = py[2];
  return t.split('\n').map((l) =>
    l
      .replace(/^\s*(\/\*\*+|\/\*!|\/\*+|\/\/\/|\/\/!|\/\/+|#+(?=\s|$)|\*+(?!\/))/, '')
      .replace(/\*+\/\s*$/, '')
      .trim(),
  );
}

const STOP_LINE =
  /^(@(?!brief\b)\w+|\\(?!brief\b)\w+|:param|:returns?|:raises?|:rtype|:type|Args:|Arguments:|Parameters:?$|Params:|Returns?:|Raises:|Throws:|Yields:|Examples?:?|Example usage|Usage:|Note:|Notes:|See also|Deprecated|>>>|```|-{3,}|={3,}|call-seq:|# ?(Examples?|Panics|Errors|Safety|Arguments|Returns)\b|<(p|pre|ul|ol|code|h\d)\b)/i;

/**
 * The query of a doc comment: the first sentence of its first paragraph, markers, tags and
 * markup removed; a leading mention of the definition's own name ("Round rounds …", as Go's
 * convention writes it) dropped. Empty when nothing is left.
 */
export function docSummary(doc: string, name: string, language: CodeLanguage): string {
  let lines = docLines(doc);
  if (language === 'csharp') {
    const m = /<summary>([\s\S]*?)<\/summary>/i.exec(lines.join('\n'));
    lines = m ? m[1].split('\n').map((l) => l.trim()) : [];
  }
  const para: string[] = [];
  for (const raw of lines) {
    const l = raw.replace(/^[@\\]brief\s*/i, '');
    if (!l) {
      if (para.length) break;
      continue;
    }
    if (/^[=*\-#~_/+]{3,}$/.test(l)) {
      if (para.length) break;
      continue;
    }
    if (STOP_LINE.test(l)) break;
    para.push(l);
  }
  let s = para
    .join(' ')
    .replace(/\{@\w+\s+([^}]*)\}/g, '$1')
    .replace(/<\/?[a-z][^>]*>/gi, ' ')
    .replace(/&(#?\w+);/g, (m, e: string) => ENTITIES[e] ?? m)
    .replace(/\\([[\]_*`\\])/g, '$1')
    .replace(/`+([^`]*)`+/g, '$1')
    .replace(/:[a-z]+:`?([^`\s]+)`?/g, '$1')
    .replace(/\[([^\]]+)\]\[[^\]]*\]/g, '$1')
    .replace(/\[([^\]]+)\]\([^)]*\)/g, '$1')
    .replace(/\[`?([^\]`]+)`?\]/g, '$1')
    .replace(/(^|\s)\+(\w+)\+(?=\s|[.,;:]|$)/g, '$1$2')
    .replace(/\s+/g, ' ')
    .trim();
  // "name returns …", "name() - returns …", "name: returns …".
  // The bare name must match exactly ("Update sorted list…" documents `update` and keeps its verb);
  // `name()`, `name:` and `name -` are mentions whatever their case.
  const lead = /^([\w$.:#]+?)(\(\))?(\s*[:–—-]\s+|\s)/.exec(s);
  if (lead) {
    const word = lead[1].split(/[.:#]+/).pop()!;
    if (word === name || (word.toLowerCase() === name.toLowerCase() && (lead[2] || lead[3].trim()))) s = s.slice(lead[0].length);
  }
  const protectedText = s.replace(/\b(e\.g|i\.e|etc|vs|cf|approx|incl|resp)\./gi, (m) => m.replace(/\./g, '\uE000'));
  const first = protectedText
    .split(/(?<=[.!?])\s+(?=[A-Z0-9`"'([])/)[0]
    .replace(/\uE000/g, '.')
    .trim();
  return first;
}

/** Why a query is junk, or null: too short or long, a marker rather than a description, or code rather than words. */
export function junkReason(q: string): string | null {
  const words = q.split(' ').filter((w) => /[A-Za-z]{2}/.test(w));
  if (words.length < 4) return 'short';
  if (words.length > 60) return 'long';
  if (
    /^(todo|fixme|xxx|hack|deprecated|copyright|\(c\)|licen[cs]ed|spdx|eslint|jshint|jscs|istanbul|noinspection|nolint|prettier|tslint|code generated|auto-?generated|generated (by|from|code)|do not (edit|modify)|:nodoc:|see\b|inherit|\{?@inheritdoc|implementation of\b|implements\b|overrides?\b|@)/i.test(
      q,
    )
  )
    return 'marker';
  const nonSpace = q.replace(/\s/g, '');
  if ((nonSpace.match(/[A-Za-z]/g)?.length ?? 0) < 0.6 * nonSpace.length) return 'code-like';
  return null;
}

/** Whether a file says it was generated (first 15 lines). */
export function isGenerated(text: string): boolean {
  return /code generated|auto-?generated|@generated|do not edit|generated by/i.test(text.split('\n', 15).join('\n'));
}

/**
 * Identifiers a query must not name to count as identifier-free (the rule bench:quality applies
 * to its hand-written questions): the definition's own names, every compound identifier
 * (camelCase, snake_case) written in its lines, and names that definition syntax declares there.
 */
export function textIdentifiers(text: string, names: Iterable<string> = []): Set<string> {
  const ids = new Set<string>();
  // `join!`, `empty?`: the bare word counts too.
  for (const n of names) for (const v of [n, n.replace(/[^\w$]+/g, '')]) if (v) ids.add(v.toLowerCase());
  for (const m of text.matchAll(/[A-Za-z_$][A-Za-z0-9_$]*/g)) if (splitIdentifier(m[0]).length > 1) ids.add(m[0].toLowerCase());
  const defs = [
    /\b(?:function|def)\s+([A-Za-z_$][\w$]*)\s*\(/g,
    /\bfunc\s*(?:\([^)]*\)\s*)?([A-Za-z_]\w*)\s*\(/g,
    /\bclass\s+([A-Za-z_]\w*)\s*[({:]/g,
    /\btype\s+([A-Za-z_]\w*)\s+(?:struct|interface|func)\b/g,
  ];
  for (const re of defs) for (const m of text.matchAll(re)) ids.add(m[1].toLowerCase());
  for (const m of text.matchAll(/^\s*[A-Za-z_$.]*\.([A-Za-z_$][A-Za-z0-9_$]*)\s*=\s*function/gm)) ids.add(m[1].toLowerCase());
  return ids;
}

/** The identifiers of `ids` that a query names as words. */
export function namedIdentifiers(q: string, ids: Set<string>): string[] {
  const words = new Set(
    q
      .toLowerCase()
      .split(/[^a-z0-9_$]+/)
      .filter(Boolean),
  );
  return [...ids].filter((id) => words.has(id)).sort();
}

/** sha256 hex of a string. */
export function sha256Hex(s: string | Buffer): string {
  return createHash('sha256').update(s).digest('hex');
}

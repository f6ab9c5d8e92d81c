/**
 * File extension → language id. Pure data: the tree-sitter adapter maps ids to grammar files,
 * everything else (Markdown, JSON, YAML, unknown) is `text` and goes to line windows.
 */

/** Languages the syntax-aware chunker parses. */
export type CodeLanguage =
  | 'typescript'
  | 'tsx'
  | 'javascript'
  | 'python'
  | 'go'
  | 'rust'
  | 'java'
  | 'c'
  | 'cpp'
  | 'csharp'
  | 'ruby'
  | 'php';

/** Language id of a chunk: a parsed language, or `text` for line windows. */
export type LanguageId = CodeLanguage | 'text';

const BY_EXTENSION: Record<string, CodeLanguage> = {
  ts: 'typescript',
  mts: 'typescript',
  cts: 'typescript',
  tsx: 'tsx',
  // The JavaScript grammar parses JSX too.
  js: 'javascript',
  jsx: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  py: 'python',
  pyi: 'python',
  go: 'go',
  rs: 'rust',
  java: 'java',
  c: 'c',
  // `.h` is most often C; the C grammar still recovers on C++ headers without throwing.
  h: 'c',
  cc: 'cpp',
  cpp: 'cpp',
  cxx: 'cpp',
  'c++': 'cpp',
  hpp: 'cpp',
  hh: 'cpp',
  hxx: 'cpp',
  'h++': 'cpp',
  ipp: 'cpp',
  inl: 'cpp',
  cs: 'csharp',
  rb: 'ruby',
  rake: 'ruby',
  gemspec: 'ruby',
  php: 'php',
  phtml: 'php',
};

const BY_FILENAME: Record<string, CodeLanguage> = {
  rakefile: 'ruby',
  gemfile: 'ruby',
};

/** Every language with a grammar, in a stable order (the CLI's `--lang` values). */
export const CODE_LANGUAGES: readonly CodeLanguage[] = [
  'typescript',
  'tsx',
  'javascript',
  'python',
  'go',
  'rust',
  'java',
  'c',
  'cpp',
  'csharp',
  'ruby',
  'php',
];

function baseName(relPath: string): string {
  const slash = Math.max(relPath.lastIndexOf('/'), relPath.lastIndexOf('\\'));
  return relPath.slice(slash + 1);
}

/** Language id for a path (relative or absolute, `/` or `\` separators); `text` when no grammar applies. */
export function languageForPath(relPath: string): LanguageId {
  const name = baseName(relPath).toLowerCase();
  const byName = BY_FILENAME[name];
  if (byName) return byName;
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return 'text';
  return BY_EXTENSION[name.slice(dot + 1)] ?? 'text';
}

/** Whether a path is Markdown, which the line-window fallback splits at headings. */
export function isMarkdownPath(relPath: string): boolean {
  return /\.(md|markdown|mdx|mdown|mkd)$/i.test(baseName(relPath));
}

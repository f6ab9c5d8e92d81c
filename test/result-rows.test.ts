// Rows of the search quick pick and the Results view (src/extension/result-rows.ts): kind icons,
// the signature line as the snippet (not the doc comment), the score, the relevance separator.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Passage } from '../src/extension/passages.js';
import { buildRows, definitionOf, KIND_ICONS, RELATIVE_CUTOFF } from '../src/extension/result-rows.js';

let n = 0;
function passage(text: string, symbol: string | null, language: string, score = 0.9, file = `src/f${n}.x`): Passage {
  n++;
  return { n, root: '/w', rootName: 'w', path: file, startLine: 10, endLine: 20, symbol, language, score, text };
}

describe('definitionOf: the signature line and the kind', () => {
  const cases: [string, string, string | null, string, string][] = [
    // [language, text, symbol, expected line, expected kind]
    [
      'typescript',
      '/**\n * Retries a failed request with exponential backoff.\n * @param url where\n */\nexport async function fetchWithRetry(url: string, tries = 3): Promise<Response> {\n  for (;;) {}\n}',
      'fetchWithRetry',
      'export async function fetchWithRetry(url: string, tries = 3): Promise<Response> {',
      'function',
    ],
    [
      'typescript',
      '// Opens the store.\nstatic open(dir: string, opts: Options): Store {\n  return new Store(dir);\n}',
      'Store.open',
      'static open(dir: string, opts: Options): Store {',
      'method',
    ],
    [
      'typescript',
      '/** The index on disk. */\nexport class Store implements Disposable {\n  private x = 1;\n}',
      'Store',
      'export class Store implements Disposable {',
      'class',
    ],
    ['typescript', 'export interface SearchResult {\n  path: string;\n}', 'SearchResult', 'export interface SearchResult {', 'interface'],
    [
      'typescript',
      'export const parseConfig = async (text: string): Promise<Config> => {\n  return JSON.parse(text);\n};',
      'parseConfig',
      'export const parseConfig = async (text: string): Promise<Config> => {',
      'function',
    ],
    ['typescript', 'export const MAX_SOURCE_CHARS = 12_000;', 'MAX_SOURCE_CHARS', 'export const MAX_SOURCE_CHARS = 12_000;', 'constant'],
    [
      'python',
      '    def verify_password(self, password: str) -> bool:\n        """Checks a password against the stored hash."""\n        return hmac.compare_digest(self.hash, hash_pw(password))',
      'User.verify_password',
      'def verify_password(self, password: str) -> bool:',
      'method',
    ],
    [
      'python',
      '@lru_cache(maxsize=None)\ndef load_config(path):\n    """Reads the config."""\n    return {}',
      'load_config',
      'def load_config(path):',
      'function',
    ],
    ['python', 'class Config:\n    """Settings."""\n    pass', 'Config', 'class Config:', 'class'],
    ['go', '// QuickSort sorts in place.\nfunc QuickSort(a []int) {\n}', 'QuickSort', 'func QuickSort(a []int) {', 'function'],
    [
      'go',
      '// Area of the polygon.\nfunc (p *Polygon) Area() float64 {\n\treturn 0\n}',
      'Polygon.Area',
      'func (p *Polygon) Area() float64 {',
      'method',
    ],
    ['go', '// Polygon is a closed shape.\ntype Polygon struct {\n\tPoints []Point\n}', 'Polygon', 'type Polygon struct {', 'struct'],
    ['go', 'type Shape interface {\n\tArea() float64\n}', 'Shape', 'type Shape interface {', 'interface'],
    [
      'rust',
      '/// Parses the header.\n#[inline]\npub fn parse_header(buf: &[u8]) -> Result<Header> {\n    todo!()\n}',
      'parse_header',
      'pub fn parse_header(buf: &[u8]) -> Result<Header> {',
      'function',
    ],
    ['rust', 'pub enum Token {\n    Word,\n}', 'Token', 'pub enum Token {', 'enum'],
    [
      'java',
      '/**\n * Hashes a password.\n */\n@Override\npublic static String hashPassword(String pw) throws IOException {\n  return pw;\n}',
      'hashPassword',
      'public static String hashPassword(String pw) throws IOException {',
      'method',
    ],
    ['markdown', 'Some intro text.\n\n## Installing the CLI\n\nRun npm install.', null, '## Installing the CLI', 'section'],
  ];
  for (const [language, text, symbol, line, kind] of cases) {
    test(`${language} ${symbol ?? '(no symbol)'} → ${kind}`, () => {
      const d = definitionOf({ text, symbol, language });
      assert.equal(d.line, line);
      assert.equal(d.kind, kind);
    });
  }

  test('a chunk without a definition line falls back to its first code line, never a comment', () => {
    const d = definitionOf({ text: '// setup\n\nimport x from "y";\nconsole.log(x);', symbol: null, language: 'javascript' });
    assert.equal(d.line, 'import x from "y";');
    assert.equal(d.kind, 'file');
  });
});

describe('buildRows', () => {
  test('icon from the kind, name, path:line and score, signature as the detail', () => {
    const rows = buildRows([passage('/** Doc. */\nexport function a(x: number) {\n}', 'a', 'typescript', 0.91, 'src/a.ts')]);
    assert.equal(rows.length, 1);
    const r = rows[0]!;
    assert.equal(r.type, 'result');
    if (r.type !== 'result') return;
    assert.equal(r.icon, KIND_ICONS.function);
    assert.equal(r.icon, 'symbol-function');
    assert.equal(r.label, 'a');
    assert.equal(r.description, 'src/a.ts:10 · 0.91');
    assert.equal(r.detail, 'export function a(x: number) {');
  });

  test('different kinds get different icons', () => {
    const rows = buildRows([
      passage('export class A {}', 'A', 'typescript', 1),
      passage('func (p *P) M() {}', 'P.M', 'go', 0.95),
      passage('def f():\n  pass', 'f', 'python', 0.9),
    ]);
    assert.deepEqual(
      rows.map((r) => (r.type === 'result' ? r.icon : '-')),
      ['symbol-class', 'symbol-method', 'symbol-function'],
    );
  });

  test('a separator where scores fall under the relative cut-off, once, never first', () => {
    const ps = [1, 0.9, RELATIVE_CUTOFF + 0.01, RELATIVE_CUTOFF - 0.01, 0.2].map((s, i) =>
      passage(`function f${i}() {}`, `f${i}`, 'javascript', s),
    );
    const rows = buildRows(ps);
    assert.deepEqual(
      rows.map((r) => r.type),
      ['result', 'result', 'result', 'separator', 'result', 'result'],
    );
    // Relative to the best score: the same gaps at a lower scale cut at the same place.
    const scaled = buildRows(ps.map((p) => ({ ...p, score: p.score * 0.5 })));
    assert.equal(
      scaled.findIndex((r) => r.type === 'separator'),
      3,
    );
    assert.equal(
      buildRows(ps.slice(0, 3)).some((r) => r.type === 'separator'),
      false,
    );
    assert.equal(buildRows([]).length, 0);
  });

  test('multi-root rows name the folder; long signatures are cut', () => {
    const long = `export function g(${'a: number, '.repeat(30)}) {}`;
    const [r] = buildRows([passage(long, 'g', 'typescript', 0.5, 'x.ts')], { multiRoot: true });
    assert.ok(r!.type === 'result');
    if (r!.type !== 'result') return;
    assert.match(r.description, /^w\/x\.ts:10 · 0\.50$/);
    assert.equal(r.detail.length, 160);
    assert.ok(r.detail.endsWith('…'));
  });
});

// package.json `contributes` checked against the code: Title Case titles, menus and links that
// name existing commands, when/enablement clauses that use only the context keys the extension
// sets (src/extension/context-keys.ts), and the keys' values for each engine state.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { CONTEXT_KEY_NAMES, contextKeys, LOUPE_STATES } from '../src/extension/context-keys.js';
import { REPO } from './support/files.js';

interface Command {
  command: string;
  title: string;
  enablement?: string;
}
const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { contributes: Record<string, unknown> };
const c = pkg.contributes as {
  commands: Command[];
  menus: Record<string, { command: string; when?: string; group?: string }[]>;
  keybindings: { command: string; when?: string }[];
  viewsWelcome: { view: string; when?: string; contents: string }[];
  views: Record<string, { id: string }[]>;
  walkthroughs: { steps: { description: string; media: { markdown?: string }; completionEvents?: string[] }[] }[];
};
const commandIds = new Set(c.commands.map((x) => x.command));
const SMALL = new Set(['a', 'an', 'and', 'as', 'at', 'by', 'for', 'in', 'of', 'on', 'or', 'the', 'to', 'with']);

/** Title Case: every word capitalised except short articles/prepositions that are not first. */
function titleCaseProblem(title: string): string | undefined {
  const words = title.replace(/…$/, '').split(/\s+/);
  for (const [i, w] of words.entries()) {
    const first = w.replace(/^[^\p{L}]+/u, '');
    if (!first) continue;
    if (i > 0 && SMALL.has(first.toLowerCase())) {
      if (first !== first.toLowerCase()) return `"${w}" should be lower case`;
      continue;
    }
    if (first[0] !== first[0]!.toUpperCase()) return `"${w}" should start with a capital`;
    // Each part of a hyphenated or slashed word is capitalised too (Re-Index, Pause/Resume).
    for (const part of first.split(/[-/]/).slice(1))
      if (part && part[0] !== part[0]!.toUpperCase()) return `"${w}" should capitalise "${part}"`;
  }
  return undefined;
}

/** The context keys a clause reads: `loupe.*` names left of comparisons (values and view ids excluded). */
function keysIn(clause: string): string[] {
  const noStrings = clause.replace(/'[^']*'|"[^"]*"/g, '');
  // `view == loupe.qa`: the right-hand side is a value, not a key.
  const noValues = noStrings.replace(/(==|!=|=~|\bin\b)\s*[\w.-]+/g, '');
  return [...noValues.matchAll(/(?<![\w.])loupe\.[\w.]+/g)].map((m) => m[0]);
}

/** Every clause in the contributions. */
function clauses(): { where: string; clause: string }[] {
  const out: { where: string; clause: string }[] = [];
  for (const cmd of c.commands) if (cmd.enablement) out.push({ where: `${cmd.command} enablement`, clause: cmd.enablement });
  for (const [menu, items] of Object.entries(c.menus))
    for (const i of items) if (i.when) out.push({ where: `menus.${menu} ${i.command}`, clause: i.when });
  for (const k of c.keybindings) if (k.when) out.push({ where: `keybinding ${k.command}`, clause: k.when });
  for (const w of c.viewsWelcome) if (w.when) out.push({ where: `viewsWelcome ${w.view}`, clause: w.when });
  return out;
}

describe('package.json contributions', () => {
  test('every command title is Title Case and every command has the Loupe category', () => {
    for (const cmd of c.commands) {
      assert.equal(titleCaseProblem(cmd.title), undefined, `${cmd.command}: "${cmd.title}" — ${titleCaseProblem(cmd.title)}`);
      assert.equal((cmd as { category?: string }).category, 'Loupe', cmd.command);
    }
    // The checker itself: it must reject what the issue found.
    assert.ok(titleCaseProblem('Pause indexing'));
    assert.ok(titleCaseProblem('Ask a question about this codebase'));
    assert.equal(titleCaseProblem('Export Embeddings to TensorFlow Projector'), undefined);
  });

  test('menus, keybindings and command links name commands that exist', () => {
    const referenced: string[] = [];
    for (const items of Object.values(c.menus)) for (const i of items) referenced.push(i.command);
    for (const k of c.keybindings) referenced.push(k.command);
    const texts = [...c.viewsWelcome.map((w) => w.contents), ...c.walkthroughs.flatMap((w) => w.steps.map((s) => s.description))];
    for (const t of texts) for (const m of t.matchAll(/\(command:([\w.]+)/g)) referenced.push(m[1]!);
    for (const w of c.walkthroughs)
      for (const s of w.steps)
        for (const e of s.completionEvents ?? []) if (e.startsWith('onCommand:')) referenced.push(e.slice('onCommand:'.length));
    for (const id of referenced) {
      if (id.startsWith('workbench.')) continue; // VS Code's own
      assert.ok(commandIds.has(id), `${id} is referenced but not contributed`);
    }
  });

  test('every contributed command is registered by the extension, and the other way round', () => {
    const src = readFileSync(path.join(REPO, 'src/extension/commands.ts'), 'utf8');
    const registered = new Set([...src.matchAll(/^\s+'(loupe\.\w+)':/gm)].map((m) => m[1]!));
    for (const id of commandIds) assert.ok(registered.has(id), `${id} is contributed but not registered in commands.ts`);
    for (const id of registered) if (id !== 'loupe.openResult') assert.ok(commandIds.has(id), `${id} is registered but not contributed`);
  });

  test('when and enablement clauses use only context keys the extension sets', () => {
    const known = new Set<string>(CONTEXT_KEY_NAMES);
    const all = clauses();
    assert.ok(all.length >= 10, 'the clauses are found');
    for (const { where, clause } of all) {
      for (const key of keysIn(clause)) assert.ok(known.has(key), `${where}: "${clause}" reads ${key}, which the extension never sets`);
      for (const m of clause.matchAll(/loupe\.state\s*==\s*(\w+)/g))
        assert.ok((LOUPE_STATES as readonly string[]).includes(m[1]!), `${where}: no state "${m[1]}"`);
    }
    // The checker itself.
    assert.deepEqual(keysIn('view == loupe.qa && loupe.indexing && !loupe.nope'), ['loupe.indexing', 'loupe.nope']);
  });

  test('Pause, Resume and Cancel are enabled and listed only when they apply', () => {
    const en = (id: string) => c.commands.find((x) => x.command === id)!.enablement!;
    const palette = (id: string) => c.menus.commandPalette!.find((x) => x.command === id)?.when;
    for (const id of ['loupe.pause', 'loupe.resume', 'loupe.cancelIndex']) {
      assert.ok(en(id), `${id} has an enablement clause`);
      assert.ok(palette(id), `${id} is hidden from the palette when it does not apply`);
    }
    assert.match(en('loupe.pause'), /loupe\.indexing/);
    assert.match(en('loupe.resume'), /loupe\.paused/);
  });

  test('the Ask view title has no one-click re-index; Ask and Find Similar Code have keybindings; Find Similar Code is on the editor context menu', () => {
    const nav = c.menus['view/title']!.filter((m) => m.when?.includes('loupe.qa') && m.group?.startsWith('navigation'));
    assert.ok(!nav.some((m) => m.command === 'loupe.reindex'), 're-index is not an inline title button');
    assert.ok(c.keybindings.some((k) => k.command === 'loupe.ask'));
    assert.ok(c.menus['editor/context']!.some((m) => m.command === 'loupe.findSimilar' && /editorHasSelection/.test(m.when ?? '')));
  });

  test('the Results view has welcome content for every state; walkthrough media exist', () => {
    const views = Object.values(c.views)
      .flat()
      .map((v) => v.id);
    for (const w of c.viewsWelcome) assert.ok(views.includes(w.view), w.view);
    const covered = new Set(c.viewsWelcome.flatMap((w) => [...(w.when ?? '').matchAll(/loupe\.state == (\w+)/g)].map((m) => m[1])));
    for (const s of LOUPE_STATES) assert.ok(covered.has(s), `no welcome content for state ${s}`);
    for (const s of c.walkthroughs[0]!.steps)
      if (s.media.markdown) assert.ok(existsSync(path.join(REPO, s.media.markdown)), s.media.markdown);
  });
});

describe('context keys', () => {
  const base = { blocked: undefined, chunks: [] as number[], answerModel: false, hasResults: false };
  test('state per engine states', () => {
    assert.equal(contextKeys({ ...base, states: [] })['loupe.state'], 'starting');
    assert.equal(contextKeys({ ...base, blocked: 'untrusted', states: [] })['loupe.state'], 'blocked');
    assert.equal(contextKeys({ ...base, states: [{ kind: 'idle' }] })['loupe.state'], 'noIndex');
    assert.equal(contextKeys({ ...base, states: [{ kind: 'ready', chunks: 0, files: 0 }] })['loupe.state'], 'noIndex');
    const indexing = contextKeys({
      ...base,
      states: [
        { kind: 'indexing', done: 3, total: 9 },
        { kind: 'ready', chunks: 5, files: 1 },
      ],
    });
    assert.equal(indexing['loupe.state'], 'indexing');
    assert.equal(indexing['loupe.indexing'], true);
    assert.equal(indexing['loupe.paused'], false);
    assert.equal(indexing['loupe.hasIndex'], true);
    const paused = contextKeys({ ...base, states: [{ kind: 'paused', reason: 'on battery' }], chunks: [12] });
    assert.deepEqual(
      [paused['loupe.state'], paused['loupe.paused'], paused['loupe.indexing'], paused['loupe.hasIndex']],
      ['paused', true, false, true],
    );
    const ready = contextKeys({ ...base, states: [{ kind: 'ready', chunks: 40, files: 4 }], answerModel: true, hasResults: true });
    assert.deepEqual(
      [ready['loupe.state'], ready['loupe.indexing'], ready['loupe.answerModel'], ready['loupe.hasResults']],
      ['ready', false, true, true],
    );
    assert.equal(contextKeys({ ...base, states: [{ kind: 'error', message: 'x' }] })['loupe.state'], 'error');
    assert.equal(contextKeys({ ...base, states: [{ kind: 'backingOff', reason: 'busy' }] })['loupe.indexing'], true);
  });
});

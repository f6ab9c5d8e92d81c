/**
 * MLX test support: finds a Python with mlx-lm (LOUPE_MLX_PYTHON, the CI venv under
 * ~/.cache/loupe/mlx-venv, python3) and builds the tiny scripted MLX model with
 * mlx_tiny_model.py. Nothing is downloaded.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pythonHasMlxLm } from '../../src/adapters/llm/mlx-server.js';
import { REPO } from './helpers.js';

/** What the tiny MLX model answers to any chat prompt. */
export const TINY_MLX_SENTENCE = 'Hello from the tiny MLX model.';

/** Where .ci/run installs mlx[cpu] and mlx-lm. */
export const MLX_VENV_PYTHON = path.join(os.homedir(), '.cache/loupe/mlx-venv/bin/python');

function commandExists(cmd: string): boolean {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * A Python with mlx-lm, or the reason there is none. Off CI a missing mlx-lm skips; on CI
 * (CI=true) only a machine without Python may skip — .ci/run installs mlx-lm wherever it can.
 */
export async function mlxPython(): Promise<{ python: string } | { skip: string }> {
  const candidates = [process.env.LOUPE_MLX_PYTHON, MLX_VENV_PYTHON, 'python3'].filter(
    (p): p is string => !!p && (!p.includes('/') || existsSync(p)),
  );
  for (const python of candidates) {
    if (await pythonHasMlxLm(python)) return { python };
  }
  if (process.env.LOUPE_MLX_SKIP_REASON) return { skip: process.env.LOUPE_MLX_SKIP_REASON };
  if (!commandExists('python3'))
    return { skip: 'Python 3 is not installed here, so mlx_lm.server cannot run (the MLX tests need python3 with mlx[cpu] and mlx-lm).' };
  const reason = `no Python with mlx-lm found (tried ${candidates.join(', ')}); .ci/run installs it into ${path.dirname(path.dirname(MLX_VENV_PYTHON))}`;
  if (process.env.CI) throw new Error(`MLX tests: ${reason}`);
  return { skip: reason };
}

/** Writes the tiny scripted MLX model into `dir`; returns its EOS token id. */
export function makeTinyMlxModel(python: string, dir: string): { eosId: number } {
  const out = execFileSync(python, [path.join(REPO, 'test/support/mlx_tiny_model.py'), dir], { encoding: 'utf8' });
  const info = JSON.parse(out.trim().split('\n').pop()!) as { sentence: string; eos_id: number };
  if (info.sentence !== TINY_MLX_SENTENCE) throw new Error(`tiny MLX model says "${info.sentence}"`);
  return { eosId: info.eos_id };
}

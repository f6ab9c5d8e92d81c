#!/usr/bin/env bash
# Runs a command (the test runner) with the test environment prepared, so `npm test` alone is the
# whole test command, on a fresh machine as in CI.
#
# The MLX answer tests (test/llm-mlx.test.ts) run a real mlx_lm.server on CPU: mlx[cpu] and mlx-lm
# from PyPI, in a venv outside the repo (kept between runs). Without Python/pip they skip, saying why.
set -euo pipefail
# Chromium for the browser tests (bench report page; the e2e suite uses it too). As root it is
# installed here; otherwise those tests skip, saying why, except in CI, where nothing may skip.
if ! bash "$(dirname "$0")/system-deps.sh" chromium && [ "${CI:-}" = true ]; then
  echo "test-env: CI=true and Chromium could not be installed" >&2
  exit 1
fi
MLX_VENV="$HOME/.cache/loupe/mlx-venv"
if ! command -v python3 >/dev/null 2>&1; then
  export LOUPE_MLX_SKIP_REASON="python3 not found, so mlx-lm cannot be installed"
  echo "test-env: $LOUPE_MLX_SKIP_REASON; the MLX tests will be skipped" >&2
elif "$MLX_VENV/bin/python" -c 'import mlx_lm' >/dev/null 2>&1 || {
  echo "test-env: installing mlx[cpu] and mlx-lm into $MLX_VENV (about a minute the first time)" >&2
  python3 -m venv "$MLX_VENV" && "$MLX_VENV/bin/python" -m pip install --quiet --disable-pip-version-check 'mlx[cpu]==0.32.4' 'mlx-lm==0.32.2'; }; then
  export LOUPE_MLX_PYTHON="$MLX_VENV/bin/python"
elif ! python3 -m pip --version >/dev/null 2>&1; then
  export LOUPE_MLX_SKIP_REASON="python3 has no pip/venv here, so mlx-lm cannot be installed"
  echo "test-env: $LOUPE_MLX_SKIP_REASON; the MLX tests will be skipped" >&2
else
  echo "test-env: installing mlx[cpu] and mlx-lm into $MLX_VENV failed" >&2
  exit 1
fi
exec "$@"

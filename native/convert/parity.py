#!/usr/bin/env python3
"""Compare a converted GGUF with the original sentence-transformers model.

Usage: parity.py MODEL_DIR MODEL.gguf [--texts FILE] [--json OUT.json] [--threads N] [--min-mean 0.99]

The reference is the original model run by sentence-transformers on torch (CPU): its own
tokenizer, truncation (max_seq_length), pooling and Normalize module. The candidate is the
GGUF run by node-llama-cpp (embed_gguf.mjs beside this file), L2-normalised. Reports the
cosine between the two vectors of each text (mean, min, worst texts), whether llama.cpp's
WordPiece gives the same token ids as the HF tokenizer, and whether each text's nearest
neighbour within the set is the same under both models. Exits 1 if the mean cosine is
below --min-mean or the GGUF cannot be run.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEFAULT_TEXTS = REPO / "test" / "fixtures" / "parity-texts.txt"


def read_texts(path: Path) -> list[str]:
    """Reads entries separated by lines holding only '%%'; text before the first separator is a header."""
    lines = path.read_text(encoding="utf-8").split("\n")
    entries: list[list[str]] = []
    current: list[str] | None = None
    for line in lines:
        if line == "%%":
            current = []
            entries.append(current)
        elif current is not None:
            current.append(line)
    texts = ["\n".join(e).rstrip("\n") for e in entries]
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise SystemExit(f"{path}: no entries (separate texts with lines holding only %%)")
    return texts


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def reference(model_dir: Path, texts: list[str]) -> tuple[np.ndarray, list[list[int]], dict]:
    """Embeds with the original model; returns unit vectors, token ids and facts about the run."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(2)
    model = SentenceTransformer(str(model_dir), device="cpu")
    started = time.perf_counter()
    vectors = model.encode(texts, batch_size=16, convert_to_numpy=True, normalize_embeddings=True)
    elapsed = time.perf_counter() - started
    max_len = model.max_seq_length
    ids = [model.tokenizer(t, truncation=True, max_length=max_len)["input_ids"] for t in texts]
    import sentence_transformers
    import transformers
    facts = {
        "runtime": f"sentence-transformers {sentence_transformers.__version__}, transformers {transformers.__version__}, torch {torch.__version__} (CPU, float32)",
        "maxSeqLength": max_len,
        "embedSeconds": round(elapsed, 3),
    }
    return vectors.astype(np.float64), ids, facts


def candidate(gguf_path: Path, texts: list[str], threads: int) -> tuple[np.ndarray, list[list[int]], dict]:
    """Embeds with the GGUF through node-llama-cpp; returns unit vectors, token ids and run facts."""
    with tempfile.TemporaryDirectory() as tmp:
        texts_path = Path(tmp) / "texts.json"
        out_path = Path(tmp) / "out.json"
        texts_path.write_text(json.dumps(texts), encoding="utf-8")
        cmd = ["node", str(HERE / "embed_gguf.mjs"), str(gguf_path), str(texts_path), str(out_path), str(threads)]
        # Run from the repo root so node resolves the project's node-llama-cpp.
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        if proc.returncode != 0 or not out_path.is_file():
            raise SystemExit(f"embed_gguf.mjs failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        out = json.loads(out_path.read_text(encoding="utf-8"))
    vectors = np.array([r["vector"] for r in out["results"]], dtype=np.float64)
    ids = [r["ids"] for r in out["results"]]
    facts = {
        "runtime": "node-llama-cpp " + node_llama_version(),
        "threads": threads,
        "loadMs": round(out["loadMs"], 1),
        "embedSeconds": round(out["embedMs"] / 1000, 3),
        "trainContextSize": out["trainContextSize"],
        "embeddingSize": out["embeddingSize"],
        "poolingType": out["poolingType"],
    }
    return vectors, ids, facts


def node_llama_version() -> str:
    pkg = REPO / "node_modules" / "node-llama-cpp" / "package.json"
    try:
        return json.loads(pkg.read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("gguf", type=Path)
    parser.add_argument("--texts", type=Path, default=DEFAULT_TEXTS)
    parser.add_argument("--json", type=Path, help="write the full report here")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-mean", type=float, default=0.99)
    parser.add_argument("--label", help="model label for the report")
    parser.add_argument("--reference-cache", type=Path,
                        help="keep the reference run here (.npz) and reuse it: one torch run for several GGUFs of one model")
    args = parser.parse_args(argv)

    texts = read_texts(args.texts)
    key = hashlib.sha256(json.dumps([str(args.model_dir.resolve()), texts]).encode()).hexdigest()
    cache = args.reference_cache
    if cache and cache.is_file() and str(np.load(cache, allow_pickle=False)["key"]) == key:
        z = np.load(cache, allow_pickle=False)
        ref_vecs, ref_ids, ref_facts = z["vectors"], json.loads(str(z["ids"])), json.loads(str(z["facts"]))
    else:
        ref_vecs, ref_ids, ref_facts = reference(args.model_dir, texts)
        if cache:
            np.savez(cache, key=key, vectors=ref_vecs, ids=json.dumps(ref_ids), facts=json.dumps(ref_facts))
    gg_vecs, gg_ids, gg_facts = candidate(args.gguf, texts, args.threads)
    if ref_vecs.shape != gg_vecs.shape:
        raise SystemExit(f"shape mismatch: reference {ref_vecs.shape}, gguf {gg_vecs.shape}")

    cos = np.sum(ref_vecs * gg_vecs, axis=1)
    # Nearest neighbour of each text among the others, under each model.
    def nn(v: np.ndarray) -> np.ndarray:
        sims = v @ v.T
        np.fill_diagonal(sims, -np.inf)
        return sims.argmax(axis=1)
    nn_agree = float(np.mean(nn(ref_vecs) == nn(gg_vecs)))
    ref_sims, gg_sims = ref_vecs @ ref_vecs.T, gg_vecs @ gg_vecs.T
    iu = np.triu_indices(len(texts), 1)
    pair_max_abs = float(np.max(np.abs(ref_sims[iu] - gg_sims[iu])))

    mismatches = []
    for i, (a, b) in enumerate(zip(ref_ids, gg_ids)):
        if a != b:
            first = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
            mismatches.append({"index": i, "text": texts[i][:80], "hfLength": len(a), "ggufLength": len(b),
                               "firstDiffAt": first, "hf": a[first:first + 8], "gguf": b[first:first + 8],
                               "cosine": round(float(cos[i]), 6)})
    truncated = [i for i, ids in enumerate(ref_ids) if len(ids) >= ref_facts["maxSeqLength"]]

    # Separates converter/runtime error from tokenizer divergence (e.g. HF's [UNK] for words over 100 chars).
    matched = np.array([i for i in range(len(texts)) if ref_ids[i] == gg_ids[i]], dtype=int)
    cos_matched = cos[matched] if len(matched) else np.array([np.nan])
    order = np.argsort(cos)
    report = {
        "model": args.label or args.model_dir.name,
        "gguf": {"path": os.path.relpath(args.gguf.resolve(), REPO), "bytes": args.gguf.stat().st_size, "sha256": sha256(args.gguf)},
        "texts": {"path": os.path.relpath(args.texts.resolve(), REPO), "count": len(texts)},
        "reference": ref_facts,
        "candidate": gg_facts,
        "cosine": {"mean": round(float(cos.mean()), 6), "min": round(float(cos.min()), 6),
                   "p05": round(float(np.percentile(cos, 5)), 6), "max": round(float(cos.max()), 6)},
        "cosineWhereTokenIdsMatch": {"count": int(len(matched)), "mean": round(float(cos_matched.mean()), 6),
                                     "min": round(float(cos_matched.min()), 6)},
        "worst": [{"index": int(i), "cosine": round(float(cos[i]), 6), "text": texts[i][:80]} for i in order[:5]],
        "nearestNeighbourAgreement": round(nn_agree, 4),
        "pairwiseSimilarityMaxAbsDiff": round(pair_max_abs, 6),
        "tokenIds": {"matching": len(texts) - len(mismatches), "mismatching": len(mismatches), "mismatches": mismatches},
        "truncatedByReference": truncated,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    c = report["cosine"]
    print(f"{report['model']}: {len(texts)} texts, cosine mean {c['mean']:.6f} min {c['min']:.6f} p05 {c['p05']:.6f}")
    cm = report["cosineWhereTokenIdsMatch"]
    print(f"where token ids match ({cm['count']} texts): mean {cm['mean']:.6f} min {cm['min']:.6f}")
    print(f"nearest-neighbour agreement {nn_agree:.3f}; max |pairwise sim diff| {pair_max_abs:.5f}")
    print(f"token ids: {report['tokenIds']['matching']} match, {len(mismatches)} differ")
    for m in mismatches:
        print(f"  #{m['index']} at {m['firstDiffAt']}: hf {m['hf']} vs gguf {m['gguf']} ({m['text']!r})")
    if truncated:
        print(f"warning: reference truncated texts {truncated} at {ref_facts['maxSeqLength']} tokens; the GGUF did not")
    print(f"reference {ref_facts['embedSeconds']} s; gguf {gg_facts['embedSeconds']} s on {args.threads} threads (load {gg_facts['loadMs']} ms)")
    if c["mean"] < args.min_mean:
        print(f"FAIL: mean cosine {c['mean']:.6f} < {args.min_mean}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

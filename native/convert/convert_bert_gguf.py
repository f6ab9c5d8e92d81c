#!/usr/bin/env python3
"""Convert a sentence-transformers BERT model directory to a llama.cpp BERT GGUF.

Usage: convert_bert_gguf.py MODEL_DIR OUT.gguf [--type f16|q8_0|f32] [--name NAME]
                            [--query-prefix TEXT] [--document-prefix TEXT] [--license ID]

MODEL_DIR holds config.json, model.safetensors and tokenizer.json (as the Hugging Face
and sentence-transformers layouts do); modules.json + <pooling>/config.json give the
pooling, sentence_bert_config.json the maximum sequence length used in training.

Needs only numpy, safetensors and gguf (llama.cpp's own writer): no torch. Metadata keys,
tensor names and the WordPiece "phantom space" vocabulary follow llama.cpp's
convert_hf_to_gguf.py (class BertModel) and src/llama-vocab.cpp at the revision that
node-llama-cpp 3.22.1 ships; this is an independent, smaller implementation of that
layout for plain BERT encoders. The output is deterministic: the same inputs and package
versions give a byte-identical file.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

import gguf

# llama.cpp marks word-initial WordPiece pieces with U+2581 and strips "##" from
# continuation pieces (llm_tokenizer_wpm_session prepends U+2581 to each word).
PHANTOM_SPACE = "\u2581"

# HF tensor name (after dropping a leading "bert.") -> GGUF name; {i} is the layer.
GLOBAL_TENSORS = {
    "embeddings.word_embeddings.weight": "token_embd.weight",
    "embeddings.position_embeddings.weight": "position_embd.weight",
    "embeddings.token_type_embeddings.weight": "token_types.weight",
    "embeddings.LayerNorm.weight": "token_embd_norm.weight",
    "embeddings.LayerNorm.bias": "token_embd_norm.bias",
}
LAYER_TENSORS = {
    "attention.self.query": "attn_q",
    "attention.self.key": "attn_k",
    "attention.self.value": "attn_v",
    "attention.output.dense": "attn_output",
    "attention.output.LayerNorm": "attn_output_norm",
    "intermediate.dense": "ffn_up",
    "output.dense": "ffn_down",
    "output.LayerNorm": "layer_output_norm",
}
# Present in many checkpoints but unused by an embedding-only encoder.
SKIPPED_PREFIXES = ("pooler.", "cls.", "embeddings.position_ids")

# llama.cpp keeps these tensors in F32 whatever the file type: it reads token type
# and position embeddings as F32 (an F16 token_types.weight aborts the process).
ALWAYS_F32 = {"token_types.weight", "position_embd.weight"}

FILE_TYPES = {
    "f32": (gguf.LlamaFileType.ALL_F32, gguf.GGMLQuantizationType.F32),
    "f16": (gguf.LlamaFileType.MOSTLY_F16, gguf.GGMLQuantizationType.F16),
    "q8_0": (gguf.LlamaFileType.MOSTLY_Q8_0, gguf.GGMLQuantizationType.Q8_0),
}

# Keys that llama.cpp reads but the PyPI gguf package (0.19.0) has no constant or method for.
KEY_CLS_ID = "tokenizer.ggml.cls_token_id"
KEY_NORMALIZER_LOWERCASE = "tokenizer.ggml.normalizer.lowercase"
KEY_NORMALIZER_STRIP_ACCENTS = "tokenizer.ggml.normalizer.strip_accents"

POOLING = {"mean": gguf.PoolingType.MEAN, "cls": gguf.PoolingType.CLS, "lasttoken": gguf.PoolingType.LAST}


class ConversionError(Exception):
    """A model directory that this converter cannot turn into a faithful GGUF."""


def read_json(path: Path) -> dict:
    """Reads a JSON file, naming the file in the error if it is missing or malformed."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise ConversionError(f"missing {path.name} in {path.parent}") from None
    except json.JSONDecodeError as err:
        raise ConversionError(f"{path} is not valid JSON: {err}") from None


def detect_pooling(model_dir: Path) -> tuple[str, gguf.PoolingType]:
    """Finds the sentence-transformers pooling mode (mean for MiniLM, CLS for bge)."""
    modules_path = model_dir / "modules.json"
    if not modules_path.is_file():
        raise ConversionError(f"no modules.json in {model_dir}: pass a sentence-transformers model directory")
    pooling_dir = next((m["path"] for m in read_json(modules_path) if m["type"].endswith("Pooling")), None)
    if pooling_dir is None:
        raise ConversionError("modules.json lists no Pooling module")
    cfg = read_json(model_dir / pooling_dir / "config.json")
    modes = [name for name in ("cls", "mean", "max", "mean_sqrt_len", "lasttoken") if cfg.get(f"pooling_mode_{name}_token") or cfg.get(f"pooling_mode_{name}_tokens")]
    if cfg.get("pooling_mode") in POOLING:
        modes = [cfg["pooling_mode"]]
    if len(modes) != 1 or modes[0] not in POOLING:
        raise ConversionError(f"pooling {modes or cfg} is not one llama.cpp supports (mean, cls, lasttoken)")
    return modes[0], POOLING[modes[0]]


def has_normalize_module(model_dir: Path) -> bool:
    """Whether the sentence-transformers pipeline L2-normalises its output."""
    return any(m["type"].endswith("Normalize") for m in read_json(model_dir / "modules.json"))


def build_vocab(tokenizer: dict, vocab_size: int) -> tuple[list[str], list[int], dict[str, int]]:
    """Turns a WordPiece tokenizer.json into llama.cpp's phantom-space token list and types."""
    model = tokenizer.get("model", {})
    if model.get("type") != "WordPiece":
        raise ConversionError(f"tokenizer model is {model.get('type')!r}, expected WordPiece")
    if model.get("continuing_subword_prefix", "##") != "##":
        raise ConversionError("only the '##' continuation prefix is supported")
    vocab: dict[str, int] = model["vocab"]
    special = {t["content"]: t["id"] for t in tokenizer.get("added_tokens", []) if t.get("special")}
    by_id: dict[int, str] = {i: tok for tok, i in vocab.items()}
    for tok, i in special.items():
        by_id.setdefault(i, tok)
    if max(by_id) >= vocab_size:
        raise ConversionError(f"token id {max(by_id)} is outside the embedding matrix ({vocab_size} rows)")

    tokens: list[str] = []
    types: list[int] = []
    for i in range(vocab_size):
        tok = by_id.get(i)
        if tok is None:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif tok in special:
            tokens.append(tok)  # control tokens keep their text: llama.cpp never phantom-prefixes them
            types.append(gguf.TokenType.CONTROL)
        else:
            tokens.append(tok[2:] if tok.startswith("##") else PHANTOM_SPACE + tok)
            types.append(gguf.TokenType.NORMAL)

    # Duplicate strings make llama.cpp assert and kill the process, so refuse them here.
    seen: dict[str, int] = {}
    for i, tok in enumerate(tokens):
        if tok in seen:
            raise ConversionError(f"tokens {seen[tok]} and {i} both map to {tok!r}")
        seen[tok] = i
    return tokens, types, special


def special_ids(special: dict[str, int], tok_cfg: dict) -> dict[str, int]:
    """Resolves the special ids; bos is [CLS], the token llama.cpp prepends for a WordPiece vocabulary."""
    def resolve(key: str, default: str) -> int:
        value = tok_cfg.get(key, default)
        if isinstance(value, dict):
            value = value.get("content")
        if value not in special:
            raise ConversionError(f"{key} {value!r} is not a special token in tokenizer.json")
        return special[value]

    ids = {
        "cls": resolve("cls_token", "[CLS]"),
        "sep": resolve("sep_token", "[SEP]"),
        "unk": resolve("unk_token", "[UNK]"),
        "pad": resolve("pad_token", "[PAD]"),
        "mask": resolve("mask_token", "[MASK]"),
    }
    ids["bos"] = ids["cls"]
    return ids


def normalizer_flags(tokenizer: dict) -> tuple[bool, bool]:
    """Reads BertNormalizer's lowercase/strip_accents; strip_accents=None follows lowercase, as in HF."""
    norm = tokenizer.get("normalizer") or {}
    if norm.get("type") != "BertNormalizer":
        raise ConversionError(f"normalizer {norm.get('type')!r} is not BertNormalizer")
    if (tokenizer.get("pre_tokenizer") or {}).get("type") != "BertPreTokenizer":
        raise ConversionError("pre-tokenizer is not BertPreTokenizer")
    lowercase = bool(norm.get("lowercase", True))
    strip = norm.get("strip_accents")
    return lowercase, lowercase if strip is None else bool(strip)


def map_tensor_name(name: str, n_layers: int) -> str | None:
    """Maps an HF BERT tensor name to its GGUF name, None for tensors an encoder does not use."""
    if name.startswith("bert."):
        name = name[len("bert."):]
    if name.startswith(SKIPPED_PREFIXES):
        return None
    if name in GLOBAL_TENSORS:
        return GLOBAL_TENSORS[name]
    parts = name.split(".")
    if len(parts) >= 5 and parts[0] == "encoder" and parts[1] == "layer" and parts[2].isdigit():
        layer = int(parts[2])
        stem, leaf = ".".join(parts[3:-1]), parts[-1]
        if layer < n_layers and stem in LAYER_TENSORS and leaf in ("weight", "bias"):
            return f"blk.{layer}.{LAYER_TENSORS[stem]}.{leaf}"
    raise ConversionError(f"unexpected tensor {name!r}: not a plain BERT encoder")


def tensor_qtype(gguf_name: str, data: np.ndarray, wanted: gguf.GGMLQuantizationType) -> gguf.GGMLQuantizationType:
    """Chooses the stored type: biases, norms and small embeddings stay F32 as llama.cpp expects."""
    if data.ndim <= 1 or gguf_name in ALWAYS_F32 or gguf_name.endswith("_norm.weight"):
        return gguf.GGMLQuantizationType.F32
    if wanted == gguf.GGMLQuantizationType.Q8_0 and data.shape[-1] % 32 != 0:
        return gguf.GGMLQuantizationType.F16  # Q8_0 blocks are 32 values wide
    return wanted


def convert(model_dir: Path, out_path: Path, ftype_name: str, name: str | None,
            query_prefix: str, document_prefix: str, license_id: str | None) -> None:
    """Writes OUT.gguf from MODEL_DIR; raises ConversionError on anything it cannot represent."""
    config = read_json(model_dir / "config.json")
    if config.get("model_type") != "bert" or "BertModel" not in config.get("architectures", ["BertModel"]):
        raise ConversionError(f"model_type {config.get('model_type')!r} / {config.get('architectures')} is not a BERT encoder")
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise ConversionError("only absolute position embeddings are supported")
    if config.get("hidden_act", "gelu") != "gelu":
        raise ConversionError(f"hidden_act {config['hidden_act']!r}: llama.cpp's BERT graph uses GELU")

    tokenizer = read_json(model_dir / "tokenizer.json")
    tok_cfg = read_json(model_dir / "tokenizer_config.json") if (model_dir / "tokenizer_config.json").is_file() else {}
    st_cfg = read_json(model_dir / "sentence_bert_config.json") if (model_dir / "sentence_bert_config.json").is_file() else {}
    pooling_name, pooling = detect_pooling(model_dir)
    if not has_normalize_module(model_dir):
        print("note: the model has no Normalize module; L2-normalise its vectors yourself anyway", file=sys.stderr)

    weights_path = model_dir / "model.safetensors"
    if not weights_path.is_file():
        raise ConversionError(f"missing model.safetensors in {model_dir}")
    weights = load_file(str(weights_path))

    n_layers = int(config["num_hidden_layers"])
    vocab_size = int(config["vocab_size"])
    tokens, toktypes, special = build_vocab(tokenizer, vocab_size)
    ids = special_ids(special, tok_cfg)
    lowercase, strip_accents = normalizer_flags(tokenizer)
    max_positions = int(config["max_position_embeddings"])
    max_seq = int(st_cfg.get("max_seq_length", max_positions))

    file_type, wanted_qtype = FILE_TYPES[ftype_name]
    arch = gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT]
    writer = gguf.GGUFWriter(str(out_path), arch)

    writer.add_name(name or model_dir.name)
    if license_id:
        writer.add_license(license_id)
    writer.add_file_type(file_type)
    if wanted_qtype == gguf.GGMLQuantizationType.Q8_0:
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)

    writer.add_context_length(max_positions)
    writer.add_embedding_length(int(config["hidden_size"]))
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_block_count(n_layers)
    writer.add_head_count(int(config["num_attention_heads"]))
    writer.add_layer_norm_eps(float(config.get("layer_norm_eps", 1e-12)))
    writer.add_causal_attention(False)
    writer.add_pooling_type(pooling)

    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(toktypes)
    writer.add_token_type_count(int(config.get("type_vocab_size", 2)))
    writer.add_bos_token_id(ids["bos"])
    # No eos id: llama.cpp's own BERT default is none ([SEP] ends the input via the sep id), and an
    # eos that is not an end-of-generation token only earns a load-time warning.
    writer.add_unk_token_id(ids["unk"])
    writer.add_sep_token_id(ids["sep"])
    writer.add_pad_token_id(ids["pad"])
    writer.add_uint32(KEY_CLS_ID, ids["cls"])
    writer.add_mask_token_id(ids["mask"])
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    # llama.cpp defaults lowercase to false: an uncased model must say so or "Parse" != "parse".
    writer.add_bool(KEY_NORMALIZER_LOWERCASE, lowercase)
    writer.add_bool(KEY_NORMALIZER_STRIP_ACCENTS, strip_accents)

    # How Loupe should use the file; llama.cpp ignores keys it does not know.
    writer.add_string("loupe.embedding.pooling", pooling_name)
    writer.add_uint32("loupe.embedding.max_sequence_tokens", max_seq)
    writer.add_string("loupe.embedding.query_prefix", query_prefix)
    writer.add_string("loupe.embedding.document_prefix", document_prefix)

    used = set()
    for hf_name in sorted(weights, key=_tensor_order):
        gguf_name = map_tensor_name(hf_name, n_layers)
        if gguf_name is None:
            continue
        data = np.ascontiguousarray(weights[hf_name].astype(np.float32))
        qtype = tensor_qtype(gguf_name, data, wanted_qtype)
        if qtype == gguf.GGMLQuantizationType.F32:
            writer.add_tensor(gguf_name, data)
        elif qtype == gguf.GGMLQuantizationType.F16:
            writer.add_tensor(gguf_name, data.astype(np.float16))
        else:
            writer.add_tensor(gguf_name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
        used.add(gguf_name)

    expected = set(GLOBAL_TENSORS.values()) | {
        f"blk.{i}.{t}.{leaf}" for i in range(n_layers) for t in LAYER_TENSORS.values() for leaf in ("weight", "bias")}
    if missing := sorted(expected - used):
        raise ConversionError(f"checkpoint lacks tensors: {', '.join(missing[:5])}")

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _tensor_order(name: str) -> tuple:
    """Sorts embeddings first, then layers numerically, so the output order never depends on the file's."""
    parts = name.split(".")
    layer = next((int(p) for p in parts if p.isdigit()), -1)
    return (layer, name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path, help="sentence-transformers model directory")
    parser.add_argument("out", type=Path, help="output .gguf path")
    parser.add_argument("--type", choices=sorted(FILE_TYPES), default="q8_0", help="weight type (default q8_0)")
    parser.add_argument("--name", help="general.name (default: the directory name)")
    parser.add_argument("--license", dest="license_id", help="general.license, e.g. apache-2.0")
    parser.add_argument("--query-prefix", default="", help="text the model expects before queries")
    parser.add_argument("--document-prefix", default="", help="text the model expects before documents")
    args = parser.parse_args(argv)
    try:
        convert(args.model_dir, args.out, args.type, args.name, args.query_prefix, args.document_prefix, args.license_id)
    except ConversionError as err:
        print(f"convert_bert_gguf: {err}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

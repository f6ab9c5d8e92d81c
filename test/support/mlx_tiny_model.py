#!/usr/bin/env python3
"""Writes a tiny LLaMA-architecture model in MLX format (config.json, model.safetensors,
tokenizer.json, tokenizer_config.json) that mlx_lm.server can serve. Nothing is downloaded.

The weights are scripted, like src/tools/tiny-llama.ts: block outputs are zero, so the final
hidden state is the last token's embedding; each token of SENTENCE has a one-hot embedding on
its own slot, every other token shares slot 0, and lm_head maps slot 0 to the sentence's first
token, slot k to token k+1 and the last slot to <|im_end|> (the EOS). Any chat prompt therefore
gets exactly SENTENCE, greedily. With the EOS suppressed (logit_bias) the model repeats the
sentence forever, which tests use to keep a stream running.

Usage: mlx_tiny_model.py OUT_DIR
"""
import json
import os
import sys

import mlx.core as mx
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

# What the model says; the pieces are byte-level BPE tokens (Ġ = a leading space).
SENTENCE_PIECES = ["Hello", "Ġfrom", "Ġthe", "Ġtiny", "ĠMLX", "Ġmodel", "."]
SENTENCE = "Hello from the tiny MLX model."
HIDDEN = 64
HEADS = 4
FFN = 64
LOGIT_WEIGHT = 10.0
CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def build(out_dir: str) -> dict:
    os.makedirs(out_dir, exist_ok=True)
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {c: i for i, c in enumerate(alphabet)}
    for piece in SENTENCE_PIECES:
        if piece not in vocab:
            vocab[piece] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<|im_start|>", "<|im_end|>"])
    tok.save(os.path.join(out_dir, "tokenizer.json"))
    im_end = tok.token_to_id("<|im_end|>")
    n_vocab = tok.get_vocab_size()
    decoded = tok.decode([vocab[p] for p in SENTENCE_PIECES])
    assert decoded == SENTENCE, decoded

    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump({
            "tokenizer_class": "PreTrainedTokenizerFast",
            "eos_token": "<|im_end|>",
            "pad_token": "<|im_end|>",
            "bos_token": None,
            "add_bos_token": False,
            "model_max_length": 2048,
            "chat_template": CHAT_TEMPLATE,
        }, f, indent=1)
    with open(os.path.join(out_dir, "special_tokens_map.json"), "w") as f:
        json.dump({"eos_token": "<|im_end|>", "pad_token": "<|im_end|>"}, f)

    config = {
        "model_type": "llama",
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": HIDDEN,
        "intermediate_size": FFN,
        "num_attention_heads": HEADS,
        "num_key_value_heads": HEADS,
        "num_hidden_layers": 1,
        "rms_norm_eps": 1e-5,
        "vocab_size": n_vocab,
        "max_position_embeddings": 2048,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
        "eos_token_id": im_end,
        "torch_dtype": "float32",
    }
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=1)

    slot = {vocab[p]: k + 1 for k, p in enumerate(SENTENCE_PIECES)}
    embed = [[0.0] * HIDDEN for _ in range(n_vocab)]
    for tid in range(n_vocab):
        embed[tid][slot.get(tid, 0)] = 1.0
    head = [[0.0] * HIDDEN for _ in range(n_vocab)]
    chain = [vocab[p] for p in SENTENCE_PIECES] + [im_end]
    for s, tid in enumerate(chain):
        head[tid][s] = LOGIT_WEIGHT
    z = lambda *shape: mx.zeros(shape, dtype=mx.float32)
    o = lambda n: mx.ones((n,), dtype=mx.float32)
    weights = {
        "model.embed_tokens.weight": mx.array(embed, dtype=mx.float32),
        "lm_head.weight": mx.array(head, dtype=mx.float32),
        "model.norm.weight": o(HIDDEN),
        "model.layers.0.input_layernorm.weight": o(HIDDEN),
        "model.layers.0.post_attention_layernorm.weight": o(HIDDEN),
        "model.layers.0.self_attn.q_proj.weight": z(HIDDEN, HIDDEN),
        "model.layers.0.self_attn.k_proj.weight": z(HIDDEN, HIDDEN),
        "model.layers.0.self_attn.v_proj.weight": z(HIDDEN, HIDDEN),
        "model.layers.0.self_attn.o_proj.weight": z(HIDDEN, HIDDEN),
        "model.layers.0.mlp.gate_proj.weight": z(FFN, HIDDEN),
        "model.layers.0.mlp.up_proj.weight": z(FFN, HIDDEN),
        "model.layers.0.mlp.down_proj.weight": z(HIDDEN, FFN),
    }
    mx.save_safetensors(os.path.join(out_dir, "model.safetensors"), weights, metadata={"format": "mlx"})
    return {"dir": out_dir, "sentence": SENTENCE, "eos_id": im_end, "vocab_size": n_vocab}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: mlx_tiny_model.py OUT_DIR")
    print(json.dumps(build(sys.argv[1])))

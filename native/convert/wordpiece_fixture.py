#!/usr/bin/env python3
"""Reference token ids for Loupe's WordPiece tokenizer (src/core/tokenizers/wordpiece.ts), from
Hugging Face `tokenizers` (the Rust implementation) on the model's own tokenizer.json.

Usage: wordpiece_fixture.py TOKENIZER.json OUT.json

Texts: test/fixtures/parity-texts.txt, edge cases (accents, CJK, control characters, emoji, a
word over 100 characters, whitespace runs), and windows of Loupe's own source files. Truncation
and padding in tokenizer.json are switched off: Loupe fits chunks to the token budget itself.
Pinned: tokenizers==0.22.1 (see requirements-onnx.txt).
"""
import json
import sys
from pathlib import Path

from tokenizers import Tokenizer

REPO = Path(__file__).resolve().parents[2]


def parity_texts():
    raw = (REPO / "test" / "fixtures" / "parity-texts.txt").read_text(encoding="utf-8")
    parts = raw.split("\n%%\n")
    return [p.strip("\n") for p in parts[1:] if p.strip()]


EDGE = [
    "",
    "   ",
    "Café naïve résumé Ångström façade",
    "ÉCOLE Straße İstanbul ǅ",
    "中文分词测试 and 日本語のテキスト mixed with 한국어",
    "tab\there\x00nul\x07bell\u200bzero-width\ufeffbom",
    "emoji 🎉🚀 in code // TODO: fix 👍",
    "a" * 99 + " " + "b" * 100 + " " + "c" * 101,
    "sha256:" + "0123456789abcdef" * 8,
    "snake_case_name camelCaseName PascalCase SCREAMING_CASE kebab-case",
    "x=a+b*c/d-e%f^g&h|i~j!k?l;m:n,o.p<q>r[s]{t}(u)'v\"w`x@y#z$",
    "line1\r\nline2\rline3\n\n\n   indented",
    "\u00a0non-breaking\u2003em-space\u3000ideographic",
    "ﬁ ligature, ① circled, ＡＢＣ fullwidth",
]


def source_windows():
    out = []
    for rel in ["src/core/engine.ts", "src/core/chunking.ts", "src/core/lexical/bm25.ts", "native/convert/convert_bert_gguf.py"]:
        lines = (REPO / rel).read_text(encoding="utf-8").split("\n")
        for i in range(0, min(len(lines), 240), 24):
            out.append("\n".join(lines[i : i + 24]))
    return out


def main():
    tok = Tokenizer.from_file(sys.argv[1])
    tok.no_truncation()
    tok.no_padding()
    texts = parity_texts() + EDGE + source_windows()
    cases = [{"text": t, "ids": tok.encode(t).ids} for t in texts]
    Path(sys.argv[2]).write_text(json.dumps({"tokenizer": "all-MiniLM-L6-v2 tokenizer.json (sha256 da0e7993…)", "reference": "huggingface tokenizers 0.22.1", "cases": cases}, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(cases)} cases, {sum(len(c['ids']) for c in cases)} tokens")


if __name__ == "__main__":
    main()

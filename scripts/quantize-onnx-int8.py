"""Dynamic int8 quantization of Loupe's ONNX MiniLM (issue 17), run by scripts/make-int8-model.mjs.

    python scripts/quantize-onnx-int8.py <fp32 model.onnx> <out.onnx>

Needs `onnxruntime` and `onnx` (pinned versions: scripts/make-int8-model.mjs). Weights of every
MatMul become int8, per output channel; activations are quantized at run time (uint8, dynamic
range). The embedding tables (Gather) stay fp32. The output is deterministic for the same inputs
and versions, so its sha256 is pinned and checked by the caller.
"""
import sys

from onnxruntime.quantization import QuantType, quantize_dynamic


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    quantize_dynamic(
        src,
        dst,
        weight_type=QuantType.QInt8,
        per_channel=True,
        reduce_range=False,
        op_types_to_quantize=["MatMul"],
    )


if __name__ == "__main__":
    main()

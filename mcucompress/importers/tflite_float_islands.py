"""Fold DEQUANTIZE -> ELU (float32) -> QUANTIZE inside an int8 graph into one int8 op.

TensorFlow's converter keeps ELU in float in an otherwise int8 model. The three ops map each of
the 256 int8 inputs to one int8 output, so the island is exactly a table (kind ``float_elu``,
quantize/lut_ops.py: tflite-micro's float Dequantize, expm1 and Quantize arithmetic).
"""

from __future__ import annotations

from mcucompress.importers.tflite_flatbuffer import RawOp, RawTensor
from mcucompress.importers.tflite_ops import Context
from mcucompress.ir.graph import Op

# the float op of an island -> the int8 kind the island becomes
ISLAND_KINDS = {"ELU": "float_elu"}


def fold_float_islands(ops: list, tensors: tuple[RawTensor, ...], ctx: Context, graph_outputs: set[int]) -> list:
    """``ops`` with each DEQUANTIZE(int8) -> float op -> QUANTIZE(int8) chain replaced by a ready
    IR Op; a chain whose float tensors have other readers or are graph outputs stays (and is
    then refused as an unsupported operator)."""
    consumers: dict[int, list] = {}
    for op in ops:
        for i in getattr(op, "inputs", ()):
            consumers.setdefault(i, []).append(op)
    folded: dict[int, Op] = {}
    skip: set[int] = set()
    for dequantize in ops:
        chain = _chain(dequantize, consumers, tensors, graph_outputs)
        if chain is None:
            continue
        middle, quantize = chain
        kind = ISLAND_KINDS[middle.opname]
        folded[dequantize.index] = Op(kind, f"op{middle.index}_{kind}", (ctx.name(dequantize.inputs[0]),),
                                      (ctx.name(quantize.outputs[0]),), {})
        skip.update((middle.index, quantize.index))
    kept = [op for op in ops if not isinstance(op, RawOp) or op.index not in skip]
    return [folded.get(op.index, op) if isinstance(op, RawOp) else op for op in kept]  # Ops: folded before


def _only_reader(tensor: int, consumers, graph_outputs: set[int]):
    readers = consumers.get(tensor, [])
    if tensor in graph_outputs or len(readers) != 1 or not isinstance(readers[0], RawOp):
        return None
    return readers[0]


def _chain(dequantize, consumers, tensors, graph_outputs) -> tuple[RawOp, RawOp] | None:
    if not isinstance(dequantize, RawOp) or dequantize.opname != "DEQUANTIZE" or len(dequantize.inputs) != 1 \
            or dequantize.inputs[0] < 0 or tensors[dequantize.inputs[0]].dtype != "int8" \
            or tensors[dequantize.outputs[0]].dtype != "float32":
        return None
    middle = _only_reader(dequantize.outputs[0], consumers, graph_outputs)
    if middle is None or middle.opname not in ISLAND_KINDS or middle.inputs != dequantize.outputs \
            or len(middle.outputs) != 1:
        return None
    quantize = _only_reader(middle.outputs[0], consumers, graph_outputs)
    if quantize is None or quantize.opname != "QUANTIZE" or quantize.inputs != middle.outputs \
            or len(quantize.outputs) != 1 \
            or tensors[quantize.outputs[0]].dtype != "int8":
        return None
    return middle, quantize

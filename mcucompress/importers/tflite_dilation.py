"""Fold SPACE_TO_BATCH_ND -> CONV_2D/DEPTHWISE_CONV_2D -> BATCH_TO_SPACE_ND into one dilated conv.

The TensorFlow converter expresses a dilated convolution that way. Splitting the padded input
into rate x rate phases, running a VALID stride-1 convolution on each and interleaving the
results is exactly a convolution with dilation ``rate`` over the same padded input; cropping
the result is the same as padding less. So the chain equals one conv with
``padding = (pad_top - crop_top, pad_bottom - crop_bottom, pad_left - crop_left, ...)``.
The padding cells hold the zero point in int8, i.e. real zero, as a conv's padding does.
"""

from __future__ import annotations

import numpy as np

from mcucompress.importers.tflite_flatbuffer import RawOp, RawTensor
from mcucompress.importers.tflite_ops import Context, _activation
from mcucompress.ir.graph import Op

_VALID = 1


def fold_dilated_convolutions(ops: list[RawOp], tensors: tuple[RawTensor, ...], ctx: Context,
                              graph_outputs: set[int]) -> list[RawOp | Op]:
    """``ops`` with every foldable chain replaced by a ready IR Op; other ops unchanged.

    A chain whose intermediate tensors are graph outputs or have other readers is left alone
    (and then fails as an unsupported operator)."""
    consumers: dict[int, list[RawOp]] = {}
    for op in ops:
        for i in op.inputs:
            consumers.setdefault(i, []).append(op)
    folded: dict[int, Op] = {}  # index of the SPACE_TO_BATCH_ND op -> replacement
    skip: set[int] = set()
    for s2b in ops:
        if s2b.opname != "SPACE_TO_BATCH_ND":
            continue
        chain = _chain(s2b, consumers)
        if chain is None or s2b.outputs[0] in graph_outputs or chain[0].outputs[0] in graph_outputs:
            continue
        conv, b2s = chain
        replacement = _fold(s2b, conv, b2s, tensors, ctx)
        if replacement is not None:
            folded[s2b.index] = replacement
            skip.update((conv.index, b2s.index))
    result: list[RawOp | Op] = []
    for op in ops:
        if op.index in folded:
            result.append(folded[op.index])
        elif op.index not in skip:
            result.append(op)
    return result


def _chain(s2b: RawOp, consumers) -> tuple[RawOp, RawOp] | None:
    users = consumers.get(s2b.outputs[0], [])
    if len(users) != 1 or users[0].opname not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        return None
    conv = users[0]
    if not conv.inputs or conv.inputs[0] != s2b.outputs[0]:
        return None
    after = consumers.get(conv.outputs[0], [])
    if len(after) != 1 or after[0].opname != "BATCH_TO_SPACE_ND":
        return None
    return conv, after[0]


def _const(tensors, index) -> np.ndarray | None:
    """The integer constant at ``index``, or None (absent, not constant, not integers)."""
    if index == -1 or index >= len(tensors):
        return None
    data = tensors[index].data
    return data if data is not None and data.dtype.kind == "i" else None


def _fold(s2b: RawOp, conv: RawOp, b2s: RawOp, tensors, ctx: Context) -> Op | None:
    if len(s2b.inputs) != 3 or len(b2s.inputs) != 3 or len(conv.inputs) < 2 or -1 in (s2b.inputs[0], conv.inputs[1]):
        return None
    block, pads = _const(tensors, s2b.inputs[1]), _const(tensors, s2b.inputs[2])
    block2, crops = _const(tensors, b2s.inputs[1]), _const(tensors, b2s.inputs[2])
    if any(a is None for a in (block, pads, block2, crops)) or (block.size, block2.size, pads.size, crops.size) != (2, 2, 4, 4):
        return None
    block, block2 = block.astype(np.int64).ravel(), block2.astype(np.int64).ravel()
    pads, crops = pads.astype(np.int64).reshape(-1, 2), crops.astype(np.int64).reshape(-1, 2)
    if not np.array_equal(block, block2) or block.min() < 1:
        return None
    o = conv.options
    if o is None or o.padding != _VALID or (o.strideH, o.strideW) != (1, 1) or \
            (o.dilationHFactor, o.dilationWFactor) != (1, 1):
        return None
    x, y = tensors[s2b.inputs[0]], tensors[b2s.outputs[0]]
    inner_in, inner_out = tensors[s2b.outputs[0]], tensors[conv.outputs[0]]
    if (inner_in.scale, inner_in.zero_point) != (x.scale, x.zero_point) or \
            (inner_out.scale, inner_out.zero_point) != (y.scale, y.zero_point):
        return None
    w = tensors[conv.inputs[1]].shape
    if len(x.shape) != 4 or len(y.shape) != 4 or len(w) != 4 or x.shape[0] != 1:
        return None
    padding = (int(pads[0, 0] - crops[0, 0]), int(pads[0, 1] - crops[0, 1]),
               int(pads[1, 0] - crops[1, 0]), int(pads[1, 1] - crops[1, 1]))
    if min(padding) < 0:
        return None
    rate = (int(block[0]), int(block[1]))
    for axis, (size, k, r) in enumerate(zip(x.shape[1:3], w[1:3], rate)):
        if size + padding[2 * axis] + padding[2 * axis + 1] - (k - 1) * r != y.shape[1 + axis]:
            return None
    kind = "conv2d" if conv.opname == "CONV_2D" else "depthwise_conv2d"
    attrs = {"stride": (1, 1), "dilation": rate, "padding": padding, "activation": _activation(conv)}
    if kind == "depthwise_conv2d":
        attrs["depth_multiplier"] = y.shape[3] // x.shape[3]
    bias = conv.inputs[2] if len(conv.inputs) > 2 else -1
    inputs = (ctx.name(s2b.inputs[0]), ctx.name(conv.inputs[1]), ctx.name(bias))
    return Op(kind, f"op{conv.index}_{kind}", inputs, (ctx.name(b2s.outputs[0]),), attrs)

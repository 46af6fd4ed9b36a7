"""Translate one TFLite operator into one IR Op (kind + attrs), a table of small functions.

Each converter receives the raw op, the raw tensors and the IR tensor names, and returns an Op.
Padding is resolved here to explicit (top, bottom, left, right) exactly as TFLite computes it.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from mcucompress.errors import McuError
from mcucompress.importers.tflite_flatbuffer import RawOp, RawTensor
from mcucompress.ir.graph import Op

# schema ActivationFunctionType: NONE=0, RELU=1, RELU_N1_TO_1=2, RELU6=3, TANH=4, SIGN_BIT=5
_ACTIVATIONS = {0: "none", 1: "relu", 3: "relu6"}
_ACTIVATION_NAMES = {2: "RELU_N1_TO_1", 4: "TANH", 5: "SIGN_BIT"}
_SAME, _VALID = 0, 1


class Context:
    """What a converter may look at: raw tensors by index and the IR name of each tensor."""

    def __init__(self, tensors: tuple[RawTensor, ...], names: dict[int, str]):
        self.tensors = tensors
        self.names = names

    def name(self, index: int) -> str | None:
        return None if index == -1 else self.names[index]

    def shape(self, index: int) -> tuple[int, ...]:
        return self.tensors[index].shape

    def constant(self, op: RawOp, index: int, what: str) -> np.ndarray:
        data = self.tensors[index].data if index != -1 else None
        if data is None:
            raise McuError(f"operator {op.index} ({op.opname}): {what} must be a constant tensor")
        return data


def _activation(op: RawOp) -> str:
    code = int(getattr(op.options, "fusedActivationFunction", 0) or 0)
    if code in _ACTIVATIONS:
        return _ACTIVATIONS[code]
    raise McuError(f"operator {op.index} ({op.opname}): fused activation "
                   f"{_ACTIVATION_NAMES.get(code, code)} is not supported")


def _arity(op: RawOp, low: int, high: int | None = None) -> None:
    high = low if high is None else high
    if not low <= len(op.inputs) <= high:
        raise McuError(f"operator {op.index} ({op.opname}) has {len(op.inputs)} inputs; expected {low}..{high}")


def _rank(op: RawOp, ctx: Context, index: int, rank: int, what: str) -> tuple[int, ...]:
    shape = ctx.shape(index)
    if len(shape) != rank:
        raise McuError(f"operator {op.index} ({op.opname}): {what} has shape {list(shape)}; expected rank {rank}")
    return shape


def resolve_padding(op: RawOp, padding_code: int, in_hw, kernel_hw, stride, dilation, out_hw):
    """TFLite's ComputePaddingHeightWidth: SAME puts the odd pixel at the bottom/right."""
    pads = []
    for size, k, s, d, out in zip(in_hw, kernel_hw, stride, dilation, out_hw):
        if s < 1 or d < 1:
            raise McuError(f"operator {op.index} ({op.opname}): stride {s} / dilation {d} must be >= 1")
        eff = (k - 1) * d + 1
        if padding_code == _SAME:
            expected = (size + s - 1) // s
        elif padding_code == _VALID:
            expected = (size - eff + s) // s
        else:
            raise McuError(f"operator {op.index} ({op.opname}): unknown padding code {padding_code}")
        if expected != out:
            raise McuError(f"operator {op.index} ({op.opname}): output size {out} does not match "
                           f"input {size}, kernel {k}, stride {s} (expected {expected})")
        total = max(0, (out - 1) * s + eff - size) if padding_code == _SAME else 0
        pads.append((total // 2, total - total // 2))
    (top, bottom), (left, right) = pads
    return (top, bottom, left, right)


def _conv_shapes(op: RawOp, ctx: Context):
    """Input, filter and output shapes of a convolution (input, filter, optional bias), all rank 4."""
    _arity(op, 2, 3)
    return (_rank(op, ctx, op.inputs[0], 4, "input"), _rank(op, ctx, op.inputs[1], 4, "filter"),
            _rank(op, ctx, op.outputs[0], 4, "output"))


def _conv2d(op: RawOp, ctx: Context) -> Op:
    x, w, y = _conv_shapes(op, ctx)
    o = op.options
    if w[3] != x[3]:
        raise McuError(f"operator {op.index} (CONV_2D): filter depth {w[3]} differs from input depth {x[3]} "
                       "(grouped convolution is not supported)")
    if w[0] != y[3]:
        raise McuError(f"operator {op.index} (CONV_2D): filter count {w[0]} differs from output depth {y[3]}")
    stride, dilation = (o.strideH, o.strideW), (o.dilationHFactor, o.dilationWFactor)
    padding = resolve_padding(op, o.padding, x[1:3], w[1:3], stride, dilation, y[1:3])
    return Op("conv2d", "", _ins(op, ctx, 3), _outs(op, ctx),
              {"stride": stride, "dilation": dilation, "padding": padding, "activation": _activation(op)})


def _depthwise(op: RawOp, ctx: Context) -> Op:
    x, w, y = _conv_shapes(op, ctx)
    o = op.options
    if y[3] % x[3] or w[3] != y[3] or w[0] != 1:
        raise McuError(f"operator {op.index} (DEPTHWISE_CONV_2D): filter {list(w)} does not fit input "
                       f"{list(x)} and output {list(y)}")
    stride, dilation = (o.strideH, o.strideW), (o.dilationHFactor, o.dilationWFactor)
    padding = resolve_padding(op, o.padding, x[1:3], w[1:3], stride, dilation, y[1:3])
    # The stored depthMultiplier is sometimes stale; the shapes are authoritative (as in TFLite).
    return Op("depthwise_conv2d", "", _ins(op, ctx, 3), _outs(op, ctx),
              {"stride": stride, "dilation": dilation, "padding": padding,
               "depth_multiplier": y[3] // x[3], "activation": _activation(op)})


def _fully_connected(op: RawOp, ctx: Context) -> Op:
    _arity(op, 2, 3)
    w = _rank(op, ctx, op.inputs[1], 2, "weights")
    x = ctx.shape(op.inputs[0])
    o = op.options
    if o is not None and int(o.weightsFormat) != 0:
        raise McuError(f"operator {op.index} (FULLY_CONNECTED): shuffled weights format is not supported")
    if int(np.prod(x)) != w[1] or int(np.prod(ctx.shape(op.outputs[0]))) != w[0]:
        raise McuError(f"operator {op.index} (FULLY_CONNECTED): input {list(x)} / weights {list(w)} "
                       "mismatch (batch > 1 is not supported)")
    return Op("fully_connected", "", _ins(op, ctx, 3), _outs(op, ctx), {"activation": _activation(op)})


def _pool(kind: str) -> Callable[[RawOp, Context], Op]:
    def convert(op: RawOp, ctx: Context) -> Op:
        _arity(op, 1)
        x = _rank(op, ctx, op.inputs[0], 4, "input")
        y = _rank(op, ctx, op.outputs[0], 4, "output")
        o = op.options
        pool, stride = (o.filterHeight, o.filterWidth), (o.strideH, o.strideW)
        if min(pool) < 1:
            raise McuError(f"operator {op.index} ({op.opname}): pool size {list(pool)} must be >= 1")
        padding = resolve_padding(op, o.padding, x[1:3], pool, stride, (1, 1), y[1:3])
        return Op(kind, "", _ins(op, ctx, 1), _outs(op, ctx),
                  {"pool": pool, "stride": stride, "padding": padding, "activation": _activation(op)})
    return convert


def _mean(op: RawOp, ctx: Context) -> Op:
    _arity(op, 2)
    rank = len(ctx.shape(op.inputs[0]))
    axes = tuple(sorted({int(a) % rank for a in ctx.constant(op, op.inputs[1], "axis").ravel()}))
    keepdims = bool(getattr(op.options, "keepDims", False))
    return Op("mean", "", (ctx.name(op.inputs[0]),), _outs(op, ctx), {"axes": axes, "keepdims": keepdims})


def _reduce_max(op: RawOp, ctx: Context) -> Op:
    reduced = _mean(op, ctx)
    return Op("reduce_max", "", reduced.inputs, reduced.outputs, reduced.attrs)


def _add(op: RawOp, ctx: Context) -> Op:
    _arity(op, 2)
    _broadcastable(op, ctx)
    return Op("add", "", _ins(op, ctx, 2), _outs(op, ctx), {"activation": _activation(op)})


def _broadcastable(op: RawOp, ctx: Context) -> None:
    from mcucompress.quantize.broadcast_ops import broadcast_shape

    a, b, y = ctx.shape(op.inputs[0]), ctx.shape(op.inputs[1]), ctx.shape(op.outputs[0])
    if broadcast_shape(a, b) != tuple(y) or len(y) > 4:
        raise McuError(f"operator {op.index} ({op.opname}): inputs {list(a)} and {list(b)} do not "
                       f"broadcast to the output {list(y)} (at most 4 dimensions)")


def _arithmetic(kind: str) -> Callable[[RawOp, Context], Op]:
    """MUL, SUB: two broadcasting inputs and a fused activation."""
    def convert(op: RawOp, ctx: Context) -> Op:
        _arity(op, 2)
        _broadcastable(op, ctx)
        return Op(kind, "", _ins(op, ctx, 2), _outs(op, ctx), {"activation": _activation(op)})
    return convert


def _compare(kind: str) -> Callable[[RawOp, Context], Op]:
    def convert(op: RawOp, ctx: Context) -> Op:
        _arity(op, 2)
        _broadcastable(op, ctx)
        return Op(kind, "", _ins(op, ctx, 2), _outs(op, ctx), {})
    return convert


def _softmax(op: RawOp, ctx: Context) -> Op:
    _arity(op, 1)
    beta = float(op.options.beta) if op.options is not None else 1.0
    return Op("softmax", "", _ins(op, ctx, 1), _outs(op, ctx), {"beta": beta})


def _reshape(op: RawOp, ctx: Context) -> Op:
    _arity(op, 1, 2)
    if int(np.prod(ctx.shape(op.inputs[0]))) != int(np.prod(ctx.shape(op.outputs[0]))):
        raise McuError(f"operator {op.index} ({op.opname}): cannot reshape {list(ctx.shape(op.inputs[0]))} "
                       f"to {list(ctx.shape(op.outputs[0]))}")
    return Op("reshape", "", (ctx.name(op.inputs[0]),), _outs(op, ctx), {})


def _pad(op: RawOp, ctx: Context) -> Op:
    _arity(op, 2, 3)
    x, y = ctx.shape(op.inputs[0]), ctx.shape(op.outputs[0])
    pads = ctx.constant(op, op.inputs[1], "paddings").astype(np.int64)
    if pads.shape != (len(x), 2) or np.any(pads < 0):
        raise McuError(f"operator {op.index} ({op.opname}): paddings {pads.tolist()} do not fit input {list(x)}")
    if tuple(int(d + p.sum()) for d, p in zip(x, pads)) != tuple(y):
        raise McuError(f"operator {op.index} ({op.opname}): padded shape does not match output {list(y)}")
    if len(op.inputs) == 3 and op.inputs[2] != -1:
        value = ctx.constant(op, op.inputs[2], "constant value").ravel()
        zp = ctx.tensors[op.outputs[0]].zero_point
        if value.size != 1 or not zp or int(value[0]) != zp[0]:
            raise McuError(f"operator {op.index} (PADV2): only padding with the zero point is supported")
    paddings = tuple((int(a), int(b)) for a, b in pads)
    return Op("pad", "", (ctx.name(op.inputs[0]),), _outs(op, ctx), {"paddings": paddings})


def _concat(op: RawOp, ctx: Context) -> Op:
    if not op.inputs:
        raise McuError(f"operator {op.index} (CONCATENATION) has no inputs")
    if _activation(op) != "none":
        raise McuError(f"operator {op.index} (CONCATENATION): fused activation is not supported")
    rank = len(ctx.shape(op.outputs[0]))
    axis = int(op.options.axis) % rank
    return Op("concat", "", _ins(op, ctx, len(op.inputs)), _outs(op, ctx), {"axis": axis})


def _simple(kind: str) -> Callable[[RawOp, Context], Op]:
    def convert(op: RawOp, ctx: Context) -> Op:
        _arity(op, 1)
        return Op(kind, "", _ins(op, ctx, 1), _outs(op, ctx), {})
    return convert


def _ins(op: RawOp, ctx: Context, count: int) -> tuple[str | None, ...]:
    ids = list(op.inputs[:count]) + [-1] * (count - len(op.inputs))
    if ids and ids[0] == -1:
        raise McuError(f"operator {op.index} ({op.opname}) has no data input")
    return tuple(ctx.name(i) for i in ids)


def _outs(op: RawOp, ctx: Context) -> tuple[str, ...]:
    if len(op.outputs) != 1:
        raise McuError(f"operator {op.index} ({op.opname}) has {len(op.outputs)} outputs; expected 1")
    return (ctx.name(op.outputs[0]),)


CONVERTERS: dict[str, Callable[[RawOp, Context], Op]] = {
    "CONV_2D": _conv2d,
    "DEPTHWISE_CONV_2D": _depthwise,
    "FULLY_CONNECTED": _fully_connected,
    "MAX_POOL_2D": _pool("max_pool2d"),
    "AVERAGE_POOL_2D": _pool("avg_pool2d"),
    "MEAN": _mean,
    "ADD": _add,
    "SOFTMAX": _softmax,
    "RESHAPE": _reshape,
    "SQUEEZE": _reshape,
    "EXPAND_DIMS": _reshape,
    "PAD": _pad,
    "PADV2": _pad,
    "CONCATENATION": _concat,
    "RELU": _simple("relu"),
    "RELU6": _simple("relu6"),
}


def _requantize(op: RawOp, ctx: Context) -> Op:
    _arity(op, 1)
    kinds = {ctx.tensors[i].dtype for i in (op.inputs[0], op.outputs[0])}
    if kinds != {"int8"}:
        raise McuError(f"operator {op.index} (QUANTIZE): only int8 -> int8 inside the graph is supported, "
                       f"got {' -> '.join(ctx.tensors[i].dtype for i in (op.inputs[0], op.outputs[0]))}")
    return Op("requantize", "", _ins(op, ctx, 1), _outs(op, ctx), {})


def _resize_nearest(op: RawOp, ctx: Context) -> Op:
    _arity(op, 2)
    x, y = _rank(op, ctx, op.inputs[0], 4, "input"), _rank(op, ctx, op.outputs[0], 4, "output")
    size = ctx.constant(op, op.inputs[1], "size").ravel()
    if size.size != 2 or tuple(int(v) for v in size) != tuple(y[1:3]) or x[3] != y[3]:
        raise McuError(f"operator {op.index} (RESIZE_NEAREST_NEIGHBOR): size {size.tolist()} does not "
                       f"match the output {list(y)}")
    o = op.options
    return Op("resize_nearest", "", _ins(op, ctx, 1), _outs(op, ctx),
              {"align_corners": bool(getattr(o, "alignCorners", False)),
               "half_pixel_centers": bool(getattr(o, "halfPixelCenters", False))})


def _transpose_conv(op: RawOp, ctx: Context) -> Op:
    """TRANSPOSE_CONV: inputs (output shape, filter, input, bias?); the IR takes (x, w, bias)."""
    from mcucompress.quantize.transpose_conv_ops import transpose_padding

    _arity(op, 3, 4)
    w = _rank(op, ctx, op.inputs[1], 4, "filter")
    x = _rank(op, ctx, op.inputs[2], 4, "input")
    y = _rank(op, ctx, op.outputs[0], 4, "output")
    size = ctx.constant(op, op.inputs[0], "output shape").ravel()
    o = op.options
    if tuple(int(v) for v in size) != tuple(y) or w[3] != x[3] or w[0] != y[3] or x[0] != y[0]:
        raise McuError(f"operator {op.index} (TRANSPOSE_CONV): filter {list(w)}, input {list(x)} and output "
                       f"{list(y)} (output shape {size.tolist()}) do not fit")
    stride = (int(o.strideH), int(o.strideW))
    if min(stride) < 1 or int(o.padding) not in (_SAME, _VALID):
        raise McuError(f"operator {op.index} (TRANSPOSE_CONV): stride {list(stride)} or padding code "
                       f"{o.padding} is not supported")
    same = int(o.padding) == _SAME
    top, left = (transpose_padding(x[d], y[d], w[d], stride[d - 1], same) for d in (1, 2))
    bias = op.inputs[3] if len(op.inputs) > 3 else -1
    return Op("transpose_conv2d", "", (ctx.name(op.inputs[2]), ctx.name(op.inputs[1]), ctx.name(bias)),
              _outs(op, ctx), {"stride": stride, "padding": (top, 0, left, 0),
                               "activation": _activation(op)})


def _leaky_relu(op: RawOp, ctx: Context) -> Op:
    _arity(op, 1)
    return Op("leaky_relu", "", _ins(op, ctx, 1), _outs(op, ctx), {"alpha": float(op.options.alpha)})


# Element-wise table ops (quantize/lut_ops.py).
CONVERTERS.update({
    "LOGISTIC": _simple("logistic"),
    "TANH": _simple("tanh"),
    "ELU": _simple("elu"),
    "HARD_SWISH": _simple("hard_swish"),
    "LEAKY_RELU": _leaky_relu,
    "QUANTIZE": _requantize,
    "RESIZE_NEAREST_NEIGHBOR": _resize_nearest,
    "TRANSPOSE_CONV": _transpose_conv,
    "REDUCE_MAX": _reduce_max,  # int8 -> int8 inside the graph (the float interface is stripped first)
})

# Two-input element-wise ops with broadcasting (quantize/broadcast_ops.py).
CONVERTERS.update({"MUL": _arithmetic("mul"), "SUB": _arithmetic("sub"), "MAXIMUM": _compare("maximum"), "MINIMUM": _compare("minimum"),
                   "PRELU": _compare("prelu")})


# UNIDIRECTIONAL_SEQUENCE_LSTM's 24 inputs: the ones the IR takes (x; input and recurrent weights
# and biases of the gates input, forget, cell, output; hidden and cell state), and the optional
# ones of LSTM variants, which must be absent.
_LSTM_INPUTS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 13, 14, 15, 18, 19)
_LSTM_VARIANTS = {9: "peephole", 10: "peephole", 11: "peephole", 16: "projection", 17: "projection",
                  20: "layer normalization", 21: "layer normalization", 22: "layer normalization",
                  23: "layer normalization"}


def _lstm(op: RawOp, ctx: Context) -> Op:
    """TFLite's integer LSTM (tflite-micro's kernel): no CIFG, peephole, projection or layer norm."""
    where = f"operator {op.index} (UNIDIRECTIONAL_SEQUENCE_LSTM)"
    if len(op.inputs) != 24:
        raise McuError(f"{where} has {len(op.inputs)} inputs; expected 24")
    for index, variant in _LSTM_VARIANTS.items():
        if op.inputs[index] != -1:
            raise McuError(f"{where}: {variant} tensors are not supported")
    missing = [i for i in _LSTM_INPUTS if op.inputs[i] == -1]
    if missing:
        raise McuError(f"{where}: input {missing[0]} is absent (CIFG / coupled input gates are not supported)")
    for i in _LSTM_INPUTS[1:13]:
        ctx.constant(op, op.inputs[i], f"input {i} (weights or bias)")
    for i, what in ((18, "hidden state"), (19, "cell state")):
        if not ctx.tensors[op.inputs[i]].variable:
            raise McuError(f"{where}: the {what} must be a variable tensor")
    o = op.options
    if o is None or int(o.fusedActivationFunction) not in (4, 6):  # TANH, SIGMOID
        raise McuError(f"{where}: the cell gate's activation must be TANH or SIGMOID")
    if float(o.projClip) != 0.0 or bool(o.asymmetricQuantizeInputs) or bool(o.diagonalRecurrentTensors):
        raise McuError(f"{where}: projection clip, asymmetric inputs or diagonal recurrent weights are not supported")
    cell_clip = float(o.cellClip)
    if not (cell_clip >= 0.0 and np.isfinite(cell_clip)):
        raise McuError(f"{where}: cell clip {cell_clip} must be finite and >= 0")
    x = ctx.shape(op.inputs[0])
    if bool(o.timeMajor) or len(x) != 3 or x[0] != 1:
        raise McuError(f"{where}: input shape {list(x)}{' (time major)' if o.timeMajor else ''}: only one "
                       "batch-major sequence (batch 1) is supported")
    return Op("lstm", "", tuple(ctx.name(op.inputs[i]) for i in _LSTM_INPUTS), _outs(op, ctx),
              {"cell_clip": cell_clip,
               "cell_activation": "tanh" if int(o.fusedActivationFunction) == 4 else "sigmoid"})


CONVERTERS["UNIDIRECTIONAL_SEQUENCE_LSTM"] = _lstm


def convert_op(op: RawOp, ctx: Context) -> Op:
    converter = CONVERTERS.get(op.opname)
    if converter is None:
        raise McuError(f"unsupported TFLite operator {op.opname} (operator {op.index}); supported: "
                       + ", ".join(sorted(CONVERTERS)))
    try:
        return converter(op, ctx)
    except (AttributeError, TypeError, ValueError, IndexError, ZeroDivisionError):
        # Missing or mistyped options in a damaged file; converters check everything else.
        raise McuError(f"operator {op.index} ({op.opname}) has malformed options or tensors") from None

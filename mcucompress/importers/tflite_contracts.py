"""What an imported .tflite must satisfy before any code is generated: one contract per operator.

A file from a model hub is untrusted input. tflite-micro trusts its files (a wrong depth
multiplier reads out of bounds), and our kernels assume the arithmetic TFLite's converter
produces, so every number that reaches the C is checked here, in three tables:

- ``OPTION_CHECKS``: per TFLite operator, its options as stored in the file (enums, strides,
  dilations, depth multiplier, axes, beta), on the raw ops before conversion;
- ``TENSOR`` rules (``check_tensor``): every tensor the graph uses has dimensions >= 1, a size
  the C can index, and sane quantization (finite positive scales, zero points in range,
  per-channel counts matching the quantized dimension);
- ``CONTRACTS``: per IR op kind, its operand types, the axis of per-channel weights, the output
  shape it computes from its inputs, and the ranges of the requantization numbers derived from
  the scales (multipliers, shifts, accumulator bounds) that the C kernels and TFLite handle.

Any violation raises McuError with one line naming the tensor or operator and the problem.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from mcucompress.errors import McuError
from mcucompress.importers.tflite_flatbuffer import RawModel, RawOp
from mcucompress.ir.graph import Graph, Op, Tensor

INT8_MIN, INT8_MAX = -128, 127
INT32_MAX = (1 << 31) - 1
# Scales outside this window belong to no real model; inside it every float32 quantity derived
# from them (activation bounds such as 6 / scale, requantization scales) stays finite.
SCALE_MIN, SCALE_MAX = 2.0 ** -100, 2.0 ** 100
# The C kernels index tensors with int32 arithmetic.
MAX_TENSOR_BYTES = INT32_MAX
# Largest |x - zero_point| of an int8 value with an int8 zero point.
MAX_CENTERED_INT8 = 255
# Shift exponents gemmlowp's MultiplyByQuantizedMultiplier (and mcc_nn_requantize) is defined for.
SHIFT_MIN, SHIFT_MAX = -31, 30

# schema enums
_PADDINGS = {0: "SAME", 1: "VALID"}
_FUSED_ACTIVATIONS = {0: "NONE", 1: "RELU", 3: "RELU6"}


class _Problem(Exception):
    """A contract violation, turned into a McuError naming the file and the op or tensor."""


def _fail(path: Path, where: str, message: str) -> McuError:
    return McuError(f"'{path}': {where}: {message}")


# ------------------------------------------------------------------------------------------------
# Options as stored in the file, per TFLite operator
# ------------------------------------------------------------------------------------------------

def _options(op: RawOp, type_name: str, required: bool = True):
    options = op.options
    if options is None:
        if required:
            raise _Problem(f"has no {type_name[:-1]} (the operator needs them)")
        return None
    if type(options).__name__ != type_name:
        raise _Problem(f"carries {type(options).__name__[:-1]} instead of {type_name[:-1]}")
    return options


def _padding(code) -> None:
    if int(code) not in _PADDINGS:
        raise _Problem(f"padding code {int(code)} is neither SAME (0) nor VALID (1)")


def _activation(options) -> None:
    if options is None:
        return
    code = int(options.fusedActivationFunction)
    if code not in _FUSED_ACTIVATIONS:
        raise _Problem(f"fused activation code {code} is not one of "
                       + ", ".join(f"{v} ({k})" for k, v in _FUSED_ACTIVATIONS.items()))


def _at_least_one(**values) -> None:
    for name, value in values.items():
        if int(value) < 1:
            raise _Problem(f"{name} {int(value)} must be >= 1")


def _convolution_options(op: RawOp, type_name: str):
    o = _options(op, type_name)
    _padding(o.padding)
    _activation(o)
    _at_least_one(stride_h=o.strideH, stride_w=o.strideW, dilation_h=o.dilationHFactor,
                  dilation_w=o.dilationWFactor)
    return o


def _conv_options(op: RawOp, model: RawModel) -> None:
    _convolution_options(op, "Conv2DOptionsT")


def _depthwise_options(op: RawOp, model: RawModel) -> None:
    o = _convolution_options(op, "DepthwiseConv2DOptionsT")
    # tflite-micro loops over the stored multiplier, so it must be what the shapes say.
    x, y = _raw_shape(op, model, 0, "input"), _raw_shape(op, model, 0, "output", output=True)
    if x and y and (y[-1] != x[-1] * int(o.depthMultiplier)):
        raise _Problem(f"depth_multiplier {int(o.depthMultiplier)} does not turn {x[-1]} input channels "
                       f"into {y[-1]} output channels")


def _fully_connected_options(op: RawOp, model: RawModel) -> None:
    o = _options(op, "FullyConnectedOptionsT", required=False)
    _activation(o)
    if o is not None and int(o.weightsFormat) != 0:
        raise _Problem(f"weights format {int(o.weightsFormat)} (shuffled) is not supported")


def _pool_options(op: RawOp, model: RawModel) -> None:
    o = _options(op, "Pool2DOptionsT")
    _padding(o.padding)
    _activation(o)
    _at_least_one(stride_h=o.strideH, stride_w=o.strideW, filter_h=o.filterHeight, filter_w=o.filterWidth)


def _add_options(op: RawOp, model: RawModel) -> None:
    _activation(_options(op, "AddOptionsT", required=False))


def _softmax_options(op: RawOp, model: RawModel) -> None:
    beta = float(_options(op, "SoftmaxOptionsT").beta)
    if not (math.isfinite(beta) and beta > 0):
        raise _Problem(f"beta {beta} must be a finite number > 0")


def _concat_options(op: RawOp, model: RawModel) -> None:
    o = _options(op, "ConcatenationOptionsT")
    if int(o.fusedActivationFunction) != 0:
        raise _Problem("a fused activation on a concatenation is not supported")
    rank = len(_raw_shape(op, model, 0, "output", output=True))
    _axis_in_range(int(o.axis), rank)


def _mean_options(op: RawOp, model: RawModel) -> None:
    _options(op, "ReducerOptionsT", required=False)
    if len(op.inputs) != 2 or op.inputs[1] == -1:
        raise _Problem("needs a constant axis tensor as its second input")
    axes = model.tensors[op.inputs[1]]
    if axes.data is None or axes.dtype not in ("int32", "int64"):
        raise _Problem(f"axis tensor '{axes.name}' must be a constant int32 tensor")
    rank = len(_raw_shape(op, model, 0, "input"))
    for axis in axes.data.ravel():
        _axis_in_range(int(axis), rank)


def _pad_options(op: RawOp, model: RawModel) -> None:
    if len(op.inputs) < 2 or op.inputs[1] == -1:
        raise _Problem("needs a constant paddings tensor as its second input")
    pads = model.tensors[op.inputs[1]]
    if pads.data is None or pads.dtype not in ("int32", "int64"):
        raise _Problem(f"paddings tensor '{pads.name}' must be a constant int32 tensor")


def _axis_in_range(axis: int, rank: int) -> None:
    if not -rank <= axis < rank:
        raise _Problem(f"axis {axis} is outside [-{rank}, {rank}) for a rank-{rank} tensor")


def _raw_shape(op: RawOp, model: RawModel, position: int, what: str, output: bool = False) -> tuple[int, ...]:
    ids = op.outputs if output else op.inputs
    if position >= len(ids) or ids[position] == -1:
        raise _Problem(f"has no {what}")
    return model.tensors[ids[position]].shape


def _same_shape_as_input(op: RawOp, model: RawModel) -> None:
    x, y = _raw_shape(op, model, 0, "input"), _raw_shape(op, model, 0, "output", output=True)
    if x != y:
        raise _Problem(f"output shape {list(y)} differs from its input shape {list(x)}")


OPTION_CHECKS: dict[str, Callable[[RawOp, RawModel], None]] = {
    "CONV_2D": _conv_options,
    "DEPTHWISE_CONV_2D": _depthwise_options,
    "FULLY_CONNECTED": _fully_connected_options,
    "MAX_POOL_2D": _pool_options,
    "AVERAGE_POOL_2D": _pool_options,
    "ADD": _add_options,
    "SOFTMAX": _softmax_options,
    "CONCATENATION": _concat_options,
    "MEAN": _mean_options,
    "PAD": _pad_options,
    "PADV2": _pad_options,
    "QUANTIZE": _same_shape_as_input,  # float interface ops: the wrappers keep the port's shape
    "DEQUANTIZE": _same_shape_as_input,
}


def _leaky_relu_options(op: RawOp, model: RawModel) -> None:
    alpha = float(_options(op, "LeakyReluOptionsT").alpha)
    if not (math.isfinite(alpha) and alpha >= 0):
        raise _Problem(f"alpha {alpha} must be a finite number >= 0")


# Element-wise table ops (quantize/lut_ops.py): every number reaching the C is a table entry,
# computed at export over all 256 inputs, so only the shape and the options need checking.
OPTION_CHECKS.update({"MUL": lambda op, model: _activation(_options(op, "MulOptionsT", required=False)),
                      "MAXIMUM": lambda op, model: None, "PRELU": lambda op, model: None,
                      "RESIZE_NEAREST_NEIGHBOR": lambda op, model: None, "REDUCE_MAX": _mean_options, "MINIMUM": lambda op, model: None})
OPTION_CHECKS.update({"LEAKY_RELU": _leaky_relu_options, "LOGISTIC": _same_shape_as_input,
                      "TANH": _same_shape_as_input, "ELU": _same_shape_as_input,
                      "HARD_SWISH": _same_shape_as_input})


def _transpose_conv_options(op: RawOp, model: RawModel) -> None:
    o = _options(op, "TransposeConvOptionsT")
    _padding(o.padding)
    _at_least_one(stride_h=o.strideH, stride_w=o.strideW)
    _activation(o)


def _transpose_conv_shape(g: Graph, op: Op) -> tuple[int, ...]:
    """The output size is given (the importer checks it against the stored output shape); the
    channels follow from the weights."""
    x, w, out = (g.tensors[n].shape for n in (op.inputs[0], op.inputs[1], op.outputs[0]))
    _rank4(x, w, out)
    if w[3] != x[3]:
        raise _Problem(f"filter depth {w[3]} differs from input depth {x[3]}")
    return (x[0], out[1], out[2], w[0])


OPTION_CHECKS["TRANSPOSE_CONV"] = _transpose_conv_options
OPTION_CHECKS["SUB"] = lambda op, model: _activation(_options(op, "SubOptionsT", required=False))


def check_options(path: Path, model: RawModel) -> None:
    """Every operator's stored options against its contract (operators without one are either
    folded with checks of their own or refused later as unsupported)."""
    for op in model.ops:
        check = OPTION_CHECKS.get(op.opname)
        if check is None:
            continue
        try:
            check(op, model)
        except _Problem as problem:
            raise _fail(path, f"operator {op.index} ({op.opname})", str(problem)) from None


# ------------------------------------------------------------------------------------------------
# Tensors
# ------------------------------------------------------------------------------------------------

def check_tensor(t: Tensor) -> None:
    """Shape, size and quantization of one tensor (raises _Problem)."""
    if any(d < 1 for d in t.shape):
        raise _Problem(f"has shape {list(t.shape)}; every dimension must be >= 1")
    if math.prod(t.shape) * np.dtype(t.dtype).itemsize > MAX_TENSOR_BYTES:
        raise _Problem(f"shape {list(t.shape)} is larger than 2 GiB")
    q = t.quant
    if q is None:
        return
    scales = np.asarray(q.scale, dtype=np.float64)
    bad = scales[~((scales >= SCALE_MIN) & (scales <= SCALE_MAX))]  # NaN fails both comparisons
    if bad.size:
        raise _Problem(f"has scale {float(bad[0])}; scales must be finite and in [2^-100, 2^100]")
    low, high = (INT8_MIN, INT8_MAX) if t.dtype == "int8" else (0, 0)
    for zp in q.zero_point:
        if not low <= int(zp) <= high:
            raise _Problem(f"has zero point {int(zp)}; {t.dtype} tensors need zero points in [{low}, {high}]")
    if len(q.scale) > 1:
        if not 0 <= q.axis < len(t.shape) or t.shape[q.axis] != len(q.scale):
            raise _Problem(f"has {len(q.scale)} per-channel scales on dimension {q.axis} of shape {list(t.shape)}")
        if not t.is_constant:
            raise _Problem("is an activation with per-channel quantization (only weights may have it)")


# ------------------------------------------------------------------------------------------------
# Per IR op kind: operands, output shape, requantization ranges
# ------------------------------------------------------------------------------------------------

def _window(size: int, pad_before: int, pad_after: int, kernel: int, stride: int, dilation: int) -> int:
    return (size + pad_before + pad_after - ((kernel - 1) * dilation + 1)) // stride + 1


def _spatial(x, kernel_hw, attrs) -> tuple[int, int]:
    top, bottom, left, right = attrs["padding"]
    stride, dilation = attrs["stride"], attrs.get("dilation", (1, 1))
    if min(*stride, *dilation) < 1 or min(top, bottom, left, right) < 0 or min(kernel_hw) < 1:
        raise _Problem(f"stride {list(stride)}, dilation {list(dilation)}, window {list(kernel_hw)} "
                       f"or padding {list(attrs['padding'])} out of range")
    return (_window(x[1], top, bottom, kernel_hw[0], stride[0], dilation[0]),
            _window(x[2], left, right, kernel_hw[1], stride[1], dilation[1]))


def _rank4(*shapes) -> None:
    for s in shapes:
        if len(s) != 4:
            raise _Problem(f"needs rank-4 NHWC tensors, got shape {list(s)}")


def _conv_shape(g: Graph, op: Op) -> tuple[int, ...]:
    x, w = g.tensors[op.inputs[0]].shape, g.tensors[op.inputs[1]].shape
    _rank4(x, w)
    if w[3] != x[3]:
        raise _Problem(f"filter {list(w)} does not match {x[3]} input channels")
    return (x[0], *_spatial(x, w[1:3], op.attrs), w[0])


def _depthwise_shape(g: Graph, op: Op) -> tuple[int, ...]:
    x, w = g.tensors[op.inputs[0]].shape, g.tensors[op.inputs[1]].shape
    _rank4(x, w)
    if w[0] != 1 or w[3] != x[3] * int(op.attrs["depth_multiplier"]):
        raise _Problem(f"filter {list(w)} does not match {x[3]} input channels x depth multiplier "
                       f"{op.attrs['depth_multiplier']}")
    return (x[0], *_spatial(x, w[1:3], op.attrs), w[3])


def _fully_connected_shape(g: Graph, op: Op) -> tuple[int, ...]:
    x, w, y = g.tensors[op.inputs[0]].shape, g.tensors[op.inputs[1]].shape, g.output_tensor(op).shape
    if len(w) != 2 or math.prod(x) != w[1]:
        raise _Problem(f"weights {list(w)} do not match input {list(x)} (batch 1)")
    # TFLite writes [1, units] or, with keep_num_dims, the input's leading dims and units.
    if y and y[-1] == w[0] and math.prod(y) == w[0]:
        return y
    return (1, w[0])


def _pool_shape(g: Graph, op: Op) -> tuple[int, ...]:
    x = g.tensors[op.inputs[0]].shape
    _rank4(x)
    return (x[0], *_spatial(x, op.attrs["pool"], op.attrs), x[3])


def _mean_shape(g: Graph, op: Op) -> tuple[int, ...]:
    x = g.tensors[op.inputs[0]].shape
    axes = {int(a) % len(x) for a in op.attrs["axes"]}
    if op.attrs.get("keepdims"):
        return tuple(1 if i in axes else d for i, d in enumerate(x))
    return tuple(d for i, d in enumerate(x) if i not in axes)


def _same_as_input(g: Graph, op: Op) -> tuple[int, ...]:
    return g.tensors[op.inputs[0]].shape


def _add_shape(g: Graph, op: Op) -> tuple[int, ...]:
    from mcucompress.quantize.broadcast_ops import broadcast_shape

    a, b = g.tensors[op.inputs[0]].shape, g.tensors[op.inputs[1]].shape
    shape = broadcast_shape(a, b)
    if shape is None or len(shape) > 4:
        raise _Problem(f"combines shapes {list(a)} and {list(b)}, which do not broadcast (at most 4 dimensions)")
    return shape


def _reshape_shape(g: Graph, op: Op) -> tuple[int, ...]:
    x, y = g.tensors[op.inputs[0]].shape, g.output_tensor(op).shape
    if math.prod(x) != math.prod(y):
        raise _Problem(f"cannot reshape {list(x)} ({math.prod(x)} values) to {list(y)}")
    return y


def _pad_shape(g: Graph, op: Op) -> tuple[int, ...]:
    x = g.tensors[op.inputs[0]].shape
    pads = op.attrs["paddings"]
    if len(pads) != len(x) or any(a < 0 or b < 0 for a, b in pads):
        raise _Problem(f"paddings {[list(p) for p in pads]} do not fit input {list(x)}")
    return tuple(d + a + b for d, (a, b) in zip(x, pads))


def _concat_shape(g: Graph, op: Op) -> tuple[int, ...]:
    shapes = [g.tensors[n].shape for n in op.inputs]
    rank = len(shapes[0])
    axis = int(op.attrs["axis"]) % rank
    for s in shapes[1:]:
        if len(s) != rank or any(a != b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != axis):
            raise _Problem(f"concatenates shapes {[list(s) for s in shapes]} along axis {axis}")
    return tuple(sum(s[axis] for s in shapes) if i == axis else d for i, d in enumerate(shapes[0]))


def _shift_range(name: str, shifts) -> None:
    shifts = np.atleast_1d(np.asarray(shifts, dtype=np.int64))
    if shifts.size and (shifts.min() < SHIFT_MIN or shifts.max() > SHIFT_MAX):
        bad = int(shifts.min() if shifts.min() < SHIFT_MIN else shifts.max())
        raise _Problem(f"its scales give a requantization shift of {bad} ({name}); "
                       f"the kernels handle [{SHIFT_MIN}, {SHIFT_MAX}]")


def _no_overflow(what: str, bound: np.ndarray, shifts) -> None:
    """``bound`` (per channel) times 2^max(shift, 0) must fit int32: TFLite shifts left in int32
    and our kernels saturate, so beyond that the two would differ (and C would overflow)."""
    bound = np.atleast_1d(np.asarray(bound, dtype=object))
    left = np.maximum(np.atleast_1d(np.asarray(shifts, dtype=np.int64)), 0)
    left = np.broadcast_to(left, bound.shape)
    for b, s in zip(bound, left):
        if int(b) << int(s) > INT32_MAX:
            raise _Problem(f"its {what} can reach {int(b):,}" + (f" x 2^{int(s)}" if s else "")
                           + ", beyond int32")


def _accumulator_bound(g: Graph, op: Op, weight_axes: tuple[int, ...], filter_offset: int) -> np.ndarray:
    """Largest |accumulator| per output channel: |bias| + 255 * sum |w - weight zero point|."""
    w = g.tensors[op.inputs[1]].data.astype(np.int64) + filter_offset
    sums = np.abs(w).sum(axis=weight_axes)
    bias_name = op.inputs[2] if len(op.inputs) > 2 else None
    bias = np.zeros_like(sums) if bias_name is None else np.abs(g.tensors[bias_name].data.astype(np.int64)).ravel()
    return bias + MAX_CENTERED_INT8 * sums


def _float_scale_finite(p) -> None:
    scale = getattr(p, "float_scale", None)
    if scale is not None and not np.all(np.isfinite(np.asarray(scale, dtype=np.float64))):
        raise _Problem("its float32 requantization scale is not finite")


def _conv_requant(g: Graph, op: Op, p) -> None:
    _shift_range("output", p.shift)
    axes = (0, 1, 2) if op.kind == "depthwise_conv2d" else (1, 2, 3)  # all but the output channels
    _no_overflow("accumulator", _accumulator_bound(g, op, axes, 0), p.shift)
    _float_scale_finite(p)


def _fully_connected_requant(g: Graph, op: Op, p) -> None:
    _shift_range("output", p.shift)
    _no_overflow("accumulator", _accumulator_bound(g, op, (1,), p.filter_offset), p.shift)
    _float_scale_finite(p)


def _mean_requant(g: Graph, op: Op, p) -> None:
    _shift_range("output", p.shift)
    _no_overflow("sum", np.array([MAX_CENTERED_INT8 * p.count], dtype=object), p.shift)
    _float_scale_finite(p)


def _relu_requant(g: Graph, op: Op, p) -> None:
    _shift_range("output", p.shift)
    _no_overflow("input", np.array([MAX_CENTERED_INT8], dtype=object), p.shift)


def _add_requant(g: Graph, op: Op, p) -> None:
    for name in ("input1", "input2", "output"):
        _shift_range(name, getattr(p, f"{name}_shift"))


def _softmax_requant(g: Graph, op: Op, p) -> None:
    # TFLite's softmax scales its input by beta * scale * 2^26 as a multiplier greater than one.
    real = float(op.attrs.get("beta", 1.0)) * float(g.tensors[op.inputs[0]].quant.scale[0]) * 2.0 ** 26
    if not real > 1.0:
        raise _Problem(f"beta x input scale x 2^26 = {real:g} must exceed 1 (the input scale or beta is too small)")
    if not 0 <= p.input_left_shift <= 31:
        raise _Problem(f"its input scale gives a left shift of {p.input_left_shift}; expected [0, 31]")


def _mul_requant(g: Graph, op: Op, p) -> None:
    _shift_range("output", p.shift)
    _no_overflow("product", np.array([MAX_CENTERED_INT8 * MAX_CENTERED_INT8], dtype=object), p.shift)


def _prelu_requant(g: Graph, op: Op, p) -> None:
    _shift_range("positive", p.shift_positive)
    _shift_range("negative", p.shift_negative)
    _no_overflow("product", np.array([MAX_CENTERED_INT8 * MAX_CENTERED_INT8], dtype=object), p.shift_negative)


@dataclass(frozen=True)
class Contract:
    """One IR op kind: which inputs are int8 weights (and their per-channel axis), which is the
    optional int32 bias, the output shape it computes, and its requantization range check."""

    output_shape: Callable[[Graph, Op], tuple[int, ...]]
    weights: int | None = None
    weight_axis: int | None = None
    bias: int | None = None
    requant: Callable[[Graph, Op, object], None] | None = None


CONTRACTS: dict[str, Contract] = {
    "conv2d": Contract(_conv_shape, weights=1, weight_axis=0, bias=2, requant=_conv_requant),
    "depthwise_conv2d": Contract(_depthwise_shape, weights=1, weight_axis=3, bias=2, requant=_conv_requant),
    "fully_connected": Contract(_fully_connected_shape, weights=1, weight_axis=0, bias=2,
                                requant=_fully_connected_requant),
    "max_pool2d": Contract(_pool_shape),
    "avg_pool2d": Contract(_pool_shape),
    "mean": Contract(_mean_shape, requant=_mean_requant),
    "add": Contract(_add_shape, requant=_add_requant),
    "softmax": Contract(_same_as_input, requant=_softmax_requant),
    "reshape": Contract(_reshape_shape),
    "pad": Contract(_pad_shape),
    "concat": Contract(_concat_shape),
    "relu": Contract(_same_as_input, requant=_relu_requant),
    "relu6": Contract(_same_as_input, requant=_relu_requant),
    **{kind: Contract(_same_as_input) for kind in ("logistic", "tanh", "leaky_relu", "elu", "hard_swish",
                                                   "requantize", "float_elu")},
    "mul": Contract(_add_shape, requant=_mul_requant),
    "sub": Contract(_add_shape, requant=_add_requant),
    "maximum": Contract(_add_shape),
    "prelu": Contract(_add_shape, requant=_prelu_requant),
    "reduce_max": Contract(_mean_shape),
    "resize_nearest": Contract(lambda g, op: g.output_tensor(op).shape),  # importer checks size
    "minimum": Contract(_add_shape),
    "transpose_conv2d": Contract(_transpose_conv_shape, weights=1, weight_axis=0, bias=2, requant=_conv_requant),
    # weights, biases, states and every multiplier are checked by the kind's params (lstm_ops)
    "lstm": Contract(lambda g, op: _lstm_shape(g, op), requant=lambda g, op, p: _lstm_requant(p)),
}


def _lstm_shape(g: Graph, op: Op) -> tuple[int, ...]:
    from mcucompress.quantize.lstm_ops import output_shape

    return output_shape(g, op)


def _lstm_requant(p) -> None:
    for g in p.gates:
        _shift_range("input gate", g.input_shift)
        _shift_range("recurrent gate", g.recurrent_shift)
    for name in ("forget", "update", "hidden"):
        _shift_range(name, getattr(p, f"{name}_shift"))


def _check_weights(g: Graph, op: Op, c: Contract) -> None:
    w = g.tensors[op.inputs[c.weights]]
    channels = w.shape[c.weight_axis] if len(w.shape) > c.weight_axis else None
    q = w.quant
    if q is None or any(int(zp) != 0 for zp in q.zero_point):
        raise _Problem(f"weights '{w.name}' must be symmetric (zero point 0)")
    if len(q.scale) > 1 and q.axis != c.weight_axis:
        raise _Problem(f"weights '{w.name}' are quantized per channel along dimension {q.axis}; "
                       f"{op.kind} needs dimension {c.weight_axis}")
    if c.bias is None or len(op.inputs) <= c.bias or op.inputs[c.bias] is None:
        return
    b = g.tensors[op.inputs[c.bias]]
    if b.data is None:
        raise _Problem(f"bias '{b.name}' is not constant")
    if b.size != channels:
        raise _Problem(f"bias '{b.name}' has {b.size} values for {channels} output channels")


def _check_op(g: Graph, op: Op) -> None:
    from mcucompress.quantize.fixedpoint import ROUNDING_MODES
    from mcucompress.quantize.params import kernel_params

    c = CONTRACTS.get(op.kind)
    if c is None:
        raise _Problem(f"has no contract for kind '{op.kind}'")
    out = g.output_tensor(op)
    expected = tuple(c.output_shape(g, op))  # also checks the operands' ranks
    if tuple(out.shape) != expected:
        raise _Problem(f"output '{out.name}' has shape {list(out.shape)} but the op computes {list(expected)}")
    if c.weights is not None:
        _check_weights(g, op, c)
    for rounding in ROUNDING_MODES:  # derive exactly what code generation will, in both modes
        params = kernel_params(g, op, rounding)
        if c.requant is not None:
            c.requant(g, op, params)


def _check_dataflow(g: Graph) -> None:
    """Each activation is written by exactly one op; nothing writes constants or graph inputs;
    graph outputs are written by an op."""
    written: set[str] = set()
    for op in g.ops:
        for name in op.outputs:
            if name in written or name in g.inputs or g.tensors[name].is_constant:
                what = ("a graph input" if name in g.inputs else "a constant" if g.tensors[name].is_constant
                        else "written by an earlier operator")
                raise _Problem(f"op '{op.name}' writes tensor '{name}', which is {what}")
            written.add(name)
    for name in g.outputs:
        if name not in written:
            raise _Problem(f"graph output '{name}' is not computed by any operator")


def check_graph(path: Path, g: Graph) -> None:
    """Every tensor, then every op of an imported graph, against the tables above."""
    if not g.ops:
        raise McuError(f"'{path}': the model has no operators")
    for name in sorted(g.tensors):
        try:
            check_tensor(g.tensors[name])
        except _Problem as problem:
            raise _fail(path, f"tensor '{name}'", str(problem)) from None
    try:
        _check_dataflow(g)
    except _Problem as problem:
        raise McuError(f"'{path}': {problem}") from None
    for op in g.ops:
        try:
            _check_op(g, op)
        except _Problem as problem:
            raise _fail(path, f"op '{op.name}' ({op.kind})", str(problem)) from None
        except McuError as error:  # a derivation refused the parameters; it names the op
            raise McuError(f"'{path}': {error}") from None

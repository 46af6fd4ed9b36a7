"""Integer kernel parameters of an int8 op: the ONE place they are derived.

``kernel_params(graph, op, rounding)`` returns a small frozen dataclass per op kind. The numpy
reference interpreter (``reference/int8.py``) and C code generation both read these values, so
the two can only agree. Every docstring below states the exact arithmetic the kernel performs
with these numbers; the C kernels mirror it line by line.

Notation used in the docstrings:
- ``MBQM(x, m, s)`` = ``fixedpoint.multiply_by_quantized_multiplier(x, m, s, "tflm")``:
  gemmlowp double rounding (SaturatingRoundingDoublingHighMul then RoundingDivideByPOT).
- ``SRDHM`` = saturating rounding doubling high multiply, ``RDBPOT`` = rounding divide by power
  of two (halves away from zero), both from gemmlowp (see fixedpoint.py).
- ``clamp(v)`` = ``min(max(v, act_min), act_max)``.

Rounding modes, as measured against the real interpreters (scripts/check_reference.py):
- "tflm": TFLM's reference kernels (tflite-micro's interpreter).
- "litert": the default ``ai_edge_litert.interpreter.Interpreter``, which hands conv2d,
  depthwise_conv2d, fully_connected and mean to its XNNPACK delegate. XNNPACK requantizes in
  float32 with ONE rounding (half to even): ``rint(float(acc) * float_scale[oc]) +
  output_offset``, see ``ConvParams``; mean likewise (``MeanParams``). Every other op runs
  LiteRT's built-in kernel, whose bytes equal "tflm" (softmax: LiteRT's float lookup table,
  ``SoftmaxParams``, which gave the same bytes as the fixed-point one in every test).
  Not modelled: LiteRT with delegates switched off, whose conv2d/depthwise/fully_connected
  round once in integer (ruy, ``fixedpoint`` "litert"); see docs/benchmarks/reference.md.
The ``rounding`` field of conv/FC/mean params says which of the two requantizations to use.

Derivation of the real multipliers follows TensorFlow Lite exactly: scales are float32 values
widened to double before multiplying/dividing; ``quantize_multiplier`` mirrors QuantizeMultiplier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, Op, Tensor
from mcucompress.ir.ops import OPS, op_kind
from mcucompress.quantize.fixedpoint import ROUNDING_MODES, quantize_multiplier, quantize_multipliers

INT8_MIN, INT8_MAX = -128, 127

# Ops that the default LiteRT interpreter runs through XNNPACK with float32 requantization.
# Measured against ai_edge_litert; every other op uses gemmlowp double rounding in both modes.
LITERT_FLOAT_REQUANT_OPS = frozenset(k.name for k in OPS.values() if k.litert_float_requant)

# Softmax constants shared by TFLite/TFLM's int8 fixed-point softmax.
SOFTMAX_SCALED_DIFF_INTEGER_BITS = 5
SOFTMAX_ACCUMULATION_INTEGER_BITS = 12


# --------------------------------------------------------------------------------------------
# Dataclasses, one per op family
# --------------------------------------------------------------------------------------------
# Each dataclass whose kernel takes a params struct names that struct's C fields in
# ``c_fields()`` (codegen/c_structs.py writes and checks the designated initializer); pointer
# fields are the names of arrays the lowering wrote, passed in.

def c_tile(pair) -> dict:
    """mcc_tile fields from an (h, w) pair (for padding: (top, left))."""
    return {"h": int(pair[0]), "w": int(pair[1])}


def c_activation(params) -> dict:
    """mcc_activation fields from a params object's act_min / act_max."""
    return {"min": int(params.act_min), "max": int(params.act_max)}


def c_same_named(params, names: str, activation: bool = False) -> dict:
    """C fields that carry the dataclass's own names (``names``: space-separated, in the C
    struct's order), then mcc_activation from act_min / act_max when ``activation``."""
    fields = {name: getattr(params, name) for name in names.split()}
    return fields | {"activation": c_activation(params)} if activation else fields


class NamedAsInC:
    """Mixin of the params dataclasses whose C struct (the class docstring names it) declares a
    member named like each field, in the fields' order, then, when the class has act_min and
    act_max, their mcc_activation."""

    def c_fields(self) -> dict:
        names = " ".join(f.name for f in fields(self) if f.name not in ("act_min", "act_max"))
        return c_same_named(self, names, activation=hasattr(self, "act_min"))


@dataclass(frozen=True, eq=False)
class ConvWindow:
    """What every conv's params (int8 and Q-format) carry besides its requantization: the output
    clamp and where each output reads its input (stride, dilation, padding as (top, bottom, left,
    right), and the depthwise depth_multiplier, 1 otherwise)."""

    act_min: int
    act_max: int
    stride: tuple[int, int]
    dilation: tuple[int, int]
    padding: tuple[int, int, int, int]
    depth_multiplier: int

    def c_window(self) -> dict:
        """The conv params structs' stride, padding (top, left) and dilation tiles."""
        return {"stride": c_tile(self.stride), "padding": c_tile(self.padding[0::2]), "dilation": c_tile(self.dilation)}


@dataclass(frozen=True, eq=False)
class ConvParams(ConvWindow):
    """conv2d and depthwise_conv2d (per-channel int8, symmetric weights).

    For every output pixel (oy, ox) and output channel oc::

        acc = bias[oc]                                         # int32, 0 when there is no bias
        for ky, kx (and ic for conv2d):
            iy = oy*stride[0] - padding[0] + ky*dilation[0]
            ix = ox*stride[1] - padding[2] + kx*dilation[1]
            if 0 <= iy < H and 0 <= ix < W:                     # outside: contributes nothing
                acc += w[...] * (x[iy, ix, ic] + input_offset)  # int32 accumulate
        out = clamp(MBQM(acc, multiplier[oc], shift[oc]) + output_offset)   # rounding "tflm"
        out = clamp(rint(f32(acc) * float_scale[oc]) + output_offset)      # rounding "litert"

    In "litert": ``f32(acc)`` is the int32 accumulator converted to float32 (round to nearest
    even), the product is a float32 multiply, and ``rint`` rounds half to even (C ``lrintf`` in
    the default rounding mode). ``float_scale[oc] = f32(f32(in_scale * w_scale[oc]) / out_scale)``
    with every operation in float32. ``float_scale`` is None in "tflm".

    conv2d: ``w[oc, ky, kx, ic]`` summed over all ic. depthwise_conv2d: output channel
    ``oc = ic * depth_multiplier + m`` reads only input channel ``ic`` with ``w[0, ky, kx, oc]``.
    ``multiplier``/``shift`` always have one entry per output channel (a per-tensor weight scale
    is repeated). ``rounding`` is the requantization rounding this kernel uses.
    """

    input_offset: int
    output_offset: int
    multiplier: np.ndarray
    shift: np.ndarray
    rounding: str
    float_scale: np.ndarray | None = None

    def c_fields(self, depthwise: bool) -> dict:
        """mcc_dw_conv_params (depthwise) or mcc_conv_params."""
        fields = {"input_offset": self.input_offset, "output_offset": self.output_offset}
        if depthwise:
            fields["depth_multiplier"] = self.depth_multiplier
        return fields | self.c_window() | {"activation": c_activation(self)}


@dataclass(frozen=True, eq=False)
class FullyConnectedParams:
    """fully_connected: x flattened to (in,), weights (out, in)::

        acc = bias[o] + sum_i (w[o, i] + filter_offset) * (x[i] + input_offset)
        out[o] = clamp(MBQM(acc, multiplier[o], shift[o]) + output_offset)

    ``multiplier``/``shift`` have one entry per output (repeated when the weight scale is
    per-tensor, which is what the TFLite converter emits for Dense). In "litert" the
    requantization is the float one described in ``ConvParams`` with ``float_scale[o]``.
    """

    input_offset: int
    filter_offset: int
    output_offset: int
    multiplier: np.ndarray
    shift: np.ndarray
    act_min: int
    act_max: int
    rounding: str
    float_scale: np.ndarray | None = None

    def c_fields(self) -> dict:
        """mcc_fc_params."""
        return c_same_named(self, "input_offset filter_offset output_offset", activation=True)


@dataclass(frozen=True, eq=False)
class PoolParams:
    """max_pool2d / avg_pool2d; input and output share their quantization (no requantization).

    For every output pixel the window rows ``oy*stride[0] - padding[0] + [0, pool[0])`` and
    columns likewise are clipped to the input; only those valid positions count.
    max: ``out = clamp(max(x over window))``.
    avg: ``s = sum(x over window)``, ``n = number of valid positions``;
    ``out = clamp((s + n//2) // n if s > 0 else -((-s + n//2) // n))`` i.e. the division
    rounds halves away from zero (C: ``s > 0 ? (s + n/2)/n : (s - n/2)/n``).
    """

    kind: str  # "max" | "avg"
    pool: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int, int, int]
    act_min: int
    act_max: int

    def c_fields(self) -> dict:
        """mcc_pool_params."""
        return {"window": c_tile(self.pool), "stride": c_tile(self.stride), "padding": c_tile(self.padding[0::2]),
                "activation": c_activation(self)}


@dataclass(frozen=True, eq=False)
class MeanParams:
    """mean over ``axes`` of an int8 tensor (TFLM reduce MEAN, int8).

    With ``n`` = ``count`` reduced elements and ``s`` = sum of the stored int8 values::

        out = clamp(MBQM(s + input_offset * n, multiplier, shift) + output_offset)

    also when input and output share their quantization: tflite-micro as packaged on PyPI
    requantizes then too (measured; newer TFLM sources divide instead). ``same_quant`` is
    therefore always False; it stays only so existing callers keep working.

    ``multiplier``/``shift`` already include 1/n (TFLite's QuantizedMeanOrSum): from
    (m, e) = QuantizeMultiplier(in_scale / out_scale), k = min(floor(log2 n), 32, 31 + e),
    multiplier = (m << k) / n (integer division), shift = e - k.

    rounding "litert" (XNNPACK)::

        out = clamp(rint(f32(s + input_offset * n) * float_scale) + output_offset)
        float_scale = f32(in_scale / f32(out_scale * f32(n)))       # float32 operations
    """

    axes: tuple[int, ...]
    keepdims: bool
    count: int
    same_quant: bool
    input_offset: int
    output_offset: int
    multiplier: int
    shift: int
    act_min: int
    act_max: int
    rounding: str
    float_scale: float | None = None

    def c_fields(self) -> dict:
        """mcc_mean_params (scale only in "litert")."""
        return {"scale": np.float32(self.float_scale if self.rounding == "litert" else 0.0)} | c_same_named(
            self, "same_quant input_offset output_offset multiplier shift", activation=True)


@dataclass(frozen=True, eq=False)
class AddParams(NamedAsInC):
    """add of two int8 tensors of equal shape, TFLite's requantized scheme (mcc_add_params: the
    portable and the table kernels take the same struct)::

        a' = (a + input1_offset) << left_shift                # left_shift = 20
        b' = (b + input2_offset) << left_shift
        a'' = RDBPOT(SRDHM(a', input1_multiplier), -input1_shift)   # shifts are <= 0
        b'' = RDBPOT(SRDHM(b', input2_multiplier), -input2_shift)
        out = clamp(RDBPOT(SRDHM(a'' + b'', output_multiplier), -output_shift) + output_offset)

    Always double rounding (LiteRT's Add keeps it too).
    """

    input1_offset: int
    input1_multiplier: int
    input1_shift: int
    input2_offset: int
    input2_multiplier: int
    input2_shift: int
    left_shift: int
    output_offset: int
    output_multiplier: int
    output_shift: int
    act_min: int
    act_max: int


@dataclass(frozen=True, eq=False)
class SoftmaxParams:
    """softmax over the last axis, int8 in, int8 out (output scale 1/256, zero point -128).

    ``method == "fixedpoint"`` (tflm mode; TFLM's reference kernel)::

        max = max(x row);  for each c: d = x[c] - max  (<= 0)
        sum = 0  (Q12.19)
        for d >= diff_min:
            r = SRDHM(d << input_left_shift, input_multiplier)     # Q5.26
            sum += RDBPOT(exp_on_negative_values(r), 12)            # Q0.31 -> Q12.19
        recip, bits = get_reciprocal(sum)                           # Q0.31, bits over unit
        out[c] = clamp(RDBPOT(SRDHM(recip, exp(r_c)), bits + 31 - 8) - 128) if d >= diff_min
                 else -128
    where exp_on_negative_values and get_reciprocal are gemmlowp's (fixedpoint.py mirrors them).

    ``method == "table"`` (litert mode; LiteRT's optimized int8 softmax)::

        table[255 - v] = expf(-input_scale * beta * v)   for v in 0..255   (float32)
        t = table[255 - max + x[c]]
        sum = float32 sum of t over the row, in order
        inv = 1.0f / (sum * output_scale)
        out[c] = clamp(round_half_away(t * inv) + output_zero_point)   # all float32 maths
    """

    method: str  # "fixedpoint" | "table"
    input_multiplier: int
    input_left_shift: int
    diff_min: int
    output_zero_point: int
    output_scale: float
    table: np.ndarray | None  # float32 (256,) for method "table"

    def c_fields(self, table: str | None = None) -> dict:
        """mcc_softmax_params, or with ``table`` (the name of the written table) mcc_softmax_table_params."""
        if table is not None:
            return {"table": table, "output_scale": np.float32(self.output_scale),
                    "output_zero_point": self.output_zero_point}
        return c_same_named(self, "input_multiplier input_left_shift diff_min")


@dataclass(frozen=True, eq=False)
class PadParams:
    """pad: ``paddings`` = ((before, after), ...) per dimension; new cells hold ``pad_value``
    (the zero point, i.e. real 0.0)."""

    paddings: tuple[tuple[int, int], ...]
    pad_value: int


@dataclass(frozen=True, eq=False)
class ConcatParams:
    """concat along ``axis`` (inputs share the output's quantization: a plain copy)."""

    axis: int


@dataclass(frozen=True, eq=False)
class ReshapeParams:
    """reshape/flatten: the bytes are unchanged; only the shape is (the output tensor's)."""


@dataclass(frozen=True, eq=False)
class ReluParams:
    """standalone relu / relu6 on int8.

    relu (TFLite ReluQuantized)::
        out = clamp(MBQM(x - input_zero_point, multiplier, shift) + output_zero_point)
    with multiplier = in_scale / out_scale, act range from the output's quantization.
    relu6: input and output quantization must match; ``out = clamp(x)``.
    """

    kind: str  # "relu" | "relu6"
    input_zero_point: int
    output_zero_point: int
    multiplier: int
    shift: int
    act_min: int
    act_max: int
    rounding: str

    def c_fields(self) -> dict:
        """mcc_requantize_params."""
        return {"input_offset": -self.input_zero_point, "output_offset": self.output_zero_point,
                "multiplier": self.multiplier, "shift": self.shift, "activation": c_activation(self)}


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

def _scale(t: Tensor) -> np.float32:
    if t.quant is None:
        raise McuError(f"tensor '{t.name}' has no quantization parameters")
    return np.float32(t.quant.scale[0])


def _zero_point(t: Tensor) -> int:
    if t.quant is None:
        raise McuError(f"tensor '{t.name}' has no quantization parameters")
    return int(t.quant.zero_point[0])


def _round_half_away(x: float) -> int:
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def _quantize_float(value: float, scale: np.float32, zero_point: int) -> int:
    # TFLite's Quantize: float32 division, std::round, then add the zero point.
    return zero_point + _round_half_away(float(np.float32(value) / scale))


def activation_range(activation: str, out: Tensor) -> tuple[int, int]:
    """TFLite's CalculateActivationRangeQuantized for an int8 output tensor."""
    scale, zp = _scale(out), _zero_point(out)
    if activation == "none":
        return INT8_MIN, INT8_MAX
    if activation == "relu":
        return max(INT8_MIN, _quantize_float(0.0, scale, zp)), INT8_MAX
    if activation == "relu6":
        return (max(INT8_MIN, _quantize_float(0.0, scale, zp)),
                min(INT8_MAX, _quantize_float(6.0, scale, zp)))
    raise McuError(f"unsupported fused activation '{activation}' on tensor '{out.name}'")


def _op_rounding(kind: str, rounding: str) -> str:
    if rounding not in ROUNDING_MODES:
        raise McuError(f"unknown rounding mode '{rounding}'; expected one of {', '.join(ROUNDING_MODES)}")
    if rounding == "litert" and kind in LITERT_FLOAT_REQUANT_OPS:
        return "litert"
    return "tflm"


def _float_scales(x: Tensor, w: Tensor, out: Tensor, channels: int) -> np.ndarray:
    """XNNPACK's requantization scale per output channel, all in float32."""
    w_scales = w.quant.scales()
    if w_scales.size == 1:
        w_scales = np.repeat(w_scales, channels)
    return ((_scale(x) * w_scales).astype(np.float32) / _scale(out)).astype(np.float32)


def _channel_multipliers(x: Tensor, w: Tensor, out: Tensor, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel (multiplier, shift): double(in_scale) * double(w_scale) / double(out_scale)."""
    if w.quant is None:
        raise McuError(f"weight tensor '{w.name}' has no quantization parameters")
    w_scales = w.quant.scales().astype(np.float64)
    if w_scales.size == 1:
        w_scales = np.repeat(w_scales, channels)
    if w_scales.size != channels:
        raise McuError(f"weight tensor '{w.name}' has {w_scales.size} scales for {channels} output channels")
    real = float(_scale(x)) * w_scales / float(_scale(out))
    return quantize_multipliers(real)


def _check_int8(graph: Graph, op: Op, names) -> None:
    for n in names:
        t = graph.tensors[n]
        if t.dtype != "int8":
            raise McuError(f"op '{op.name}' ({op.kind}): tensor '{n}' is {t.dtype}, expected int8")


def _check_symmetric_weights(w: Tensor, op: Op) -> None:
    if w.quant is not None and np.any(w.quant.zero_points() != 0):
        raise McuError(f"op '{op.name}' ({op.kind}): weights '{w.name}' must have zero point 0 (symmetric int8)")


# --------------------------------------------------------------------------------------------
# Per-kind derivations
# --------------------------------------------------------------------------------------------

def _conv(graph: Graph, op: Op, rounding: str) -> ConvParams:
    x, w = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
    out = graph.output_tensor(op)
    _check_int8(graph, op, (op.inputs[0], op.inputs[1], op.outputs[0]))
    _check_symmetric_weights(w, op)
    channels = out.shape[-1]
    mult, shift = _channel_multipliers(x, w, out, channels)
    act_min, act_max = activation_range(op.attrs.get("activation", "none"), out)
    mode = _op_rounding(op.kind, rounding)
    return ConvParams(
        input_offset=-_zero_point(x), output_offset=_zero_point(out),
        multiplier=mult, shift=shift, act_min=act_min, act_max=act_max,
        stride=tuple(op.attrs.get("stride", (1, 1))), dilation=tuple(op.attrs.get("dilation", (1, 1))),
        padding=tuple(op.attrs.get("padding", (0, 0, 0, 0))),
        depth_multiplier=int(op.attrs.get("depth_multiplier", 1)) if op.kind == "depthwise_conv2d" else 1,
        rounding=mode, float_scale=_float_scales(x, w, out, channels) if mode == "litert" else None)


def _fully_connected(graph: Graph, op: Op, rounding: str) -> FullyConnectedParams:
    x, w = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
    out = graph.output_tensor(op)
    _check_int8(graph, op, (op.inputs[0], op.inputs[1], op.outputs[0]))
    units = out.shape[-1]  # w.shape[0], or the units of a layer built from shared values
    mult, shift = _channel_multipliers(x, w, out, units)
    act_min, act_max = activation_range(op.attrs.get("activation", "none"), out)
    filter_zp = int(w.quant.zero_point[0]) if w.quant is not None else 0
    mode = _op_rounding(op.kind, rounding)
    return FullyConnectedParams(
        input_offset=-_zero_point(x), filter_offset=-filter_zp, output_offset=_zero_point(out),
        multiplier=mult, shift=shift, act_min=act_min, act_max=act_max, rounding=mode,
        float_scale=_float_scales(x, w, out, units) if mode == "litert" else None)


def _same_quant(a: Tensor, b: Tensor) -> bool:
    return _scale(a) == _scale(b) and _zero_point(a) == _zero_point(b)


def _require_same_quant(graph: Graph, op: Op, names) -> None:
    out = graph.output_tensor(op)
    for n in names:
        if not _same_quant(graph.tensors[n], out):
            raise McuError(f"op '{op.name}' ({op.kind}): input '{n}' and output '{out.name}' must share "
                           "scale and zero point")


def _pool(graph: Graph, op: Op, rounding: str) -> PoolParams:
    _check_int8(graph, op, (op.inputs[0], op.outputs[0]))
    _require_same_quant(graph, op, op.inputs[:1])
    out = graph.output_tensor(op)
    act_min, act_max = activation_range(op.attrs.get("activation", "none"), out)
    return PoolParams(kind="max" if op.kind == "max_pool2d" else "avg",
                      pool=tuple(op.attrs["pool"]), stride=tuple(op.attrs.get("stride", op.attrs["pool"])),
                      padding=tuple(op.attrs.get("padding", (0, 0, 0, 0))), act_min=act_min, act_max=act_max)


def _mean(graph: Graph, op: Op, rounding: str) -> MeanParams:
    _check_int8(graph, op, (op.inputs[0], op.outputs[0]))
    x, out = graph.tensors[op.inputs[0]], graph.output_tensor(op)
    rank = len(x.shape)
    axes = tuple(sorted({int(a) % rank for a in op.attrs["axes"]}))
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    mult, shift = quantize_multiplier(float(_scale(x)) / float(_scale(out)))
    k = min(count.bit_length() - 1, 32, 31 + shift)
    mult, shift = (mult << k) // count, shift - k
    mode = _op_rounding(op.kind, rounding)
    float_scale = None
    if mode == "litert":
        float_scale = float(np.float32(_scale(x) / np.float32(_scale(out) * np.float32(count))))
    return MeanParams(axes=axes, keepdims=bool(op.attrs.get("keepdims", False)), count=count,
                      same_quant=False,
                      input_offset=-_zero_point(x), output_offset=_zero_point(out),
                      multiplier=mult, shift=shift, act_min=INT8_MIN, act_max=INT8_MAX,
                      rounding=mode, float_scale=float_scale)


def quantize_multiplier_smaller_than_one_exp(real: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplierSmallerThanOneExp: real in (0, 1) -> (Q31, shift <= 0)."""
    if not 0.0 < real < 1.0:
        raise McuError(f"requantization multiplier {real} out of range (0, 1)")
    mult, shift = quantize_multiplier(real)
    if shift > 0:
        raise McuError(f"requantization multiplier {real} out of range (0, 1)")
    return mult, shift


def _add(graph: Graph, op: Op, rounding: str) -> AddParams:
    _check_int8(graph, op, (op.inputs[0], op.inputs[1], op.outputs[0]))
    a, b, out = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]], graph.output_tensor(op)
    left_shift = 20
    twice_max = 2.0 * float(max(_scale(a), _scale(b)))
    m1, s1 = quantize_multiplier_smaller_than_one_exp(float(_scale(a)) / twice_max)
    m2, s2 = quantize_multiplier_smaller_than_one_exp(float(_scale(b)) / twice_max)
    mo, so = quantize_multiplier_smaller_than_one_exp(twice_max / ((1 << left_shift) * float(_scale(out))))
    act_min, act_max = activation_range(op.attrs.get("activation", "none"), out)
    return AddParams(left_shift=left_shift,
                     input1_offset=-_zero_point(a), input1_multiplier=m1, input1_shift=s1,
                     input2_offset=-_zero_point(b), input2_multiplier=m2, input2_shift=s2,
                     output_offset=_zero_point(out), output_multiplier=mo, output_shift=so,
                     act_min=act_min, act_max=act_max)


def softmax_lookup_table(input_scale: float, beta: float) -> np.ndarray:
    """LiteRT's PopulateSoftmaxLookupTable: table[255 - v] = expf(-input_scale * beta * v).

    The product is float32 as in C; expf is evaluated in double and rounded to float32
    (correctly rounded; glibc's expf agrees on these 256 points for the models tested).
    """
    scale = np.float32(-np.float32(input_scale) * np.float32(beta))
    v = np.arange(256, dtype=np.float32)
    values = np.exp((scale * v).astype(np.float64)).astype(np.float32)
    return values[::-1].copy()


def _softmax(graph: Graph, op: Op, rounding: str) -> SoftmaxParams:
    _check_int8(graph, op, (op.inputs[0], op.outputs[0]))
    x, out = graph.tensors[op.inputs[0]], graph.output_tensor(op)
    if _zero_point(out) != -128 or _scale(out) != np.float32(1.0 / 256):
        raise McuError(f"op '{op.name}' (softmax): int8 output must have scale 1/256 and zero point -128 "
                       f"(got {float(_scale(out))}, {_zero_point(out)})")
    beta = float(op.attrs.get("beta", 1.0))
    ibits = SOFTMAX_SCALED_DIFF_INTEGER_BITS
    # PreprocessSoftmaxScaling: beta * scale * 2^(31 - 5), capped, as a "greater than one" multiplier.
    real = min(beta * float(_scale(x)) * (1 << (31 - ibits)), float((1 << 31) - 1))
    mult, left_shift = quantize_multiplier(real)
    if left_shift < 0:
        raise McuError(f"op '{op.name}' (softmax): input scale {float(_scale(x))} too small")
    # CalculateInputRadius: floor((2^5 - 1) * 2^(31 - 5) / 2^left_shift).
    radius = math.floor(((1 << ibits) - 1) * (1 << (31 - ibits)) / (1 << left_shift))
    table = None
    method = "fixedpoint"
    if rounding == "litert":
        method = "table"
        table = softmax_lookup_table(float(_scale(x)), beta)
    elif rounding not in ROUNDING_MODES:
        _op_rounding(op.kind, rounding)
    return SoftmaxParams(method=method, input_multiplier=mult, input_left_shift=left_shift,
                         diff_min=-radius, output_zero_point=_zero_point(out),
                         output_scale=float(_scale(out)), table=table)


def _pad(graph: Graph, op: Op, rounding: str) -> PadParams:
    _check_int8(graph, op, (op.inputs[0], op.outputs[0]))
    _require_same_quant(graph, op, op.inputs[:1])
    paddings = tuple((int(a), int(b)) for a, b in op.attrs["paddings"])
    return PadParams(paddings=paddings, pad_value=_zero_point(graph.output_tensor(op)))


def _concat(graph: Graph, op: Op, rounding: str) -> ConcatParams:
    _check_int8(graph, op, tuple(op.inputs) + op.outputs)
    _require_same_quant(graph, op, op.inputs)
    rank = len(graph.output_tensor(op).shape)
    return ConcatParams(axis=int(op.attrs["axis"]) % rank)


def _reshape(graph: Graph, op: Op, rounding: str) -> ReshapeParams:
    _check_int8(graph, op, (op.inputs[0], op.outputs[0]))
    _require_same_quant(graph, op, op.inputs[:1])
    return ReshapeParams()


def _relu(graph: Graph, op: Op, rounding: str) -> ReluParams:
    _check_int8(graph, op, (op.inputs[0], op.outputs[0]))
    x, out = graph.tensors[op.inputs[0]], graph.output_tensor(op)
    if op.kind == "relu6":
        _require_same_quant(graph, op, op.inputs[:1])
    mult, shift = quantize_multiplier(float(_scale(x)) / float(_scale(out)))
    act_min, act_max = activation_range(op.kind, out)
    return ReluParams(kind=op.kind, input_zero_point=_zero_point(x), output_zero_point=_zero_point(out),
                      multiplier=mult, shift=shift, act_min=act_min, act_max=act_max,
                      rounding=_op_rounding(op.kind, rounding))


def kernel_params(graph: Graph, op: Op, rounding: str = "tflm") -> Any:
    """The integer parameters of ``op`` in the int8 ``graph`` for the given rounding mode."""
    if rounding not in ROUNDING_MODES:
        raise McuError(f"unknown rounding mode '{rounding}'; expected one of {', '.join(ROUNDING_MODES)}")
    kind = op_kind(op.kind)
    if kind is None or kind.params is None:
        raise McuError(f"op '{op.name}': int8 kernel for '{op.kind}' is not supported")
    return kind.resolve("params")(graph, op, rounding)


# --------------------------------------------------------------------------------------------
# Float interface: what TFLite's QUANTIZE (float -> int8) and DEQUANTIZE ops compute, for
# models whose ports are float (see importers/tflite.py) and for C's float wrappers.
# --------------------------------------------------------------------------------------------

def quantize_input(x: np.ndarray, quant) -> np.ndarray:
    """QUANTIZE: ``clamp(round_half_away(f32(x) / f32(scale)) + zero_point)`` as int8."""
    scaled = np.asarray(x, dtype=np.float32) / np.float32(quant.scale[0])
    rounded = np.where(scaled >= 0, np.floor(scaled + np.float32(0.5)), -np.floor(-scaled + np.float32(0.5)))
    return np.clip(rounded.astype(np.int64) + int(quant.zero_point[0]), INT8_MIN, INT8_MAX).astype(np.int8)


def dequantize_output(q: np.ndarray, quant) -> np.ndarray:
    """DEQUANTIZE: ``f32(double(scale) * (q - zero_point))``."""
    centered = np.asarray(q, dtype=np.int64) - int(quant.zero_point[0])
    return (float(np.float32(quant.scale[0])) * centered.astype(np.float64)).astype(np.float32)

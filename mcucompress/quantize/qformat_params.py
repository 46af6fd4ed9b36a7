"""Kernel parameters of the Q-format op kinds, and the exact arithmetic each one performs.

Q-format tensors are int8 with a power-of-two scale and zero point 0: a tensor in format
<IL, FL> (IL + FL = 7 bits after the sign) holds ``real = q * 2^-FL``. FL may be negative or
larger than 7. The fraction bits are read back from the scales stored in the graph
(``scale == 2^-FL`` exactly, else McuError), so a serialized graph describes itself.

Named by the op catalogue (``ir/ops.py``): ``quantize.params.kernel_params`` derives them, and
the numpy reference (``reference/qformat.py``) and the C lowering (``codegen/lower_qformat.py``)
read the same numbers.

Notation: ``rshift(v, s)`` = round to nearest, halves up (towards +inf), of ``v / 2^s`` for
``s >= 0``, computed without overflow as ``(v >> s) + ((v >> (s - 1)) & 1)`` (``v`` when
``s == 0``; ``>>`` is an arithmetic shift). ``clamp(v)`` = ``min(max(v, act_min), act_max)``,
the range of the fused activation within [-128, 127] (saturation).

conv2d_q7, depthwise_conv2d_q7 (same loops and attributes as conv2d / depthwise_conv2d)::

    acc = bias[oc] + sum w[...] * x[...]          # int32; taps in the padding add nothing
    out = clamp(rshift(acc, shift[oc]))           # shift[oc] = FL_x + FL_w[oc] - FL_out

fully_connected_q7::

    acc = bias[o] + sum_i w[o, i] * x[i];   out[o] = clamp(rshift(acc, shift[o]))

add_q7 (two activations of equal shape)::

    F = max(FL_a, FL_b)
    out = clamp(rshift((a << (F - FL_a)) + (b << (F - FL_b)), F - FL_out))

No multiply wider than 32 bits anywhere: the requantization is one shift. Biases are int32 at
scale 2^-(FL_x + FL_w[oc]). The derivation refuses graphs whose int32 accumulator could overflow
(``max|bias| + K * 128 * 128 >= 2^31`` for K products per output), shifts outside [0, 31] and
add inputs whose formats differ by more than 22 bits; the Q-format quantizer never makes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, Op, Tensor
from mcucompress.quantize.params import ConvWindow, NamedAsInC, activation_range, c_activation

INT32_MAX = (1 << 31) - 1
MAX_PRODUCT = 128 * 128       # largest |w * x| of two int8 values
MAX_SHIFT = 31
MAX_ADD_ALIGN = 22            # 128 << 22 twice still fits an int32 sum

@dataclass(frozen=True, eq=False)
class Q7ConvParams(ConvWindow):
    """conv2d_q7 / depthwise_conv2d_q7 (see module docs)."""

    shift: np.ndarray  # int64, one per output channel

    def c_fields(self, shifts: dict) -> dict:
        """mcc_conv_q7_params; ``shifts``: the written shift array's fields (shift, per_channel)."""
        return self.c_window() | {"depth_multiplier": self.depth_multiplier} | shifts | {
            "activation": c_activation(self)}


@dataclass(frozen=True, eq=False)
class Q7FullyConnectedParams:
    shift: np.ndarray  # int64, one per output
    act_min: int
    act_max: int

    def c_fields(self, shifts: dict) -> dict:
        """mcc_fc_q7_params; ``shifts`` as for Q7ConvParams."""
        return shifts | {"activation": c_activation(self)}


@dataclass(frozen=True)
class Q7AddParams(NamedAsInC):
    """mcc_add_q7_params."""

    input1_left_shift: int
    input2_left_shift: int
    shift: int
    act_min: int
    act_max: int


def fraction_bits(scale: float) -> int:
    """FL of a power-of-two scale 2^-FL; McuError for any other scale."""
    mantissa, exponent = math.frexp(float(scale))
    if mantissa != 0.5:
        raise McuError(f"scale {scale!r} is not a power of two, so it has no Q format")
    return 1 - exponent


def tensor_fraction_bits(t: Tensor, op: Op) -> np.ndarray:
    """FL of each scale of ``t`` (one per channel for per-channel weights)."""
    if t.quant is None or t.dtype != "int8":
        raise McuError(f"op '{op.name}' ({op.kind}): tensor '{t.name}' must be a Q-format int8 tensor")
    if any(z != 0 for z in t.quant.zero_point):
        raise McuError(f"op '{op.name}' ({op.kind}): tensor '{t.name}' has a non-zero zero point; "
                       "Q-format tensors are symmetric")
    try:
        return np.array([fraction_bits(s) for s in t.quant.scale], dtype=np.int64)
    except McuError as error:
        raise McuError(f"op '{op.name}' ({op.kind}): tensor '{t.name}': {error}") from None


def _shifts(op: Op, x: Tensor, w: Tensor, out: Tensor, channels: int) -> np.ndarray:
    fl_w = tensor_fraction_bits(w, op)
    if fl_w.size == 1:
        fl_w = np.repeat(fl_w, channels)
    if fl_w.size != channels:
        raise McuError(f"op '{op.name}' ({op.kind}): {fl_w.size} weight scales for {channels} channels")
    shift = tensor_fraction_bits(x, op)[0] + fl_w - tensor_fraction_bits(out, op)[0]
    if shift.min() < 0 or shift.max() > MAX_SHIFT:
        raise McuError(f"op '{op.name}' ({op.kind}): requantization shifts {shift.min()}..{shift.max()} "
                       f"are outside 0..{MAX_SHIFT}")
    return shift


def _check_accumulator(op: Op, bias: Tensor | None, products: int) -> None:
    peak = 0
    if bias is not None:
        if bias.data is None or bias.data.dtype != np.int32:
            raise McuError(f"op '{op.name}' ({op.kind}): bias '{bias.name}' must be a constant int32 tensor")
        peak = int(np.abs(bias.data.astype(np.int64)).max(initial=0))
    if peak + products * MAX_PRODUCT > INT32_MAX:
        raise McuError(f"op '{op.name}' ({op.kind}): its int32 accumulator could overflow "
                       f"({products} products, bias up to {peak})")


def _activation_range(op: Op, out: Tensor) -> tuple[int, int]:
    return activation_range(op.attrs.get("activation", "none"), out)


def _weights(graph: Graph, op: Op) -> tuple[Tensor, Tensor, Tensor | None, Tensor]:
    x, w = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1])
    bias = graph.tensor(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] is not None else None
    if not w.is_constant:
        raise McuError(f"op '{op.name}' ({op.kind}): weights must be a constant tensor")
    return x, w, bias, graph.output_tensor(op)


def _conv(graph: Graph, op: Op, rounding: str) -> Q7ConvParams:
    x, w, bias, out = _weights(graph, op)
    depthwise = op.kind == "depthwise_conv2d_q7"
    channels = int(w.shape[3] if depthwise else w.shape[0])
    products = int(w.shape[1] * w.shape[2]) * (1 if depthwise else int(w.shape[3]))
    _check_accumulator(op, bias, products)
    act_min, act_max = _activation_range(op, out)
    a = op.attrs
    return Q7ConvParams(shift=_shifts(op, x, w, out, channels), act_min=act_min, act_max=act_max,
                        stride=tuple(a.get("stride", (1, 1))), dilation=tuple(a.get("dilation", (1, 1))),
                        padding=tuple(a.get("padding", (0, 0, 0, 0))),
                        depth_multiplier=int(a.get("depth_multiplier", 1)))


def _fully_connected(graph: Graph, op: Op, rounding: str) -> Q7FullyConnectedParams:
    x, w, bias, out = _weights(graph, op)
    _check_accumulator(op, bias, int(np.prod(w.shape[1:])))
    act_min, act_max = _activation_range(op, out)
    return Q7FullyConnectedParams(_shifts(op, x, w, out, int(w.shape[0])), act_min, act_max)


def _add(graph: Graph, op: Op, rounding: str) -> Q7AddParams:
    a, b = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1])
    out = graph.output_tensor(op)
    fl_a, fl_b = int(tensor_fraction_bits(a, op)[0]), int(tensor_fraction_bits(b, op)[0])
    fl_out = int(tensor_fraction_bits(out, op)[0])
    common = max(fl_a, fl_b)
    if common - min(fl_a, fl_b) > MAX_ADD_ALIGN:
        raise McuError(f"op '{op.name}' (add_q7): input formats differ by {common - min(fl_a, fl_b)} "
                       f"fraction bits (at most {MAX_ADD_ALIGN})")
    shift = common - fl_out
    if not 0 <= shift <= MAX_SHIFT:
        raise McuError(f"op '{op.name}' (add_q7): output shift {shift} is outside 0..{MAX_SHIFT}")
    act_min, act_max = _activation_range(op, out)
    return Q7AddParams(common - fl_a, common - fl_b, shift, act_min, act_max)

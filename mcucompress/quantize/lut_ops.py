"""Element-wise int8 functions computed through a 256-entry table: logistic, tanh, leaky_relu,
elu, hard_swish and requantize (TFLite's int8 -> int8 QUANTIZE). Everything about these op kinds
sits in this one module.

An int8 -> int8 function of one value has only 256 inputs, so whatever integer arithmetic
TensorFlow Lite Micro's kernel runs per element, running that same arithmetic once over all 256
inputs at export time gives a table the C kernel (``mcc_lut_s8``) only indexes: bit-exact with
tflite-micro and one load per element on the device. The arithmetic per kind follows TFLM's
reference kernels (written from their description, in numpy):

- logistic, tanh: gemmlowp fixed point (input rescaled to Q4, exp on negative values, Newton
  reciprocal), outputs at the fixed quantizations TFLite requires (1/256, -128) and (1/128, 0);
- leaky_relu: one requantization for x >= 0 and one by alpha for x < 0;
- hard_swish: TFLM's int16 pipeline (a "reluish" factor in [0, 1] times the rescaled input);
- elu: TFLM builds its table in float32 (exp(x) - 1 for x < 0), so the table is built so too.

Attributes: ``leaky_relu`` has ``alpha`` (float, >= 0); the others have none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, Op, QuantParams
from mcucompress.quantize import fixedpoint as fp


# Output quantization TFLite fixes for these kinds (the converter writes exactly these).
FIXED_OUTPUT_QUANT = {
    "logistic": QuantParams((1.0 / 256.0,), (-128,)),
    "tanh": QuantParams((1.0 / 128.0,), (0,)),
}

_INT8 = np.arange(-128, 128, dtype=np.int64)  # table index i holds f(i - 128)


@dataclass(frozen=True)
class LutParams:
    table: np.ndarray  # int8[256], entry i for input value i - 128


# -- float semantics ---------------------------------------------------------------------------

def float_reference(graph: Graph, op: Op, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    if op.kind == "logistic":
        return (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)
    if op.kind == "tanh":
        return np.tanh(x)
    if op.kind == "leaky_relu":
        return np.where(x >= 0, x, x * np.float32(op.attrs["alpha"])).astype(np.float32)
    if op.kind in ("elu", "float_elu"):
        return np.where(x < 0, np.expm1(x), x).astype(np.float32)
    if op.kind == "hard_swish":
        return (x * np.clip(x + 3.0, 0.0, 6.0) / 6.0).astype(np.float32)
    if op.kind == "requantize":
        return x
    raise McuError(f"op '{op.name}': unknown table op kind '{op.kind}'")


# -- integer tables ------------------------------------------------------------------------------

def _scale(graph: Graph, name: str) -> np.float32:
    return np.float32(graph.tensors[name].quant.scale[0])


def _zero(graph: Graph, name: str) -> int:
    return int(graph.tensors[name].quant.zero_point[0])


def _q4_input(graph: Graph, op: Op):
    """(x - zero point, radius, multiplier, shift) of TFLM's Q4 input rescaling (tanh, logistic)."""
    real = float(_scale(graph, op.inputs[0])) * float(1 << 27)
    fraction, shift = math.frexp(real)
    multiplier = int(fp.round_half_away(fraction * float(1 << 31)))
    radius = math.floor(15.0 * float(1 << 27) / float(1 << shift))
    return _INT8 - _zero(graph, op.inputs[0]), radius, multiplier, shift


def _saturate(values, low, high) -> np.ndarray:
    return np.clip(values, low, high).astype(np.int8)


def _logistic(graph: Graph, op: Op) -> np.ndarray:
    x, radius, multiplier, shift = _q4_input(graph, op)
    inside = np.clip(x, -radius + 1, radius - 1)
    q4 = fp.multiply_by_quantized_multiplier(inside, multiplier, shift, "tflm")
    magnitude = np.abs(q4)
    positive = fp.one_over_one_plus_x_for_x_in_0_1(fp.exp_on_negative_values(-magnitude, 4))
    q0 = np.where(q4 == 0, 1 << 30, np.where(q4 > 0, positive, fp.INT32_MAX - positive))
    out = fp.rounding_divide_by_pot(q0, 23) - 128
    return _saturate(np.where(x <= -radius, -128, np.where(x >= radius, 127, out)), -128, 127)


def _tanh(graph: Graph, op: Op) -> np.ndarray:
    x, radius, multiplier, shift = _q4_input(graph, op)
    inside = np.clip(x, -radius + 1, radius - 1)
    q4 = fp.multiply_by_quantized_multiplier(inside, multiplier, shift, "tflm")
    # exp(2 * -|a|): doubling is exact in fixed point, the raw value read with 5 integer bits
    t = fp.one_minus_x_over_one_plus_x_for_x_in_0_1(fp.exp_on_negative_values(-np.abs(q4), 5))
    q0 = np.where(q4 == 0, 0, np.where(q4 < 0, -t, t))
    out = fp.rounding_divide_by_pot(q0, 24)
    return _saturate(np.where(x <= -radius, -128, np.where(x >= radius, 127, out)), -128, 127)


def _leaky_relu(graph: Graph, op: Op) -> np.ndarray:
    alpha = np.float32(op.attrs["alpha"])
    if not alpha >= 0:
        raise McuError(f"op '{op.name}' (leaky_relu): negative alpha {alpha} is not supported")
    s_in, s_out = _scale(graph, op.inputs[0]), _scale(graph, op.outputs[0])
    alpha_mult, alpha_shift = fp.quantize_multiplier(float(np.float32(np.float32(s_in * alpha) / s_out)))
    id_mult, id_shift = fp.quantize_multiplier(float(np.float32(s_in / s_out)))
    x = _INT8 - _zero(graph, op.inputs[0])
    positive = fp.multiply_by_quantized_multiplier(x, id_mult, id_shift, "tflm")
    negative = fp.multiply_by_quantized_multiplier(x, alpha_mult, alpha_shift, "tflm")
    return _saturate(_zero(graph, op.outputs[0]) + np.where(x >= 0, positive, negative), -128, 127)


def _srdhm16(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul on int16 values."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    ab = a * b
    total = ab + np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    high = np.sign(total) * (np.abs(total) >> 15)  # C division truncates toward zero
    return np.where((a == -32768) & (b == -32768), 32767, high)


def _shift_left16(a, amount: int):
    return np.clip(np.asarray(a, np.int64) * (1 << amount), -32768, 32767)


def _int16_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier, then TFLM's DownScaleInt32ToInt16Multiplier (round to Q15)."""
    mult, exponent = fp.quantize_multiplier(real)
    if mult >= (1 << 31) - 1 - (1 << 15):
        return 32767, exponent
    return (mult + (1 << 15)) >> 16, exponent


def _hard_swish(graph: Graph, op: Op) -> np.ndarray:
    s_in, s_out = _scale(graph, op.inputs[0]), _scale(graph, op.outputs[0])
    hires = np.float32(np.float32(1.0 / 128.0) * s_in)
    out_mult, out_exp = _int16_multiplier(float(np.float32(hires / s_out)))
    relu_mult, relu_exp = _int16_multiplier(float(np.float32(hires / np.float32(3.0 / 32768.0))))
    if out_exp > 0:
        raise McuError(f"op '{op.name}' (hard_swish): output scale too small for the input scale")
    x = (_INT8 - _zero(graph, op.inputs[0])) * (1 << 7)
    on_output_scale = _srdhm16(x, out_mult)
    reluish = x
    if relu_exp > 0:
        reluish = _shift_left16(reluish, relu_exp - 1)
    reluish = _srdhm16(reluish, relu_mult)
    if relu_exp > 0:
        reluish = _shift_left16(reluish, 1)
    if relu_exp < 0:
        reluish = fp.rounding_divide_by_pot(reluish, -relu_exp)
    reluish = (reluish + (1 << 15)) >> 1
    product = reluish * on_output_scale  # TFLM's non-rounding int16 doubling high multiply
    product = np.where((reluish == -32768) & (on_output_scale == -32768), 32767,
                       np.sign(product) * (np.abs(product) >> 15))
    out = fp.rounding_divide_by_pot(product, -out_exp) + _zero(graph, op.outputs[0])
    return _saturate(out, -128, 127)


def _requantize(graph: Graph, op: Op) -> np.ndarray:
    """TFLite's int8 -> int8 QUANTIZE: (x - in_zp) rescaled by in_scale / out_scale + out_zp."""
    s_in, s_out = _scale(graph, op.inputs[0]), _scale(graph, op.outputs[0])
    mult, shift = fp.quantize_multiplier(float(s_in) / float(s_out))
    x = _INT8 - _zero(graph, op.inputs[0])
    out = fp.multiply_by_quantized_multiplier(x, mult, shift, "tflm") + _zero(graph, op.outputs[0])
    return _saturate(out, -128, 127)


def _elu(graph: Graph, op: Op) -> np.ndarray:
    s_in, s_out = _scale(graph, op.inputs[0]), _scale(graph, op.outputs[0])
    inverse = np.float32(np.float32(1.0) / s_out)
    x = (s_in * (_INT8 - _zero(graph, op.inputs[0])).astype(np.float32)).astype(np.float32)
    y = np.where(x < 0, (np.exp(x) - np.float32(1.0)).astype(np.float32), x).astype(np.float32)
    rescaled = fp.round_half_away((y * inverse).astype(np.float32))
    return _saturate(rescaled.astype(np.int64) + _zero(graph, op.outputs[0]), -128, 127)


def _float_elu(graph: Graph, op: Op) -> np.ndarray:
    """ELU in float32 between DEQUANTIZE and QUANTIZE (the converter's float island), as
    tflite-micro runs it: dequantize with the double scale, cast to float; expm1 in float32;
    float32 division by the output scale, round half away from zero, add the zero point."""
    s_in, s_out = _scale(graph, op.inputs[0]), _scale(graph, op.outputs[0])
    x = (float(s_in) * (_INT8 - _zero(graph, op.inputs[0])).astype(np.float64)).astype(np.float32)
    y = np.where(x < 0, np.expm1(x), x).astype(np.float32)
    rescaled = fp.round_half_away((y / s_out).astype(np.float32))
    return _saturate(rescaled.astype(np.int64) + _zero(graph, op.outputs[0]), -128, 127)


_TABLES = {"logistic": _logistic, "tanh": _tanh, "leaky_relu": _leaky_relu, "elu": _elu,
           "hard_swish": _hard_swish, "requantize": _requantize, "float_elu": _float_elu}


def lut_params(graph: Graph, op: Op, rounding: str = "tflm") -> LutParams:
    for name in (op.inputs[0], op.outputs[0]):
        t = graph.tensors[name]
        if t.dtype != "int8" or t.quant is None:
            raise McuError(f"op '{op.name}' ({op.kind}): tensor '{name}' must be int8")
    fixed = FIXED_OUTPUT_QUANT.get(op.kind)
    out = graph.tensors[op.outputs[0]].quant
    if fixed is not None and (np.float32(out.scale[0]) != np.float32(fixed.scale[0])
                              or out.zero_point[0] != fixed.zero_point[0]):
        raise McuError(f"op '{op.name}' ({op.kind}): output must have scale {fixed.scale[0]} and "
                       f"zero point {fixed.zero_point[0]}")
    return LutParams(np.asarray(_TABLES[op.kind](graph, op), np.int8))


def int8_reference(op: Op, p: LutParams, args, out_shape, graph) -> np.ndarray:
    return p.table[args[0].astype(np.int64) + 128].reshape(out_shape)


# -- lowering to C (the kinds are registered in ir/ops.py) -------------------------------------

def lower(b, i: int, op: Op) -> None:
    x, out = b.graph.tensor(op.inputs[0]), b.graph.output_tensor(op)
    p = lut_params(b.graph, op, b.rounding)
    table = b.array(f"op{i}_{op.kind}_table", p.table, "int8_t")
    b.call(op, "mcc_lut_s8", table, b.arena(x.name), b.arena(out.name), str(out.size))

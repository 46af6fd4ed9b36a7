"""Integer requantization, exactly as TensorFlow Lite does it.

A real multiplier M (say input_scale * weight_scale / output_scale) is stored as a Q31 integer
``m`` in [2^30, 2^31) and a power-of-two exponent ``shift`` so that M = m * 2^(shift - 31).

Two roundings exist in the TensorFlow Lite family and both are needed:

- ``"tflm"`` (default): gemmlowp's double rounding — a rounding doubling high multiply followed by
  a rounding right shift. TensorFlow Lite Micro's reference kernels do this.
- ``"litert"``: a single rounding of the 64-bit product (TFLITE_SINGLE_ROUNDING / ruy), which
  LiteRT's built-in conv/FC kernels use. Note: the default LiteRT interpreter runs conv, FC and
  mean through XNNPACK instead, which requantizes in float32; ``quantize.params`` models that.

All functions take and return numpy int64 arrays (or scalars) so that intermediate products never
overflow; results are in int32 range. The C runtime mirrors these line by line.
"""

from __future__ import annotations

import math

import numpy as np

ROUNDING_MODES = ("tflm", "litert")
INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def _round_half_away(x: float) -> float:
    """C's std::round: halves go away from zero (Python's round() goes to even)."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def round_half_away(values) -> np.ndarray:
    """Array form of C's std::round (halves away from zero), as float64."""
    v = np.asarray(values, dtype=np.float64)
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplier: real -> (Q31 multiplier, shift), shift > 0 meaning left."""
    if real_multiplier == 0.0:
        return 0, 0
    fraction, shift = math.frexp(float(real_multiplier))
    q_fixed = int(_round_half_away(fraction * (1 << 31)))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q_fixed, shift


def quantize_multipliers(real_multipliers) -> tuple[np.ndarray, np.ndarray]:
    """Vector form of quantize_multiplier: (int32 multipliers, int32 shifts)."""
    pairs = [quantize_multiplier(float(m)) for m in np.asarray(real_multipliers, dtype=np.float64).ravel()]
    return (np.array([p[0] for p in pairs], dtype=np.int32),
            np.array([p[1] for p in pairs], dtype=np.int32))


def saturating_rounding_doubling_high_mul(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul on int32 values held in int64."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    overflow = (a == INT32_MIN) & (b == INT32_MIN)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    total = ab + nudge
    # C integer division truncates toward zero; numpy's // floors, so divide magnitudes.
    quotient = np.sign(total) * (np.abs(total) >> 31)
    return np.where(overflow, INT32_MAX, quotient).astype(np.int64)


def rounding_divide_by_pot(x, exponent):
    """gemmlowp RoundingDivideByPOT: x / 2^exponent, rounding halves away from zero."""
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def multiply_by_quantized_multiplier(x, multiplier, shift, rounding: str = "tflm"):
    """x * M for int32 x, with M given as (Q31 multiplier, shift). Broadcasts over arrays."""
    x = np.asarray(x, dtype=np.int64)
    multiplier = np.asarray(multiplier, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    if rounding == "tflm":
        left = np.maximum(shift, 0)
        right = np.maximum(-shift, 0)
        shifted = np.clip(x << left, INT32_MIN, INT32_MAX)
        return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right)
    if rounding == "litert":
        total_shift = 31 - shift
        rounder = np.int64(1) << (total_shift - 1)
        return (x * multiplier + rounder) >> total_shift
    raise ValueError(f"unknown rounding mode {rounding!r}; expected one of {ROUNDING_MODES}")


def requantize_accumulator(acc, p) -> np.ndarray:
    """int32 accumulators to clamped int8 with a weighted layer's params (multiplier, shift,
    output_offset, act_min/act_max; LiteRT rounding: XNNPACK's float32 scale, one rounding half
    to even)."""
    if p.rounding == "litert":
        v = np.rint(np.asarray(acc).astype(np.float32) * p.float_scale).astype(np.int64)
    else:
        v = multiply_by_quantized_multiplier(acc, p.multiplier, p.shift, "tflm")
    return np.clip(v + p.output_offset, p.act_min, p.act_max).astype(np.int8)


def multiply_by_quantized_multiplier_smaller_than_one_exp(x, multiplier, shift):
    """TFLite's variant used by Add: shift <= 0 always, double rounding."""
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, multiplier), -np.asarray(shift))


# --------------------------------------------------------------------------------------------
# gemmlowp fixed-point helpers used by TFLite's int8 softmax. Values are raw int32 numbers held
# in int64 arrays; "Qm" below means a fixed-point number with m integer bits (31 - m fractional).
# --------------------------------------------------------------------------------------------

def _i64(x):
    return np.asarray(x, dtype=np.int64)


def saturating_left_shift(x, exponent: int):
    """gemmlowp SaturatingRoundingMultiplyByPOT for a positive exponent: x * 2^e, saturated."""
    x = _i64(x)
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, x << exponent))


def rounding_half_sum(a, b):
    """gemmlowp RoundingHalfSum: (a + b) / 2 rounded half away from zero (C truncating division)."""
    total = _i64(a) + _i64(b)
    adjusted = total + np.where(total >= 0, 1, -1)
    return np.sign(adjusted) * (np.abs(adjusted) // 2)


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a):
    """exp(a) for a in [-1/4, 0), Q0 in and out: Taylor series around -1/8."""
    constant_term = 1895147668  # exp(-1/8) in Q0
    constant_1_over_3 = 715827883
    x = _i64(a) + (1 << 28)  # a + 1/8
    x2 = saturating_rounding_doubling_high_mul(x, x)
    x3 = saturating_rounding_doubling_high_mul(x2, x)
    x4 = saturating_rounding_doubling_high_mul(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    inner = saturating_rounding_doubling_high_mul(x4_over_4 + x3, constant_1_over_3) + x2
    x4_over_24_plus_x3_over_6_plus_x2_over_2 = rounding_divide_by_pot(inner, 1)
    return constant_term + saturating_rounding_doubling_high_mul(
        constant_term, x + x4_over_24_plus_x3_over_6_plus_x2_over_2)


# exp(-2^k) in Q0 for k = -2..4, applied bit by bit to the integer part of -a (barrel shifter).
_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
               (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative_values(a, integer_bits: int = 5):
    """gemmlowp exp_on_negative_values: a <= 0 in Q``integer_bits`` -> exp(a) in Q0."""
    a = _i64(a)
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    mask = one_quarter - 1
    a_mod_quarter_minus_one_quarter = (a & mask) - one_quarter
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_left_shift(a_mod_quarter_minus_one_quarter, integer_bits))
    remainder = a_mod_quarter_minus_one_quarter - a
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            bit = (remainder & (1 << (fractional_bits + exponent))) != 0
            result = np.where(bit, saturating_rounding_doubling_high_mul(result, multiplier), result)
    if integer_bits > 5:
        clamp = -(1 << (36 - integer_bits))
        result = np.where(a < clamp, 0, result)
    return np.where(a == 0, INT32_MAX, result)


def one_over_one_plus_x_for_x_in_0_1(a):
    """gemmlowp: 1 / (1 + a) for a in [0, 1) in Q0, by three Newton-Raphson steps (Q2 inside)."""
    x = _two_over_one_plus_x_q2(a)
    # ExactMulByPot<-1> keeps the raw value as Q1; rescaling Q1 -> Q0 doubles it, saturating.
    return saturating_left_shift(x, 1)


def one_minus_x_over_one_plus_x_for_x_in_0_1(a):
    """gemmlowp: (1 - a) / (1 + a) for a in [0, 1) in Q0 (tanh's last step): 2 / (1 + a) - 1."""
    return saturating_left_shift(_two_over_one_plus_x_q2(a) - (1 << 29), 2)


def _two_over_one_plus_x_q2(a):
    """2 / (1 + a) in Q2: the Newton-Raphson reciprocal of (1 + a) / 2 both helpers share."""
    half_denominator = rounding_half_sum(a, INT32_MAX)
    constant_48_over_17 = 1515870810
    constant_neg_32_over_17 = -1010580540
    x = constant_48_over_17 + saturating_rounding_doubling_high_mul(half_denominator, constant_neg_32_over_17)
    one_q2 = 1 << 29
    for _ in range(3):
        half_denominator_times_x = saturating_rounding_doubling_high_mul(half_denominator, x)
        one_minus = one_q2 - half_denominator_times_x
        x = x + saturating_left_shift(saturating_rounding_doubling_high_mul(x, one_minus), 2)
    return x


def count_leading_zeros32(x):
    """Leading zero bits of x viewed as uint32 (x >= 0 here)."""
    x = _i64(x)
    bits = np.zeros_like(x)
    for k in range(32):
        bits = np.where(x >= (np.int64(1) << (31 - k)), bits, bits + 1)
    return np.where(x <= 0, np.where(x == 0, 32, 0), bits)


def get_reciprocal(x, x_integer_digits: int):
    """TFLite GetReciprocal: (1/x in Q0 scaled into [0.5, 1), number of bits over unit)."""
    x = _i64(x)
    headroom_plus_one = count_leading_zeros32(x)
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    shifted_sum_minus_one = ((x << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31)
    # The uint32 difference is reinterpreted as int32.
    shifted_sum_minus_one = np.where(shifted_sum_minus_one >= (1 << 31),
                                     shifted_sum_minus_one - (1 << 32), shifted_sum_minus_one)
    return one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit

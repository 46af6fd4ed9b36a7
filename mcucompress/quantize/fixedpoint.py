"""Integer requantization, exactly as TensorFlow Lite does it.

A real multiplier M (say input_scale * weight_scale / output_scale) is stored as a Q31 integer
``m`` in [2^30, 2^31) and a power-of-two exponent ``shift`` so that M = m * 2^(shift - 31).

Two roundings exist in the TensorFlow Lite family and both are needed:

- ``"tflm"`` (default): gemmlowp's double rounding — a rounding doubling high multiply followed by
  a rounding right shift. TensorFlow Lite Micro's reference kernels do this.
- ``"litert"``: a single rounding of the 64-bit product (TFLITE_SINGLE_ROUNDING / ruy), which the
  LiteRT host interpreter's optimized kernels use.

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


def multiply_by_quantized_multiplier_smaller_than_one_exp(x, multiplier, shift):
    """TFLite's variant used by Add: shift <= 0 always, double rounding."""
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, multiplier), -np.asarray(shift))

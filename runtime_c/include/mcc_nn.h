/* mcc_nn.h - internal fixed-point helpers shared by the kernels (not public API).
 *
 * Mirrors mcucompress/quantize/fixedpoint.py line by line: both must change together.
 */
#ifndef MCC_NN_H
#define MCC_NN_H

#include <stdint.h>

#include "mcc_port.h"

#define MCC_NN_INT32_MIN (-2147483647 - 1)
#define MCC_NN_INT32_MAX 2147483647

MCC_INLINE int32_t mcc_nn_clamp(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* gemmlowp SaturatingRoundingDoublingHighMul. */
MCC_INLINE int32_t mcc_nn_doubling_high_mul(int32_t a, int32_t b)
{
    int64_t ab;
    int64_t nudge;
    int64_t total;
    if (a == MCC_NN_INT32_MIN && b == MCC_NN_INT32_MIN) {
        return MCC_NN_INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    total = ab + nudge;
    /* Division truncates toward zero, as gemmlowp's does. */
    return (int32_t)(total / ((int64_t)1 << 31));
}

/* gemmlowp RoundingDivideByPOT: x / 2^exponent, halves away from zero. */
MCC_INLINE int32_t mcc_nn_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * multiplier * 2^(shift - 31) with gemmlowp's double rounding, whatever the build mode:
 * TFLM uses it everywhere, LiteRT keeps it for all kernels except conv2d and fully connected
 * (mcucompress/quantize/params.py LITERT_SINGLE_ROUNDING_OPS). */
MCC_INLINE int32_t mcc_nn_requantize_double(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    int64_t shifted = (int64_t)x * ((int64_t)1 << left);
    if (shifted > MCC_NN_INT32_MAX) {
        shifted = MCC_NN_INT32_MAX;
    } else if (shifted < MCC_NN_INT32_MIN) {
        shifted = MCC_NN_INT32_MIN;
    }
    return mcc_nn_divide_by_pot(mcc_nn_doubling_high_mul((int32_t)shifted, multiplier), right);
}

/* x * multiplier * 2^(shift - 31) in the rounding the model was exported for: single rounding
 * of the 64-bit product when MCC_SINGLE_ROUNDING (LiteRT's conv and fully connected), else
 * double rounding (TFLM). */
MCC_INLINE int32_t mcc_nn_requantize(int32_t x, int32_t multiplier, int32_t shift)
{
#if MCC_SINGLE_ROUNDING
    const int32_t total_shift = 31 - shift;
    const int64_t rounder = (int64_t)1 << (total_shift - 1);
    return (int32_t)(((int64_t)x * multiplier + rounder) >> total_shift);
#else
    return mcc_nn_requantize_double(x, multiplier, shift);
#endif
}

/* gemmlowp SaturatingRoundingMultiplyByPOT for a positive exponent (saturating left shift). */
MCC_INLINE int32_t mcc_nn_saturating_shift_left(int32_t x, int32_t exponent)
{
    const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
    if (x > threshold) {
        return MCC_NN_INT32_MAX;
    }
    if (x < -threshold) {
        return MCC_NN_INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

#endif /* MCC_NN_H */

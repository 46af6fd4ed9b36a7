/* mcc_q7.h - internal helper of the Q-format kernels; not public API.
 *
 * Q-format tensors are int8 with a power-of-two scale and zero point 0, so requantizing an int32
 * accumulator is one rounding right shift and a clamp: no multiply wider than 32 bits, which
 * Cortex-M0+ lacks and Cortex-M3 pays for. Mirrors mcucompress/reference/qformat.py.
 */
#ifndef MCC_Q7_H
#define MCC_Q7_H

#include "mcc.h"

/* acc / 2^shift rounded to nearest, halves up, for 0 <= shift <= 31. Adding 2^(shift-1) before
 * shifting could overflow; adding the last bit shifted out cannot. Relies on >> of a negative
 * int32 being arithmetic, as it is with GCC and Clang on every target. */
MCC_INLINE int32_t mcc_q7_rshift_round(int32_t acc, int32_t shift)
{
    if (shift <= 0) {
        return acc;
    }
    return (acc >> shift) + ((acc >> (shift - 1)) & 1);
}

MCC_INLINE int8_t mcc_q7_output(int32_t acc, int32_t shift, const mcc_activation *activation)
{
    int32_t v = mcc_q7_rshift_round(acc, shift);
    v = v < activation->min ? activation->min : v;
    v = v > activation->max ? activation->max : v;
    return (int8_t)v;
}

/* First and one-past-last kernel index whose input position lies inside [0, size). */
MCC_INLINE void mcc_q7_valid_taps(int32_t start, int32_t dilation, int32_t kernel, int32_t size,
                                    int32_t *first, int32_t *last)
{
    int32_t k0 = 0;
    int32_t k1 = kernel;
    while (k0 < kernel && start + k0 * dilation < 0) {
        ++k0;
    }
    while (k1 > k0 && start + (k1 - 1) * dilation >= size) {
        --k1;
    }
    *first = k0;
    *last = k1;
}

#endif /* MCC_Q7_H */

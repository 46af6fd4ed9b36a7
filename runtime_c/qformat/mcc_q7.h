/* mcc_q7.h - internal helper of the Q-format kernels: shift-only requantization. */
#ifndef MCC_Q7_H
#define MCC_Q7_H

#include "mcc.h"

/* acc * 2^-shift rounded to nearest (halves up), then clamped to [act->min, act->max]. No
 * multiply: cores without DSP (Cortex-M0+, M3) pay one add and one shift. */
MCC_INLINE int8_t mcc_q7_requantize(int32_t acc, int32_t shift, const mcc_activation *act)
{
    int64_t v;
    if (shift > 0) {
        v = ((int64_t)acc + ((int64_t)1 << (shift - 1))) >> shift;
    } else {
        v = (int64_t)acc * ((int64_t)1 << -shift);
    }
    v = v < act->min ? act->min : (v > act->max ? act->max : v);
    return (int8_t)v;
}

#endif /* MCC_Q7_H */

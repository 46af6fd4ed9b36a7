/* mcc_add_s8 - int8 element-wise add (TFLite integer Add, same shapes). */
#include "mcc.h"
#include "mcc_nn.h"

#if MCC_HAVE_DSP
#include <arm_acle.h>
#endif

mcc_status mcc_add_s8(const mcc_add_params *params, const int8_t *input1, const int8_t *input2,
                      int8_t *output, int32_t size)
{
    int32_t i;
#if MCC_HAVE_DSP
    /* Fast path when every step is exact: inputs shifted right by 0..30 bits, the output by
     * 1..21 (so its offset fits the rounding constant), the left-shifted inputs doubled still
     * inside int32. */
    const int32_t r1 = -params->input1_shift, r2 = -params->input2_shift, ro = -params->output_shift;
    if (params->left_shift >= 0 && params->left_shift <= 21 && r1 >= 0 && r1 <= 30 && r2 >= 0 &&
        r2 <= 30 && ro >= 1 && ro <= 21 && params->input1_multiplier >= 0 &&
        params->input2_multiplier >= 0 && params->output_multiplier >= 0) {
        const int32_t scale = 1 << (params->left_shift + 1);
        const int32_t c1 = params->input1_offset * scale, c2 = params->input2_offset * scale;
        const int32_t m1 = params->input1_multiplier, m2 = params->input2_multiplier;
        const int32_t mo = params->output_multiplier;
        const int32_t h1 = (1 << r1) >> 1, h2 = (1 << r2) >> 1;
        const int32_t s1 = r1 ? -1 : 0, s2 = r2 ? -1 : 0;
        /* The output offset rides along the rounding constant: (v >> r) + o = (v + (o << r)) >> r. */
        const int32_t ho = (1 << (ro - 1)) + params->output_offset * (1 << ro);
        const int32_t lo = params->activation.min, hi = params->activation.max;
        for (i = 0; i < size; ++i) {
            const int32_t a = mcc_nn_add_rescale(input1[i] * scale + c1, m1, h1, s1, r1);
            const int32_t b = mcc_nn_add_rescale(input2[i] * scale + c2, m2, h2, s2, r2);
            int32_t v = mcc_nn_add_rescale(2 * (a + b), mo, ho, -1, ro);
            v = __ssat(v, 8);
            v = v < lo ? lo : v;
            output[i] = (int8_t)(v > hi ? hi : v);
        }
        return MCC_OK;
    }
#endif
    for (i = 0; i < size; ++i) {
        /* Read both inputs before writing: output may alias either of them. */
        const int32_t a = (input1[i] + params->input1_offset) * (1 << params->left_shift);
        const int32_t b = (input2[i] + params->input2_offset) * (1 << params->left_shift);
        const int32_t scaled_a = mcc_nn_requantize(a, params->input1_multiplier,
                                                   params->input1_shift);
        const int32_t scaled_b = mcc_nn_requantize(b, params->input2_multiplier,
                                                   params->input2_shift);
        int32_t sum = mcc_nn_requantize(scaled_a + scaled_b, params->output_multiplier,
                                        params->output_shift);
        sum += params->output_offset;
        output[i] = (int8_t)mcc_nn_clamp(sum, params->activation.min, params->activation.max);
    }
    return MCC_OK;
}

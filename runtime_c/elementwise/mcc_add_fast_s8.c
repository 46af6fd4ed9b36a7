/* mcc_add_fast_s8 - int8 element-wise add (TFLite integer Add, same shapes) through two
 * 256-entry tables: the rescaled value of an input depends only on its int8 value, so each
 * input's 256 rescaled values are computed once per call with the reference arithmetic
 * (exact by construction) and every element then costs two table reads and one requantization
 * of the sum. Worth it when size is well above 512; the exporter chooses it then.
 *
 * scratch: mcc_add_fast_s8_get_buffer_size() bytes, word aligned.
 */
#include "mcc.h"
#include "mcc_nn.h"

#if MCC_HAVE_DSP
#include <arm_acle.h>
#endif

int32_t mcc_add_fast_s8_get_buffer_size(void)
{
    return 2 * 256 * (int32_t)sizeof(int32_t);
}

mcc_status mcc_add_fast_s8(const mcc_add_params *params, const int8_t *input1,
                           const int8_t *input2, int8_t *output, int32_t size, void *scratch)
{
    int32_t *table1 = (int32_t *)scratch + 128; /* indexed by the int8 value, -128..127 */
    int32_t *table2 = table1 + 256;
    const int32_t lo = params->activation.min, hi = params->activation.max;
    int32_t v, i;

    for (v = -128; v < 128; ++v) {
        table1[v] = mcc_nn_requantize((v + params->input1_offset) * (1 << params->left_shift),
                                      params->input1_multiplier, params->input1_shift);
        table2[v] = mcc_nn_requantize((v + params->input2_offset) * (1 << params->left_shift),
                                      params->input2_multiplier, params->input2_shift);
    }
#if MCC_HAVE_DSP
    {
        /* The sum's requantization as SMMLAR of the doubled sum (exact: |sum| < 2^30 because
         * each rescaled input is at most its left-shifted value) when the output is shifted right
         * by 1..21 bits; the output offset rides along the rounding constant. */
        const int32_t ro = -params->output_shift;
        if (params->left_shift <= 21 && ro >= 1 && ro <= 21 && params->output_multiplier >= 0) {
            const int32_t mo = params->output_multiplier;
            const int32_t ho = (1 << (ro - 1)) + params->output_offset * (1 << ro);
            const int full_range = lo == -128 && hi == 127;
            for (i = 0; i < size; ++i) {
                const int32_t sum2 = 2 * (table1[input1[i]] + table2[input2[i]]);
                int32_t r = (mcc_nn_smmlar(sum2, mo, ho) + (sum2 >> 31)) >> ro;
                r = __ssat(r, 8);
                if (!full_range) {
                    r = r < lo ? lo : (r > hi ? hi : r);
                }
                output[i] = (int8_t)r;
            }
            return MCC_OK;
        }
    }
#endif
    for (i = 0; i < size; ++i) {
        /* Read both inputs before writing: output may alias either of them. */
        const int32_t sum = table1[input1[i]] + table2[input2[i]];
        const int32_t r = mcc_nn_requantize(sum, params->output_multiplier, params->output_shift) +
                          params->output_offset;
        output[i] = (int8_t)mcc_nn_clamp(r, lo, hi);
    }
    return MCC_OK;
}

/* mcc_mean_s8 - int8 mean over height and width (TFLM reduce MEAN, int8, axes (1, 2)). */
#include "mcc.h"
#include "mcc_nn.h"

#if MCC_HAVE_MVE
#include <arm_mve.h>
#endif

/* Sum of one channel's stored values over `count` pixels `ch` bytes apart; the offsets of the
 * callers are added once, as input_offset * count (the same integer sum). */
static int32_t channel_sum(const int8_t *column, int32_t count, int32_t ch)
{
    int32_t sum = 0, i;
#if MCC_HAVE_MVE
    /* four pixels a widening gather, summed across the vector */
    const uint32x4_t offsets = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)ch);
    for (i = 0; i < count; i += 4) {
        const mve_pred16_t p = vctp32q((uint32_t)(count - i));
        sum = vaddvaq_s32(sum, vldrbq_gather_offset_z_s32(column + (int64_t)i * ch, offsets, p));
    }
#else
    for (i = 0; i < count; ++i) {
        sum += column[(int64_t)i * ch];
    }
#endif
    return sum;
}

mcc_status mcc_mean_s8(const mcc_mean_params *params,
                       const mcc_dims *input_dims, const int8_t *input, int8_t *output)
{
    const int32_t count = input_dims->h * input_dims->w;
    const int32_t ch = input_dims->c;
    int32_t b, c;

    if (count <= 0) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in_batch = input + (int64_t)b * count * ch;
        for (c = 0; c < ch; ++c) {
            int32_t acc = channel_sum(in_batch + c, count, ch);
#if MCC_SINGLE_ROUNDING
            acc += params->input_offset * count;
            acc = mcc_nn_requantize_float(acc, params->scale, params->output_offset,
                                          &params->activation);
#else
            if (params->same_quant) {
                /* Equal zero points cancel: average the stored values, truncating. */
                acc = acc / count;
            } else {
                /* The multiplier includes 1 / count. */
                acc += params->input_offset * count;
                acc = mcc_nn_requantize(acc, params->multiplier, params->shift) +
                      params->output_offset;
            }
#endif
            *output++ = (int8_t)mcc_nn_clamp(acc, params->activation.min, params->activation.max);
        }
    }
    return MCC_OK;
}

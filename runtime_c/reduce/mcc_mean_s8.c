/* mcc_mean_s8 - int8 mean over height and width (TFLM reduce MEAN, int8, axes (1, 2)). */
#include "mcc.h"
#include "mcc_nn.h"

#if MCC_HAVE_MVE
#include <arm_mve.h>
#endif

/* One channel's mean from the sum of its stored values over `count` pixels; the input offset is
 * added once, as input_offset * count (the same integer sum). */
static int8_t channel_mean(const mcc_mean_params *params, int32_t acc, int32_t count)
{
#if MCC_SINGLE_ROUNDING
    acc += params->input_offset * count;
    acc = mcc_nn_requantize_float(acc, params->scale, params->output_offset, &params->activation);
#else
    if (params->same_quant) {
        /* Equal zero points cancel: average the stored values, truncating. */
        acc = acc / count;
    } else {
        /* The multiplier includes 1 / count. */
        acc += params->input_offset * count;
        acc = mcc_nn_requantize(acc, params->multiplier, params->shift) + params->output_offset;
    }
#endif
    return (int8_t)mcc_nn_clamp(acc, params->activation.min, params->activation.max);
}

#if MCC_HAVE_MVE
/* Sums over `count` pixels `ch` bytes apart of the 16 consecutive channels from `first` (lanes
 * 16) or of 1-4 of them (lanes, the loads masked past the last channel, which they then do not
 * read): per pixel a widening load of four channels into each sum vector. NHWC keeps a pixel's
 * channels side by side, so no gather; 16 a pass keeps the loop's own instructions few. */
static void channel_sums(const int8_t *first, int32_t count, int32_t ch, int32_t lanes, int32_t *sums)
{
    int32x4_t a = vdupq_n_s32(0), b = a, c = a, d = a;
    int32_t i;
    if (lanes == 16) {
        for (i = 0; i < count; ++i, first += ch) {
            a = vaddq_s32(a, vldrbq_s32(first));
            b = vaddq_s32(b, vldrbq_s32(first + 4));
            c = vaddq_s32(c, vldrbq_s32(first + 8));
            d = vaddq_s32(d, vldrbq_s32(first + 12));
        }
        vst1q_s32(sums + 4, b);
        vst1q_s32(sums + 8, c);
        vst1q_s32(sums + 12, d);
    } else {
        const mve_pred16_t p = vctp32q((uint32_t)lanes);
        for (i = 0; i < count; ++i, first += ch) {
            a = vaddq_s32(a, vldrbq_z_s32(first, p));
        }
    }
    vst1q_s32(sums, a);
}

#if !MCC_SINGLE_ROUNDING
/* channel_mean's requantizing path on four lanes: VQSHL for the saturating left shift,
 * VQRDMULH (gemmlowp's rounding doubling high multiply, saturation included), then the
 * rounding right shift with negative values moved down by one first, so that VRSHL's halves
 * round away from zero as RoundingDivideByPOT's do; the offset and the clamp. */
static int32x4_t channel_means4(const mcc_mean_params *params, int32x4_t acc, int32_t count)
{
    const int32x4_t right = vdupq_n_s32(params->shift > 0 ? 0 : params->shift);   /* <= 0 */
    int32x4_t v = vaddq_n_s32(acc, params->input_offset * count);
    v = vqshlq_s32(v, vdupq_n_s32(params->shift > 0 ? params->shift : 0));
    v = vqrdmulhq_n_s32(v, params->multiplier);
    v = vqaddq_s32(v, vshrq_n_s32(vandq_s32(v, right), 31));
    v = vaddq_n_s32(vrshlq_s32(v, right), params->output_offset);
    v = vmaxq_s32(v, vdupq_n_s32(params->activation.min));
    return vminq_s32(v, vdupq_n_s32(params->activation.max));
}
#endif
#endif

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
#if MCC_HAVE_MVE
        for (c = 0; c < ch;) {
            int32_t sums[16], j;
            const int32_t lanes = ch - c >= 16 ? 16 : ch - c < 4 ? ch - c : 4;
            channel_sums(in_batch + c, count, ch, lanes, sums);
            c += lanes;
#if !MCC_SINGLE_ROUNDING
            if (!params->same_quant) {
                for (j = 0; j < lanes; j += 4) {
                    vstrbq_p_s32(output + j, channel_means4(params, vld1q_s32(sums + j), count),
                                 vctp32q((uint32_t)(lanes - j)));
                }
                output += lanes;
                continue;
            }
#endif
            for (j = 0; j < lanes; ++j) {
                *output++ = channel_mean(params, sums[j], count);
            }
        }
#else
        for (c = 0; c < ch; ++c) {
            const int8_t *column = in_batch + c;
            int32_t sum = 0, i;
            for (i = 0; i < count; ++i) {
                sum += column[(int64_t)i * ch];
            }
            *output++ = channel_mean(params, sum, count);
        }
#endif
    }
    return MCC_OK;
}

/* mcc_avgpool_s8 - int8 average pooling (TFLite integer AveragePool). */
#include <string.h>

#include "mcc.h"
#include "mcc_nn.h"

#if MCC_HAVE_DSP
#include <arm_acle.h>
#endif
#if MCC_HAVE_MVE
#include <arm_mve.h>
#endif

#if MCC_HAVE_DSP || MCC_HAVE_MVE
/* Round half away from zero, as TFLite does, then clamp. */
MCC_INLINE int8_t avg_of(int32_t acc, int32_t count, const mcc_activation *act)
{
    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
    return (int8_t)mcc_nn_clamp(acc, act->min, act->max);
}
#endif

#if MCC_HAVE_DSP || MCC_HAVE_MVE
/* Sums of several channels over the window at once, exact while the window has at most 255
 * values: MVE adds 8 channels per widening load on 16-bit lanes (the last 1-7 predicated);
 * DSP splits 4 int8 values into (c0, c2) and (c1, c3) by SXTB16 and adds them by SADD16. */
static void avg_window_lanes(const int8_t *in_batch, int32_t in_w, int32_t ch, int32_t y_start,
                             int32_t y_end, int32_t x_start, int32_t x_end, const mcc_activation *act,
                             int8_t *output)
{
    const int32_t count = (y_end - y_start) * (x_end - x_start);
#if MCC_HAVE_MVE
    const int32_t step = 8;
#else
    const int32_t step = 4;
#endif
    int32_t c, y, x;
    for (c = 0; c < ch; c += step) {
#if MCC_HAVE_MVE
        const mve_pred16_t lanes_left = vctp16q((uint32_t)(ch - c));
        int16x8_t sum = vdupq_n_s16(0);
        int16_t lanes[8];
        int32_t k;
#else
        uint32_t even = 0, odd = 0;
#endif
        for (y = y_start; y < y_end; ++y) {
            const int8_t *src = in_batch + (y * in_w + x_start) * ch + c;
            for (x = x_start; x < x_end; ++x) {
#if MCC_HAVE_MVE
                sum = vaddq_s16(sum, vldrbq_z_s16(src, lanes_left));
#else
                uint32_t v;
                memcpy(&v, src, 4);
                even = __sadd16(even, __sxtb16(v));
                odd = __sadd16(odd, mcc_nn_sxtb16_ror8(v));
#endif
                src += ch;
            }
        }
#if MCC_HAVE_MVE
        vst1q_s16(lanes, sum);
        for (k = 0; k < step && c + k < ch; ++k) {
            output[c + k] = avg_of(lanes[k], count, act);
        }
#else
        output[c] = avg_of((int16_t)(even & 0xFFFF), count, act);
        output[c + 1] = avg_of((int16_t)(odd & 0xFFFF), count, act);
        output[c + 2] = avg_of((int16_t)(even >> 16), count, act);
        output[c + 3] = avg_of((int16_t)(odd >> 16), count, act);
#endif
    }
}
#endif

mcc_status mcc_avgpool_s8(const mcc_pool_params *params,
                          const mcc_dims *input_dims, const int8_t *input,
                          const mcc_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h;
    const int32_t in_w = input_dims->w;
    const int32_t ch = input_dims->c;
    int32_t b, oy, ox, c, y, x;

    if (output_dims->c != ch || input_dims->n != output_dims->n) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in_batch = input + (int64_t)b * in_h * in_w * ch;
        for (oy = 0; oy < output_dims->h; ++oy) {
            int32_t y_start, y_end;
            mcc_nn_window(oy, params->stride.h, params->padding.h, params->window.h, in_h, &y_start, &y_end);
            for (ox = 0; ox < output_dims->w; ++ox) {
                int32_t x_start, x_end;
                mcc_nn_window(ox, params->stride.w, params->padding.w, params->window.w, in_w, &x_start, &x_end);
                const int32_t count = (y_end - y_start) * (x_end - x_start);
                if (count <= 0) {
                    return MCC_ERROR_ARGUMENT;
                }
#if MCC_HAVE_DSP || MCC_HAVE_MVE
                if ((MCC_HAVE_MVE || (ch & 3) == 0) && count <= 255) {
                    avg_window_lanes(in_batch, in_w, ch, y_start, y_end, x_start, x_end,
                                     &params->activation, output);
                    output += ch;
                    continue;
                }
#endif
                for (c = 0; c < ch; ++c) {
                    int32_t acc = 0;
                    for (y = y_start; y < y_end; ++y) {
                        for (x = x_start; x < x_end; ++x) {
                            acc += in_batch[((int64_t)y * in_w + x) * ch + c];
                        }
                    }
                    /* Round half away from zero, as TFLite does. */
                    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    *output++ = (int8_t)mcc_nn_clamp(acc, params->activation.min,
                                                     params->activation.max);
                }
            }
        }
    }
    return MCC_OK;
}

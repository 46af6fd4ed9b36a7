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

#if MCC_HAVE_MVE
/* Sums of 8 channels over the window at once on 16-bit lanes (one widening load and one add
 * per pixel); exact while the window has at most 255 values. */
static void avg_window8(const int8_t *in_batch, int32_t in_w, int32_t ch, int32_t y_start,
                        int32_t y_end, int32_t x_start, int32_t x_end, const mcc_activation *act,
                        int8_t *output)
{
    const int32_t count = (y_end - y_start) * (x_end - x_start);
    int32_t c, y, x, k;
    for (c = 0; c < ch; c += 8) {
        int16x8_t sum = vdupq_n_s16(0);
        int16_t lanes[8];
        for (y = y_start; y < y_end; ++y) {
            const int8_t *src = in_batch + (y * in_w + x_start) * ch + c;
            for (x = x_start; x < x_end; ++x) {
                sum = vaddq_s16(sum, vldrbq_s16(src));
                src += ch;
            }
        }
        vst1q_s16(lanes, sum);
        for (k = 0; k < 8; ++k) {
            output[c + k] = avg_of(lanes[k], count, act);
        }
    }
}
#endif

#if MCC_HAVE_DSP
/* Sums of 4 channels over the window at once: SXTB16 splits 4 int8 values into (c0, c2) and
 * (c1, c3), SADD16 adds them lane by lane; exact while the window has at most 255 values. */
static void avg_window4(const int8_t *in_batch, int32_t in_w, int32_t ch, int32_t y_start,
                        int32_t y_end, int32_t x_start, int32_t x_end, const mcc_activation *act,
                        int8_t *output)
{
    const int32_t count = (y_end - y_start) * (x_end - x_start);
    int32_t c, y, x;
    for (c = 0; c < ch; c += 4) {
        uint32_t even = 0, odd = 0;
        for (y = y_start; y < y_end; ++y) {
            const int8_t *src = in_batch + (y * in_w + x_start) * ch + c;
            for (x = x_start; x < x_end; ++x) {
                uint32_t v;
                memcpy(&v, src, 4);
                even = __sadd16(even, __sxtb16(v));
                odd = __sadd16(odd, mcc_nn_sxtb16_ror8(v));
                src += ch;
            }
        }
        output[c] = avg_of((int16_t)(even & 0xFFFF), count, act);
        output[c + 1] = avg_of((int16_t)(odd & 0xFFFF), count, act);
        output[c + 2] = avg_of((int16_t)(even >> 16), count, act);
        output[c + 3] = avg_of((int16_t)(odd >> 16), count, act);
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
#if MCC_HAVE_MVE
                if ((ch & 7) == 0 && count <= 255) {
                    avg_window8(in_batch, in_w, ch, y_start, y_end, x_start, x_end,
                                &params->activation, output);
                    output += ch;
                    continue;
                }
#endif
#if MCC_HAVE_DSP
                if ((ch & 3) == 0 && count <= 255) {
                    avg_window4(in_batch, in_w, ch, y_start, y_end, x_start, x_end,
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

/* mcc_maxpool_s8 - int8 max pooling (TFLite integer MaxPool). */
#include <string.h>

#include "mcc.h"
#include "mcc_nn.h"

#if MCC_HAVE_DSP
#include <arm_acle.h>

/* Byte-wise signed maximum of 4 lanes: SSUB8 sets a GE flag per byte where a >= b, SEL picks. */
MCC_INLINE uint32_t max4(uint32_t a, uint32_t b)
{
    (void)__ssub8(a, b);
    return __sel(a, b);
}

/* 4 channels at a time over the window, then the clamp on all 4 lanes. */
static void max_window4(const int8_t *in_batch, int32_t in_w, int32_t ch, int32_t y_start,
                        int32_t y_end, int32_t x_start, int32_t x_end, const mcc_activation *act,
                        int8_t *output)
{
    const uint32_t lo = (uint32_t)(uint8_t)act->min * 0x01010101u;
    const uint32_t hi = (uint32_t)(uint8_t)act->max * 0x01010101u;
    int32_t c, y, x;
    for (c = 0; c < ch; c += 4) {
        uint32_t best = lo; /* max(window, act->min) */
        for (y = y_start; y < y_end; ++y) {
            const int8_t *src = in_batch + (y * in_w + x_start) * ch + c;
            for (x = x_start; x < x_end; ++x) {
                uint32_t v;
                memcpy(&v, src, 4);
                best = max4(v, best);
                src += ch;
            }
        }
        (void)__ssub8(best, hi); /* min(best, act->max): keep hi where best >= hi */
        best = __sel(hi, best);
        memcpy(output + c, &best, 4);
    }
}
#endif

mcc_status mcc_maxpool_s8(const mcc_pool_params *params,
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
                if (y_end <= y_start || x_end <= x_start) {
                    return MCC_ERROR_ARGUMENT;
                }
#if MCC_HAVE_DSP
                if ((ch & 3) == 0) {
                    max_window4(in_batch, in_w, ch, y_start, y_end, x_start, x_end,
                                &params->activation, output);
                    output += ch;
                    continue;
                }
#elif MCC_HAVE_V6M
                {
                    /* A pointer per window row, int32 steps: ARMv6-M would call a library
                     * routine for every 64-bit index product of the loop below. */
                    const int32_t row_step = in_w * ch;
                    const int8_t *corner = in_batch + (y_start * in_w + x_start) * ch;
                    for (c = 0; c < ch; ++c) {
                        int32_t best = params->activation.min; /* max(window, min), then min(., max) */
                        const int8_t *row = corner + c;
                        for (y = y_start; y < y_end; ++y, row += row_step) {
                            const int8_t *src = row;
                            for (x = x_start; x < x_end; ++x, src += ch) {
                                best = *src > best ? *src : best;
                            }
                        }
                        *output++ = (int8_t)(best < params->activation.max ? best : params->activation.max);
                    }
                    continue;
                }
#endif
                for (c = 0; c < ch; ++c) {
                    int32_t best = -128;
                    for (y = y_start; y < y_end; ++y) {
                        for (x = x_start; x < x_end; ++x) {
                            const int32_t v = in_batch[((int64_t)y * in_w + x) * ch + c];
                            best = v > best ? v : best;
                        }
                    }
                    *output++ = (int8_t)mcc_nn_clamp(best, params->activation.min,
                                                     params->activation.max);
                }
            }
        }
    }
    return MCC_OK;
}

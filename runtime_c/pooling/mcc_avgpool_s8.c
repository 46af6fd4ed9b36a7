/* mcc_avgpool_s8 - int8 average pooling (TFLite integer AveragePool). */
#include "mcc.h"
#include "mcc_nn.h"

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
            const int32_t y0 = oy * params->stride.h - params->padding.h;
            const int32_t y_start = y0 < 0 ? 0 : y0;
            const int32_t y_end = y0 + params->window.h > in_h ? in_h : y0 + params->window.h;
            for (ox = 0; ox < output_dims->w; ++ox) {
                const int32_t x0 = ox * params->stride.w - params->padding.w;
                const int32_t x_start = x0 < 0 ? 0 : x0;
                const int32_t x_end = x0 + params->window.w > in_w ? in_w : x0 + params->window.w;
                const int32_t count = (y_end - y_start) * (x_end - x_start);
                if (count <= 0) {
                    return MCC_ERROR_ARGUMENT;
                }
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

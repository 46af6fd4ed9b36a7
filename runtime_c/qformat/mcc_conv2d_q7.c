/* mcc_conv2d_q7 - Q-format 2-D convolution: int32 accumulation, shift-only requantization. */
#include "mcc.h"
#include "mcc_q7.h"

mcc_status mcc_conv2d_q7(const mcc_conv_q7_params *params,
                         const mcc_dims *input_dims, const int8_t *input,
                         const mcc_dims *filter_dims, const int8_t *filter,
                         const int32_t *bias,
                         const mcc_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h;
    const int32_t in_w = input_dims->w;
    const int32_t in_c = input_dims->c;
    const int32_t k_h = filter_dims->h;
    const int32_t k_w = filter_dims->w;
    const int32_t out_h = output_dims->h;
    const int32_t out_w = output_dims->w;
    const int32_t out_c = output_dims->c;
    const int32_t kernel_size = k_h * k_w * in_c;
    int32_t b, oy, ox, oc, ky, kx, ic;

    if (filter_dims->c != in_c || filter_dims->n != out_c || input_dims->n != output_dims->n) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in_batch = input + b * in_h * in_w * in_c;
        for (oy = 0; oy < out_h; ++oy) {
            const int32_t y0 = oy * params->stride.h - params->padding.h;
            for (ox = 0; ox < out_w; ++ox) {
                const int32_t x0 = ox * params->stride.w - params->padding.w;
                for (oc = 0; oc < out_c; ++oc) {
                    const int8_t *kernel = filter + oc * kernel_size;
                    int32_t acc = bias != 0 ? bias[oc] : 0;
                    for (ky = 0; ky < k_h; ++ky) {
                        const int32_t y = y0 + ky * params->dilation.h;
                        if (y < 0 || y >= in_h) {
                            continue;
                        }
                        for (kx = 0; kx < k_w; ++kx) {
                            const int32_t x = x0 + kx * params->dilation.w;
                            const int8_t *pixel;
                            const int8_t *weights;
                            if (x < 0 || x >= in_w) {
                                continue;
                            }
                            pixel = in_batch + (y * in_w + x) * in_c;
                            weights = kernel + (ky * k_w + kx) * in_c;
                            /* Four products per iteration: fewer loop branches (no DSP here). */
                            for (ic = 0; ic + 4 <= in_c; ic += 4) {
                                acc += pixel[ic] * weights[ic] + pixel[ic + 1] * weights[ic + 1] +
                                       pixel[ic + 2] * weights[ic + 2] + pixel[ic + 3] * weights[ic + 3];
                            }
                            for (; ic < in_c; ++ic) {
                                acc += pixel[ic] * weights[ic];
                            }
                        }
                    }
                    *output++ = mcc_q7_output(acc, params->shift[params->per_channel ? oc : 0],
                                              &params->activation);
                }
            }
        }
    }
    return MCC_OK;
}

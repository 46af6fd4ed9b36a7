/* mcc_depthwise_conv2d_q7 - Q-format depthwise convolution, shift-only requantization. */
#include "mcc.h"
#include "mcc_q7.h"

mcc_status mcc_depthwise_conv2d_q7(const mcc_conv_q7_params *params,
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
    const int32_t mult = params->depth_multiplier;
    int32_t b, oy, ox, ic, m, oc, ky, kx;

    if (mult < 1 || out_c != in_c * mult || filter_dims->c != out_c ||
        input_dims->n != output_dims->n) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in_batch = input + b * in_h * in_w * in_c;
        for (oy = 0; oy < out_h; ++oy) {
            const int32_t y0 = oy * params->stride.h - params->padding.h;
            int32_t ky0, ky1;
            mcc_q7_valid_taps(y0, params->dilation.h, k_h, in_h, &ky0, &ky1);
            for (ox = 0; ox < out_w; ++ox) {
                const int32_t x0 = ox * params->stride.w - params->padding.w;
                int32_t kx0, kx1;
                mcc_q7_valid_taps(x0, params->dilation.w, k_w, in_w, &kx0, &kx1);
                /* Channels nested as (input channel, multiplier): no division per output, which
                 * Cortex-M0+ would have to call a library routine for. */
                for (ic = 0, oc = 0; ic < in_c; ++ic) {
                    for (m = 0; m < mult; ++m, ++oc) {
                        int32_t acc = bias != 0 ? bias[oc] : 0;
                        for (ky = ky0; ky < ky1; ++ky) {
                            const int8_t *in_row = in_batch + (y0 + ky * params->dilation.h) * in_w * in_c + ic;
                            const int8_t *w_row = filter + ky * k_w * out_c + oc;
                            for (kx = kx0; kx < kx1; ++kx) {
                                acc += in_row[(x0 + kx * params->dilation.w) * in_c] * w_row[kx * out_c];
                            }
                        }
                        *output++ = mcc_q7_output(acc, params->shift[params->per_channel ? oc : 0],
                                                  &params->activation);
                    }
                }
            }
        }
    }
    return MCC_OK;
}

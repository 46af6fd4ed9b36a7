/* mcc_conv2d_s8 - int8 2-D convolution, per-channel requantization (TFLite ConvPerChannel). */
#include "mcc.h"
#include "mcc_nn.h"

mcc_status mcc_conv2d_s8(const mcc_conv_params *params, const mcc_quant *quant,
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
    int32_t b, oy, ox, oc, ky, kx, ic;

    if (filter_dims->c != in_c || filter_dims->n != out_c || input_dims->n != output_dims->n) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in_batch = input + (mcc_nn_index)b * in_h * in_w * in_c;
        for (oy = 0; oy < out_h; ++oy) {
            const int32_t y0 = oy * params->stride.h - params->padding.h;
            for (ox = 0; ox < out_w; ++ox) {
                const int32_t x0 = ox * params->stride.w - params->padding.w;
                for (oc = 0; oc < out_c; ++oc) {
                    const int8_t *kernel = filter + (mcc_nn_index)oc * k_h * k_w * in_c;
                    const int32_t q = quant->per_channel ? oc : 0;
                    int32_t acc = 0;
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
                            pixel = in_batch + ((mcc_nn_index)y * in_w + x) * in_c;
                            weights = kernel + ((mcc_nn_index)ky * k_w + kx) * in_c;
                            /* Target fast paths (MCC_HAVE_DSP / MCC_HAVE_MVE) belong here. */
                            for (ic = 0; ic < in_c; ++ic) {
                                acc += (pixel[ic] + params->input_offset) * weights[ic];
                            }
                        }
                    }
                    if (bias != 0) {
                        acc += bias[oc];
                    }
                    *output++ = (int8_t)mcc_nn_requantize_output(acc, quant, q, params->output_offset,
                                                                  &params->activation);
                }
            }
        }
    }
    return MCC_OK;
}

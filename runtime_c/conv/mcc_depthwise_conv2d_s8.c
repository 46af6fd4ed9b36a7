/* mcc_depthwise_conv2d_s8 - int8 depthwise convolution (TFLite DepthwiseConvPerChannel). */
#include "mcc.h"
#include "mcc_nn.h"

mcc_status mcc_depthwise_conv2d_s8(const mcc_dw_conv_params *params, const mcc_quant *quant,
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
    int32_t b, oy, ox, oc, ky, kx;

    if (out_c != in_c * mult || filter_dims->c != out_c || input_dims->n != output_dims->n) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in_batch = input + (mcc_nn_index)b * in_h * in_w * in_c;
        for (oy = 0; oy < out_h; ++oy) {
            const int32_t y0 = oy * params->stride.h - params->padding.h;
            for (ox = 0; ox < out_w; ++ox) {
                const int32_t x0 = ox * params->stride.w - params->padding.w;
                for (oc = 0; oc < out_c; ++oc) {
                    const int32_t ic = oc / mult;
                    const int32_t q = quant->per_channel ? oc : 0;
                    int32_t acc = 0;
                    for (ky = 0; ky < k_h; ++ky) {
                        const int32_t y = y0 + ky * params->dilation.h;
                        if (y < 0 || y >= in_h) {
                            continue;
                        }
                        for (kx = 0; kx < k_w; ++kx) {
                            const int32_t x = x0 + kx * params->dilation.w;
                            if (x < 0 || x >= in_w) {
                                continue;
                            }
                            acc += (in_batch[((mcc_nn_index)y * in_w + x) * in_c + ic] +
                                    params->input_offset) *
                                   filter[((mcc_nn_index)ky * k_w + kx) * out_c + oc];
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

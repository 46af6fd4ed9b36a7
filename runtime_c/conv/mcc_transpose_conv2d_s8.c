/* mcc_transpose_conv2d_s8 - int8 transpose convolution (TFLite TRANSPOSE_CONV), per-channel
 * requantization. TFLM scatters input pixel (iy, ix) through tap (ky, kx) to output pixel
 * (iy * stride - pad + ky); the int32 sum is exact, so each output pixel gathers the taps that
 * land on it instead, which needs no scratch accumulator. */
#include "mcc.h"
#include "mcc_nn.h"

mcc_status mcc_transpose_conv2d_s8(const mcc_conv_params *params, const mcc_quant *quant,
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
    const int32_t out_c = output_dims->c;
    const int32_t s_h = params->stride.h;
    const int32_t s_w = params->stride.w;
    int32_t b, oy, ox, oc, ky, kx, ic;

    if (filter_dims->c != in_c || filter_dims->n != out_c || input_dims->n != output_dims->n ||
        s_h < 1 || s_w < 1) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in_batch = input + (mcc_nn_index)b * in_h * in_w * in_c;
        for (oy = 0; oy < output_dims->h; ++oy) {
            for (ox = 0; ox < output_dims->w; ++ox) {
                for (oc = 0; oc < out_c; ++oc) {
                    const int8_t *kernel = filter + (mcc_nn_index)oc * k_h * k_w * in_c;
                    const int32_t q = quant->per_channel ? oc : 0;
                    int32_t acc = 0;
                    for (ky = 0; ky < k_h; ++ky) {
                        /* the input row whose tap ky lands on output row oy, if any */
                        const int32_t y_num = oy + params->padding.h - ky;
                        const int32_t y = y_num / s_h;
                        if (y_num < 0 || y_num % s_h != 0 || y >= in_h) {
                            continue;
                        }
                        for (kx = 0; kx < k_w; ++kx) {
                            const int32_t x_num = ox + params->padding.w - kx;
                            const int32_t x = x_num / s_w;
                            const int8_t *pixel;
                            const int8_t *weights;
                            if (x_num < 0 || x_num % s_w != 0 || x >= in_w) {
                                continue;
                            }
                            pixel = in_batch + ((mcc_nn_index)y * in_w + x) * in_c;
                            weights = kernel + ((mcc_nn_index)ky * k_w + kx) * in_c;
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

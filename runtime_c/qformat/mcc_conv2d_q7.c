/* mcc_conv2d_q7 - Q-format 2-D convolution (zero points 0, shift-only output). */
#include "mcc.h"
#include "mcc_q7.h"

mcc_status mcc_conv2d_q7(const mcc_conv_q7_params *params,
                         const mcc_dims *input_dims, const int8_t *input,
                         const mcc_dims *filter_dims, const int8_t *filter,
                         const int32_t *bias,
                         const mcc_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, in_c = input_dims->c;
    const int32_t kh = filter_dims->h, kw = filter_dims->w;
    const int32_t out_c = output_dims->c;
    int32_t b, oy, ox, oc, ky, kx, ic;

    if (filter_dims->c != in_c || filter_dims->n != out_c) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < output_dims->n; ++b) {
        const int8_t *image = input + (int32_t)b * in_h * in_w * in_c;
        for (oy = 0; oy < output_dims->h; ++oy) {
            for (ox = 0; ox < output_dims->w; ++ox) {
                const int32_t y0 = oy * params->stride.h - params->padding.h;
                const int32_t x0 = ox * params->stride.w - params->padding.w;
                for (oc = 0; oc < out_c; ++oc) {
                    const int8_t *w = filter + (int32_t)oc * kh * kw * in_c;
                    int32_t acc = bias != 0 ? bias[oc] : 0;
                    for (ky = 0; ky < kh; ++ky) {
                        const int32_t iy = y0 + ky * params->dilation.h;
                        if (iy < 0 || iy >= in_h) {
                            continue;
                        }
                        for (kx = 0; kx < kw; ++kx) {
                            const int32_t ix = x0 + kx * params->dilation.w;
                            const int8_t *px = image + (iy * in_w + ix) * in_c;
                            const int8_t *wk = w + (ky * kw + kx) * in_c;
                            if (ix < 0 || ix >= in_w) {
                                continue;
                            }
                            for (ic = 0; ic < in_c; ++ic) {
                                acc += px[ic] * wk[ic];
                            }
                        }
                    }
                    *output++ = mcc_q7_requantize(acc, params->shift[oc], &params->activation);
                }
            }
        }
    }
    return MCC_OK;
}

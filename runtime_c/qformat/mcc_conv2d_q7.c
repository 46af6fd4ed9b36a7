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
    const int32_t dil_h = params->dilation.h;
    const int32_t dil_w = params->dilation.w;
    int32_t b, oy, ox, oc, ky, kx, i;

    if (filter_dims->c != in_c || filter_dims->n != out_c || input_dims->n != output_dims->n) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in_batch = input + b * in_h * in_w * in_c;
        for (oy = 0; oy < out_h; ++oy) {
            const int32_t y0 = oy * params->stride.h - params->padding.h;
            int32_t ky0, ky1;
            mcc_q7_valid_taps(y0, dil_h, k_h, in_h, &ky0, &ky1);
            for (ox = 0; ox < out_w; ++ox) {
                const int32_t x0 = ox * params->stride.w - params->padding.w;
                int32_t kx0, kx1, run;
                mcc_q7_valid_taps(x0, dil_w, k_w, in_w, &kx0, &kx1);
                /* Without dilation the valid taps of a kernel row are one contiguous run of
                 * (kx1 - kx0) * in_c bytes in both the input and the filter. */
                run = dil_w == 1 ? (kx1 - kx0) * in_c : in_c;
                /* Two output channels at a time: each input byte loaded once feeds both. */
                for (oc = 0; oc < out_c; oc += 2) {
                    const int32_t pair = oc + 1 < out_c;
                    const int8_t *kernel0 = filter + oc * kernel_size;
                    const int8_t *kernel1 = pair ? kernel0 + kernel_size : kernel0;
                    int32_t acc0 = bias != 0 ? bias[oc] : 0;
                    int32_t acc1 = (bias != 0 && pair) ? bias[oc + 1] : 0;
                    for (ky = ky0; ky < ky1; ++ky) {
                        const int8_t *in_row = in_batch + (y0 + ky * dil_h) * in_w * in_c;
                        const int32_t w_row = ky * k_w * in_c;
                        for (kx = kx0; kx < kx1; kx += (dil_w == 1 ? k_w : 1)) {
                            const int8_t *pixel = in_row + (x0 + kx * dil_w) * in_c;
                            const int8_t *w0 = kernel0 + w_row + kx * in_c;
                            const int8_t *w1 = kernel1 + w_row + kx * in_c;
                            for (i = 0; i + 2 <= run; i += 2) {
                                const int32_t a = pixel[i];
                                const int32_t c = pixel[i + 1];
                                acc0 += a * w0[i] + c * w0[i + 1];
                                acc1 += a * w1[i] + c * w1[i + 1];
                            }
                            if (i < run) {
                                acc0 += pixel[i] * w0[i];
                                acc1 += pixel[i] * w1[i];
                            }
                        }
                    }
                    output[oc] = mcc_q7_output(acc0, params->shift[params->per_channel ? oc : 0],
                                               &params->activation);
                    if (pair) {
                        output[oc + 1] = mcc_q7_output(acc1, params->shift[params->per_channel ? oc + 1 : 0],
                                                       &params->activation);
                    }
                }
                output += out_c;
            }
        }
    }
    return MCC_OK;
}

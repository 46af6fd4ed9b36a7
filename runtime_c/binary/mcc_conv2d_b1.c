/* mcc_conv2d_b1 - binary / ternary 2-D convolution over packed NHWC sign bits with sign output.
 * Kernel taps outside the input add nothing (zero padding of a +-1 tensor). */
#include "mcc.h"
#include "mcc_b1.h"

mcc_status mcc_conv2d_b1(const mcc_conv_b1_params *params,
                         const mcc_dims *input_dims, const int8_t *input,
                         const mcc_dims *filter_dims, const uint32_t *filter,
                         const int32_t *threshold,
                         const mcc_dims *output_dims, int8_t *output)
{
    const int32_t in_words = (input_dims->c + 31) / 32;
    const int32_t tap_words = params->ternary ? 2 * in_words : params->planes * in_words;
    const int32_t kh = filter_dims->h, kw = filter_dims->w;
    const int32_t out_c = output_dims->c;
    const int32_t filter_words = kh * kw * tap_words;
    int32_t b, oy, ox, oc, ky, kx;

    if (filter_dims->c != input_dims->c || filter_dims->n != out_c || out_c < 1 || params->planes < 1 ||
        params->stride.h < 1 || params->stride.w < 1) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < output_dims->n; ++b) {
        const int8_t *image = input + (int32_t)4 * in_words * input_dims->h * input_dims->w * b;
        for (oy = 0; oy < output_dims->h; ++oy) {
            for (ox = 0; ox < output_dims->w; ++ox) {
                const int32_t y0 = oy * params->stride.h - params->padding.h;
                const int32_t x0 = ox * params->stride.w - params->padding.w;
                uint32_t out_word = 0;
                for (oc = 0; oc < out_c; ++oc) {
                    const uint32_t *w = filter + (int32_t)oc * filter_words;
                    int32_t dot = 0;
                    for (ky = 0; ky < kh; ++ky) {
                        const int32_t iy = y0 + ky;
                        if (iy < 0 || iy >= input_dims->h) {
                            continue;
                        }
                        for (kx = 0; kx < kw; ++kx) {
                            const int32_t ix = x0 + kx;
                            if (ix < 0 || ix >= input_dims->w) {
                                continue;
                            }
                            dot += mcc_b1_dot(image + (int32_t)4 * in_words * (iy * input_dims->w + ix),
                                              w + (ky * kw + kx) * tap_words, in_words,
                                              input_dims->c, params->ternary, params->planes,
                                              params->popcount);
                        }
                    }
                    out_word |= (uint32_t)(dot >= threshold[oc]) << (oc & 31);
                    if ((oc & 31) == 31 || oc == out_c - 1) {
                        mcc_b1_store(output, out_word);
                        output += 4;
                        out_word = 0;
                    }
                }
            }
        }
    }
    return MCC_OK;
}

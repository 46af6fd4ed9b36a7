/* mcc_conv2d_codebook_s8 - int8 2-D convolution with codebook weights.
 *
 * Output channel oc's weights (kh, kw, c_in) are index_bits-bit indices into the codebook,
 * stored row after row as for mcc_fully_connected_codebook_s8 (the im2col weight matrix). The
 * index of each weight is read at its bit position and looked up inside the MAC loop; kernel
 * rows and columns that fall into the padding are skipped without reading their indices. */
#include "mcc.h"
#include "mcc_nn.h"

mcc_status mcc_conv2d_codebook_s8(const mcc_conv_params *params, const mcc_quant *quant,
                                  const mcc_dims *input_dims, const int8_t *input,
                                  const mcc_dims *filter_dims, const mcc_codebook_s8 *filter,
                                  const int32_t *bias,
                                  const mcc_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h;
    const int32_t in_w = input_dims->w;
    const int32_t in_c = input_dims->c;
    const int32_t k_h = filter_dims->h;
    const int32_t k_w = filter_dims->w;
    const int32_t out_c = output_dims->c;
    const int32_t bits = filter->index_bits;
    const int32_t input_offset = params->input_offset;
    const uint8_t *indices = filter->indices;
    const int8_t *codebook = filter->codebook;
    uint32_t mask;
    int32_t b, oy, ox, oc, ky, kx, ic;

    if (filter_dims->c != in_c || filter_dims->n != out_c || input_dims->n != output_dims->n ||
        in_c <= 0 || k_h <= 0 || k_w <= 0 || bits < 1 || bits > 8 ||
        (int64_t)out_c * k_h * k_w * in_c * bits > (int64_t)filter->index_bytes * 8 ||
        (int64_t)out_c * k_h * k_w * in_c * bits >= ((int64_t)1 << 31)) { /* bit positions fit */
        return MCC_ERROR_ARGUMENT;
    }
    mask = (1u << bits) - 1u;
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in_batch = input + (int64_t)b * in_h * in_w * in_c;
        for (oy = 0; oy < output_dims->h; ++oy) {
            const int32_t y0 = oy * params->stride.h - params->padding.h;
            for (ox = 0; ox < output_dims->w; ++ox) {
                const int32_t x0 = ox * params->stride.w - params->padding.w;
                for (oc = 0; oc < out_c; ++oc) {
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
                            uint32_t pos; /* bit position of weight (oc, ky, kx, 0) */
                            if (x < 0 || x >= in_w) {
                                continue;
                            }
                            pixel = in_batch + ((int64_t)y * in_w + x) * in_c;
                            pos = (uint32_t)((((int64_t)oc * k_h + ky) * k_w + kx) * in_c * bits);
                            for (ic = 0; ic < in_c; ++ic, pos += (uint32_t)bits) {
                                const uint32_t shift = pos & 7u;
                                uint32_t index = (uint32_t)indices[pos >> 3] >> shift;
                                if (shift + (uint32_t)bits > 8u) { /* continues in the next byte */
                                    index |= (uint32_t)indices[(pos >> 3) + 1] << (8u - shift);
                                }
                                acc += (pixel[ic] + input_offset) * codebook[index & mask];
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

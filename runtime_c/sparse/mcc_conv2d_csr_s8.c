/* mcc_conv2d_csr_s8 - int8 2-D convolution with compressed sparse row weights.
 *
 * The CSR rows are the rows of the convolution's im2col weight matrix: output channel oc's
 * weights (kh, kw, c_in) flattened, as mcc_fully_connected_csr_s8 stores them. For each output
 * pixel the stored entries are walked and each column is turned into its (ky, kx, ci) position
 * incrementally, so only non-zero weights are multiplied and no im2col buffer is needed.
 * Columns past the kernel and row lengths past the entries end in MCC_ERROR_ARGUMENT. */
#include "mcc.h"
#include "mcc_nn.h"

mcc_status mcc_conv2d_csr_s8(const mcc_conv_params *params, const mcc_quant *quant,
                             const mcc_dims *input_dims, const int8_t *input,
                             const mcc_dims *filter_dims, const mcc_csr_s8 *filter,
                             const int32_t *bias,
                             const mcc_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h;
    const int32_t in_w = input_dims->w;
    const int32_t in_c = input_dims->c;
    const int32_t k_h = filter_dims->h;
    const int32_t k_w = filter_dims->w;
    const int32_t out_c = output_dims->c;
    const int32_t input_offset = params->input_offset;
    const int wide = filter->gap_bits == 8;
    int32_t b, oy, ox, oc;

    if (filter_dims->c != in_c || filter_dims->n != out_c || input_dims->n != output_dims->n ||
        in_c <= 0 || k_h <= 0 || k_w <= 0 || filter->entries < 0 ||
        (filter->gap_bits != 4 && filter->gap_bits != 8)) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in_batch = input + (int64_t)b * in_h * in_w * in_c;
        for (oy = 0; oy < output_dims->h; ++oy) {
            const int32_t y0 = oy * params->stride.h - params->padding.h;
            for (ox = 0; ox < output_dims->w; ++ox) {
                const int32_t x0 = ox * params->stride.w - params->padding.w;
                int32_t k = 0; /* entry index over the whole filter */
                for (oc = 0; oc < out_c; ++oc) {
                    const int32_t q = quant->per_channel ? oc : 0;
                    const int32_t end = k + filter->row_entries[oc];
                    int32_t ci = -1, kx = 0, ky = 0; /* position of the previous entry */
                    int32_t acc = 0;
                    if (filter->row_entries[oc] > filter->entries - k) {
                        return MCC_ERROR_ARGUMENT;
                    }
                    for (; k < end; ++k) {
                        int32_t y, x;
                        ci += 1 + (int32_t)(wide ? filter->gaps[k]
                                                 : (filter->gaps[k >> 1] >> ((k & 1) * 4)) & 15);
                        while (ci >= in_c) { /* carry into kx, then ky: at most gap / in_c + 1 steps */
                            ci -= in_c;
                            if (++kx == k_w) {
                                kx = 0;
                                if (++ky == k_h) {
                                    return MCC_ERROR_ARGUMENT;
                                }
                            }
                        }
                        y = y0 + ky * params->dilation.h;
                        x = x0 + kx * params->dilation.w;
                        if (y >= 0 && y < in_h && x >= 0 && x < in_w) {
                            acc += (in_batch[((int64_t)y * in_w + x) * in_c + ci] + input_offset) *
                                   filter->values[k];
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

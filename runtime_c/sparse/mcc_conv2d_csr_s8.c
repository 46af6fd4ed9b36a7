/* mcc_conv2d_csr_s8 - int8 2-D convolution with compressed sparse row weights.
 *
 * The CSR rows are the rows of the convolution's im2col weight matrix: output channel oc's
 * weights (kh, kw, c_in) flattened, as mcc_fully_connected_csr_s8 stores them. For each output
 * pixel the stored entries are walked and each column is turned into its (ky, kx, ci) position
 * incrementally, so only non-zero weights are multiplied and no im2col buffer is needed.
 * For pixels whose whole window lies inside the input (and dilation.w == 1) a kernel row reads
 * k_w * c_in contiguous input values, so an entry is one offset into the current input line;
 * border pixels check every tap. Columns past the kernel and row lengths past the entries end
 * in MCC_ERROR_ARGUMENT. */
#include "mcc.h"
#include "mcc_nn.h"

#define MCC_NN_CSR_GAP(filter, k)                                                               \
    ((filter)->gap_bits == 8 ? (uint32_t)(filter)->gaps[k]                                      \
                             : ((uint32_t)(filter)->gaps[(k) >> 1] >> (((k) & 1) * 4)) & 15u)

/* Sum over one output channel's n entries of (x + input_offset) * w for a pixel whose window is
 * inside the input: `line` points at input (y0, x0), row_step moves it one kernel row down.
 * 8-bit gaps; -1 when a column falls past the kernel. */
static int mcc_nn_csr_conv_inside8(const uint8_t *gaps, const int8_t *values, int32_t n,
                                   const int8_t *line, int32_t row_step, uint32_t kernel_row,
                                   int32_t k_h, int32_t input_offset, int32_t *sum)
{
    const int8_t *const end = values + n;
    uint32_t next = 0; /* first position in the kernel row the next entry may take */
    int32_t ky = 0, acc = 0;
    while (values != end) {
        uint32_t pos = next + *gaps++;
        while (pos >= kernel_row) { /* into the next kernel row: at most gap / row + 1 steps */
            pos -= kernel_row;
            line += row_step;
            if (++ky == k_h) {
                return -1;
            }
        }
        acc += (line[pos] + input_offset) * *values++;
        next = pos + 1u;
    }
    *sum = acc;
    return 0;
}

/* The same with 4-bit gaps, entries k .. k + n - 1 of the filter. */
static int mcc_nn_csr_conv_inside4(const uint8_t *gaps, const int8_t *values, int32_t k, int32_t n,
                                   const int8_t *line, int32_t row_step, uint32_t kernel_row,
                                   int32_t k_h, int32_t input_offset, int32_t *sum)
{
    const int32_t end = k + n;
    uint32_t next = 0;
    int32_t ky = 0, acc = 0;
    for (; k < end; ++k) {
        uint32_t pos = next + (((uint32_t)gaps[k >> 1] >> ((k & 1) * 4)) & 15u);
        while (pos >= kernel_row) {
            pos -= kernel_row;
            line += row_step;
            if (++ky == k_h) {
                return -1;
            }
        }
        acc += (line[pos] + input_offset) * values[k];
        next = pos + 1u;
    }
    *sum = acc;
    return 0;
}

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
                const int inside = params->dilation.w == 1 && y0 >= 0 && x0 >= 0 &&
                                   y0 + (k_h - 1) * params->dilation.h < in_h && x0 + k_w <= in_w;
                int32_t k = 0; /* entry index over the whole filter */
                for (oc = 0; oc < out_c; ++oc) {
                    const int32_t q = quant->per_channel ? oc : 0;
                    const int32_t end = k + filter->row_entries[oc];
                    int32_t ci = -1, kx = 0, ky = 0; /* position of the previous entry */
                    int32_t acc = 0;
                    if (filter->row_entries[oc] > filter->entries - k) {
                        return MCC_ERROR_ARGUMENT;
                    }
                    if (inside) {
                        const int8_t *line = in_batch + ((int64_t)y0 * in_w + x0) * in_c;
                        const int32_t row_step = params->dilation.h * in_w * in_c;
                        const int32_t n = filter->row_entries[oc];
                        const int failed =
                            filter->gap_bits == 8
                                ? mcc_nn_csr_conv_inside8(filter->gaps + k, filter->values + k, n,
                                                          line, row_step, (uint32_t)(k_w * in_c),
                                                          k_h, input_offset, &acc)
                                : mcc_nn_csr_conv_inside4(filter->gaps, filter->values, k, n, line,
                                                          row_step, (uint32_t)(k_w * in_c), k_h,
                                                          input_offset, &acc);
                        if (failed) {
                            return MCC_ERROR_ARGUMENT;
                        }
                        k = end;
                    }
                    for (; k < end; ++k) {
                        int32_t y, x;
                        ci += 1 + (int32_t)MCC_NN_CSR_GAP(filter, k);
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

/* mcc_fully_connected_csr_s8 - int8 fully connected layer with compressed sparse row weights.
 *
 * Multiplies only the stored entries, so the work scales with the non-zero weights. Every
 * column is checked against depth and every row length against the entries left, so corrupt
 * data ends in MCC_ERROR_ARGUMENT and never in an out-of-bounds read.
 *
 * When both offsets are 0 (code generation folds input_offset * row sum into the bias) the rows
 * run a lean path: columns only grow, so the last of a group of entries bounds the group and
 * one check covers four (8-bit gaps) or two (4-bit gaps) entries. */
#include "mcc.h"
#include "mcc_nn.h"

/* Sum of row[col] * value over n entries with 8-bit gaps; -1 when a column reaches depth.
 * next is the first column the next entry may take (previous column + 1). In groups of four,
 * entry j of a group sits at column s_j + j with s_j = next + gaps[0] + ... + gaps[j]: row
 * pointers shifted by j save the "+ 1" of every step. */
MCC_INLINE int mcc_nn_csr_row8(const int8_t *row, uint32_t depth, const uint8_t *gaps,
                               const int8_t *values, int32_t n, int32_t *sum)
{
    const int8_t *const row1 = row + 1;
    const int8_t *const row2 = row + 2;
    const int8_t *const row3 = row + 3;
    const uint8_t *const group_end = gaps + (n & ~3);
    uint32_t next = 0;
    int32_t acc = 0;
    while (gaps != group_end) {
        const uint32_t s0 = next + gaps[0];
        const uint32_t s1 = s0 + gaps[1];
        const uint32_t s2 = s1 + gaps[2];
        const uint32_t s3 = s2 + gaps[3];
        if (s3 + 3u >= depth) { /* columns grow: the last bounds the group */
            return -1;
        }
        acc += row[s0] * values[0];
        acc += row1[s1] * values[1];
        acc += row2[s2] * values[2];
        acc += row3[s3] * values[3];
        next = s3 + 4u;
        gaps += 4;
        values += 4;
    }
    for (n &= 3; n > 0; --n) {
        const uint32_t col = next + *gaps++;
        if (col >= depth) {
            return -1;
        }
        acc += row[col] * *values++;
        next = col + 1u;
    }
    *sum = acc;
    return 0;
}

/* The same with 4-bit gaps, entries k .. k + n - 1 of the layer (a row may start mid-byte). */
MCC_INLINE int mcc_nn_csr_row4(const int8_t *row, uint32_t depth, const uint8_t *gaps,
                               const int8_t *values, int32_t k, int32_t n, int32_t *sum)
{
    const int32_t end = k + n;
    uint32_t col = (uint32_t)-1;
    int32_t acc = 0;
    if ((k & 1) && k < end) {
        col += 1u + ((uint32_t)gaps[k >> 1] >> 4);
        if (col >= depth) {
            return -1;
        }
        acc += row[col] * values[k];
        ++k;
    }
    for (; k + 1 < end; k += 2) {
        const uint32_t packed = gaps[k >> 1];
        const uint32_t c0 = col + 1u + (packed & 15u);
        const uint32_t c1 = c0 + 1u + (packed >> 4);
        if (c1 >= depth) {
            return -1;
        }
        acc += row[c0] * values[k] + row[c1] * values[k + 1];
        col = c1;
    }
    if (k < end) {
        col += 1u + ((uint32_t)gaps[k >> 1] & 15u);
        if (col >= depth) {
            return -1;
        }
        acc += row[col] * values[k];
    }
    *sum = acc;
    return 0;
}

/* Sum of (row[col] + input_offset) * (value + filter_offset) over entries k .. k + n - 1. */
static int mcc_nn_csr_row_offsets(const int8_t *row, uint32_t depth, const mcc_csr_s8 *filter,
                                  int32_t input_offset, int32_t filter_offset, int32_t k,
                                  int32_t n, int32_t *sum)
{
    const int32_t end = k + n;
    uint32_t col = (uint32_t)-1;
    int32_t acc = 0;
    for (; k < end; ++k) {
        const uint32_t gap = filter->gap_bits == 8
                                 ? filter->gaps[k]
                                 : ((uint32_t)filter->gaps[k >> 1] >> ((k & 1) * 4)) & 15u;
        col += 1u + gap;
        if (col >= depth) {
            return -1;
        }
        acc += (row[col] + input_offset) * (filter->values[k] + filter_offset);
    }
    *sum = acc;
    return 0;
}

mcc_status mcc_fully_connected_csr_s8(const mcc_fc_params *params, const mcc_quant *quant,
                                      const mcc_dims *input_dims, const int8_t *input,
                                      const mcc_dims *filter_dims, const mcc_csr_s8 *filter,
                                      const int32_t *bias,
                                      const mcc_dims *output_dims, int8_t *output)
{
    const int32_t depth = filter_dims->c;
    const int32_t units = filter_dims->n;
    const int32_t batches = input_dims->n;
    const int folded = params->input_offset == 0 && params->filter_offset == 0;
    int32_t b, u;

    if (output_dims->c != units || depth <= 0 ||
        (int64_t)input_dims->h * input_dims->w * input_dims->c != depth ||
        (filter->gap_bits != 4 && filter->gap_bits != 8) || filter->entries < 0) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < batches; ++b) {
        const int8_t *row = input + (int64_t)b * depth;
        int32_t k = 0; /* entry index over the whole layer */
        for (u = 0; u < units; ++u) {
            const int32_t n = filter->row_entries[u];
            const int32_t q = quant->per_channel ? u : 0;
            int32_t acc = 0;
            int failed;
            if (n > filter->entries - k) {
                return MCC_ERROR_ARGUMENT;
            }
            if (!folded) {
                failed = mcc_nn_csr_row_offsets(row, (uint32_t)depth, filter, params->input_offset,
                                                params->filter_offset, k, n, &acc);
            } else if (filter->gap_bits == 8) {
                failed = mcc_nn_csr_row8(row, (uint32_t)depth, filter->gaps + k, filter->values + k,
                                         n, &acc);
            } else {
                failed = mcc_nn_csr_row4(row, (uint32_t)depth, filter->gaps, filter->values, k, n,
                                         &acc);
            }
            if (failed) {
                return MCC_ERROR_ARGUMENT;
            }
            k += n;
            if (bias != 0) {
                acc += bias[u];
            }
            *output++ = (int8_t)mcc_nn_requantize_output(acc, quant, q, params->output_offset,
                                                         &params->activation);
        }
    }
    return MCC_OK;
}

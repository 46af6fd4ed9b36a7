/* mcc_fully_connected_pq_s8 - int8 fully connected layer with product-quantized weights.
 *
 * Per input row, the table of partial sums (input sub-vector . codeword, with the input offset)
 * is filled once: depth * centroids multiplies. Each output is then its bias plus one table
 * entry per sub-space, picked by the row's code: subspaces additions in place of depth
 * multiply-accumulates. The int32 sums are the dense layer's, regrouped (mcc.h).
 *
 * As each stored code already holds its place in its group of four sub-spaces (mcc.h), one
 * table pointer serves four lookups: a lookup is a byte load, a word load and an add. With the DSP
 * extension the table is filled two products per instruction (SMLAD) when length is a multiple
 * of 4; the portable path gives the same integers. */
#include <string.h>

#include "mcc.h"
#include "mcc_nn.h"

#if MCC_HAVE_DSP
#include <arm_acle.h>
#endif

int32_t mcc_fully_connected_pq_s8_get_buffer_size(const mcc_pq_s8 *filter)
{
    return (int32_t)sizeof(int32_t) * filter->subspaces * filter->centroids;
}

#if MCC_HAVE_DSP
/* table[s * centroids + k], four codeword values at a time: the input's (x0, x2) and (x1, x3)
 * plus the offset as int16 pairs against SXTB16 of the codeword word. */
static void mcc_pq_fill_table_dsp(const mcc_pq_s8 *filter, const int8_t *row, int32_t input_offset,
                                  int32_t *table)
{
    const int32_t length = filter->length;
    const int32_t centroids = filter->centroids;
    const uint32_t offsets = (uint32_t)(uint16_t)input_offset * 0x00010001u;
    int32_t s, k, j;

    for (s = 0; s < filter->subspaces; ++s) {
        const int8_t *books = filter->codebooks + (mcc_nn_index)s * centroids * length;
        for (j = 0; j < length; j += 4) {
            const int8_t *word = books + j;
            uint32_t x, even, odd, c;
            memcpy(&x, row + (mcc_nn_index)s * length + j, 4);
            even = __sxtab16(offsets, x);
            odd = __sxtab16(offsets, mcc_nn_ror8(x));
            if (j == 0) { /* the first four values start the sums */
                for (k = 0; k < centroids; ++k, word += length) {
                    memcpy(&c, word, 4);
                    table[k] = __smlad(__sxtb16(c), even, __smuad(mcc_nn_sxtb16_ror8(c), odd));
                }
            } else {
                for (k = 0; k < centroids; ++k, word += length) {
                    memcpy(&c, word, 4);
                    table[k] = __smlad(__sxtb16(c), even, __smlad(mcc_nn_sxtb16_ror8(c), odd, table[k]));
                }
            }
        }
        table += centroids;
    }
}
#endif

/* table[s * centroids + k] for every sub-space s and codeword k of one input row. */
static void mcc_pq_fill_table(const mcc_pq_s8 *filter, const int8_t *row, int32_t input_offset,
                              int32_t *table)
{
    const int32_t length = filter->length;
    const int8_t *codeword = filter->codebooks;
    int32_t s, k, j;

#if MCC_HAVE_DSP
    if (length % 4 == 0) {
        mcc_pq_fill_table_dsp(filter, row, input_offset, table);
        return;
    }
#endif
    for (s = 0; s < filter->subspaces; ++s) {
        const int8_t *x = row + (mcc_nn_index)s * length;
        for (k = 0; k < filter->centroids; ++k) {
            int32_t sum = 0;
            for (j = 0; j < length; ++j) {
                sum += (x[j] + input_offset) * codeword[j];
            }
            *table++ = sum;
            codeword += length;
        }
    }
}

mcc_status mcc_fully_connected_pq_s8(const mcc_fc_params *params, const mcc_quant *quant,
                                     const mcc_dims *input_dims, const int8_t *input,
                                     const mcc_dims *filter_dims, const mcc_pq_s8 *filter,
                                     const int32_t *bias,
                                     const mcc_dims *output_dims, int8_t *output, int32_t *table)
{
    const int32_t depth = filter_dims->c;
    const int32_t units = filter_dims->n;
    const int32_t batches = input_dims->n;
    const int32_t subspaces = filter->subspaces;
    const int32_t group = 4 * filter->centroids; /* table entries of four sub-spaces */
    int32_t b, u, s;

    if (output_dims->c != units || depth <= 0 || units <= 0 || subspaces <= 0 ||
        filter->centroids < 1 || filter->centroids > 64 || filter->length <= 0 ||
        (int64_t)subspaces * filter->length != depth ||
        (int64_t)input_dims->h * input_dims->w * input_dims->c != depth) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < batches; ++b) {
        const uint8_t *codes = filter->codes;
        mcc_pq_fill_table(filter, input + (mcc_nn_index)b * depth, params->input_offset, table);
        for (u = 0; u < units; ++u) {
            const int32_t q = quant->per_channel ? u : 0;
            const int32_t *entries = table;
            int32_t acc = bias != 0 ? bias[u] : 0;
            /* codes are exporter-written constants, each below its group's entries (checked at
             * export): no bound check in the loop that does all the work */
            for (s = 0; s + 8 <= subspaces; s += 8) { /* two groups of four per pass */
                const int32_t *next = entries + group;
                acc += entries[codes[0]] + entries[codes[1]] + entries[codes[2]] + entries[codes[3]] +
                       next[codes[4]] + next[codes[5]] + next[codes[6]] + next[codes[7]];
                entries = next + group;
                codes += 8;
            }
            if (s + 4 <= subspaces) {
                acc += entries[codes[0]] + entries[codes[1]] + entries[codes[2]] + entries[codes[3]];
                entries += group;
                codes += 4;
                s += 4;
            }
            for (; s < subspaces; ++s) {
                acc += entries[*codes++];
            }
            *output++ = (int8_t)mcc_nn_requantize_output(acc, quant, q, params->output_offset,
                                                         &params->activation);
        }
    }
    return MCC_OK;
}

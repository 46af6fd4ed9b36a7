/* mcc_fully_connected_pq_s8 - int8 fully connected layer with product-quantized weights.
 *
 * Per input row, the table of partial sums (input sub-vector . codeword, with the input offset)
 * is filled once: depth * centroids multiplies. Each output is then its bias plus one table
 * entry per sub-space, picked by the row's code: subspaces additions in place of depth
 * multiply-accumulates. The int32 sums are the dense layer's, regrouped (mcc.h). */
#include "mcc.h"
#include "mcc_nn.h"

int32_t mcc_fully_connected_pq_s8_get_buffer_size(const mcc_pq_s8 *filter)
{
    return (int32_t)sizeof(int32_t) * filter->subspaces * filter->centroids;
}

/* table[s * centroids + k] for every sub-space s and codeword k of one input row. */
static void mcc_pq_fill_table(const mcc_pq_s8 *filter, const int8_t *row, int32_t input_offset,
                              int32_t *table)
{
    const int32_t length = filter->length;
    const int8_t *codeword = filter->codebooks;
    int32_t s, k, j;

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
    const int32_t centroids = filter->centroids;
    int32_t b, u, s;

    if (output_dims->c != units || depth <= 0 || units <= 0 || subspaces <= 0 ||
        centroids < 1 || centroids > 256 || filter->length <= 0 ||
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
            /* codes are exporter-written constants below centroids (checked at export): no
             * per-lookup bound check in the loop that does all the work */
            for (s = 0; s + 4 <= subspaces; s += 4) {
                acc += entries[codes[0]] + entries[centroids + codes[1]] +
                       entries[2 * centroids + codes[2]] + entries[3 * centroids + codes[3]];
                entries += 4 * centroids;
                codes += 4;
            }
            for (; s < subspaces; ++s) {
                acc += entries[*codes++];
                entries += centroids;
            }
            *output++ = (int8_t)mcc_nn_requantize_output(acc, quant, q, params->output_offset,
                                                         &params->activation);
        }
    }
    return MCC_OK;
}

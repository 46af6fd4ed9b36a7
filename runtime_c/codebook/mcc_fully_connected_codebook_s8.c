/* mcc_fully_connected_codebook_s8 - int8 fully connected layer with codebook weights.
 *
 * Each weight is an index_bits-bit index into a per-layer int8 codebook, unpacked and looked up
 * inside the MAC loop: no dense copy of the weights is ever made. The codebook has
 * 1 << index_bits entries, so any index is in bounds; the index stream length is checked once. */
#include "mcc.h"
#include "mcc_nn.h"

mcc_status mcc_fully_connected_codebook_s8(const mcc_fc_params *params, const mcc_quant *quant,
                                           const mcc_dims *input_dims, const int8_t *input,
                                           const mcc_dims *filter_dims,
                                           const mcc_codebook_s8 *filter, const int32_t *bias,
                                           const mcc_dims *output_dims, int8_t *output)
{
    const int32_t depth = filter_dims->c;
    const int32_t units = filter_dims->n;
    const int32_t batches = input_dims->n;
    const int32_t bits = filter->index_bits;
    const int32_t input_offset = params->input_offset;
    const int32_t filter_offset = params->filter_offset;
    const uint8_t *indices = filter->indices;
    const int8_t *codebook = filter->codebook;
    uint32_t mask;
    int32_t b, u, d;

    if (output_dims->c != units || depth <= 0 || units <= 0 || bits < 1 || bits > 8 ||
        (int64_t)input_dims->h * input_dims->w * input_dims->c != depth ||
        (int64_t)units * depth * bits > (int64_t)filter->index_bytes * 8) {
        return MCC_ERROR_ARGUMENT;
    }
    mask = (1u << bits) - 1u;
    for (b = 0; b < batches; ++b) {
        const int8_t *row = input + (int64_t)b * depth;
        const uint8_t *next = indices; /* next unread byte of the index stream */
        uint32_t buffer = 0;           /* unread bits, the next index at the bottom */
        int32_t buffered = 0;
        for (u = 0; u < units; ++u) {
            const int32_t q = quant->per_channel ? u : 0;
            int32_t acc = 0;
            if (bits == 8) {
                const uint8_t *p = indices + (int64_t)u * depth;
                for (d = 0; d < depth; ++d) {
                    acc += (row[d] + input_offset) * (codebook[p[d]] + filter_offset);
                }
            } else {
                for (d = 0; d < depth; ++d) {
                    if (buffered < bits) { /* one byte always suffices: bits <= 8; the byte
                                            * holds part of this index, so it is in bounds */
                        buffer |= (uint32_t)*next++ << buffered;
                        buffered += 8;
                    }
                    acc += (row[d] + input_offset) * (codebook[buffer & mask] + filter_offset);
                    buffer >>= bits;
                    buffered -= bits;
                }
            }
            if (bias != 0) {
                acc += bias[u];
            }
            *output++ = (int8_t)mcc_nn_requantize_output(acc, quant, q, params->output_offset,
                                                         &params->activation);
        }
    }
    return MCC_OK;
}

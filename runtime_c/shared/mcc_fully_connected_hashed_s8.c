/* mcc_fully_connected_hashed_s8 - int8 fully connected layer with hashed weights (HashedNets).
 *
 * Every weight is recomputed from the hash of its position (mcc.h gives the formula): a few
 * instructions per weight in place of a load, and no index or weight matrix in flash, only the
 * shared values. The flat position runs through the rows in order, so it is one counter. */
#include "mcc.h"
#include "mcc_nn.h"

mcc_status mcc_fully_connected_hashed_s8(const mcc_fc_params *params, const mcc_quant *quant,
                                         const mcc_dims *input_dims, const int8_t *input,
                                         const mcc_dims *filter_dims, const mcc_hashed_s8 *filter,
                                         const int32_t *bias,
                                         const mcc_dims *output_dims, int8_t *output)
{
    const int32_t depth = filter_dims->c;
    const int32_t units = filter_dims->n;
    const int32_t batches = input_dims->n;
    const int32_t input_offset = params->input_offset;
    const uint32_t buckets = (uint32_t)filter->buckets;
    const int8_t *values = filter->values;
    int32_t b, u, d;

    if (output_dims->c != units || depth <= 0 || units <= 0 || filter->buckets <= 0 ||
        (int64_t)input_dims->h * input_dims->w * input_dims->c != depth ||
        (int64_t)units * depth > (int64_t)0xFFFFFFFF) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < batches; ++b) {
        const int8_t *row = input + (mcc_nn_index)b * depth;
        uint32_t position = filter->seed; /* (u * depth + d) + seed, advanced one weight at a time */
        for (u = 0; u < units; ++u) {
            const int32_t q = quant->per_channel ? u : 0;
            int32_t acc = 0;
            for (d = 0; d < depth; ++d) {
                uint32_t h = position++ * 0x9E3779B1u;
                int32_t w;
                h ^= h >> 15;
                h *= 0x85EBCA77u;
                h ^= h >> 13;
                /* bucket < buckets: the high word of a 32 x 32-bit product (one UMULL) */
                w = values[(uint32_t)(((uint64_t)h * buckets) >> 32)];
                acc += (row[d] + input_offset) * ((h & 1u) ? -w : w);
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

/* mcc_fully_connected_hashed_s8 - int8 fully connected layer with hashed weights (HashedNets).
 *
 * Every weight is recomputed from the hash of its position (mcc.h gives the formula): a few
 * instructions per weight in place of a load, and no index or weight matrix in flash, only the
 * shared values (or their codebook indices). The flat position runs through the rows in order,
 * so it is one counter. */
#include "mcc.h"
#include "mcc_nn.h"

#define HASH_MULTIPLIER 0x9E3779B1u

/* Keeps m += HASH_MULTIPLIER one add with the multiplier in a register: left alone, GCC folds two
 * steps into one add of 2 * HASH_MULTIPLIER, which Thumb-2 cannot encode (three instructions). */
#if defined(__GNUC__)
#define KEEP_IN_REGISTER(v) __asm__("" : "+r"(v))
#else
#define KEEP_IN_REGISTER(v) ((void)0)
#endif

/* The hash of a position p from m = p * HASH_MULTIPLIER (callers keep m running: one add a weight). */
MCC_INLINE uint32_t position_hash(uint32_t m)
{
    uint32_t h = m ^ (m >> 15);
    h *= 0x85EBCA77u;
    return h ^ (h >> 13);
}

/* The value of a bucket as the layout stores it; `bits` is a constant at every call site, so each
 * layout gets a loop of its own. */
MCC_INLINE int32_t bucket_value(const int8_t *values, const uint8_t *indices, const int8_t *codebook,
                                uint32_t bucket, const uint32_t bits)
{
    uint32_t bit;
    if (bits == 0u) {
        return values[bucket];
    }
    bit = bucket * bits;
    return codebook[((uint32_t)indices[bit >> 3] >> (bit & 7u)) & ((1u << bits) - 1u)];
}

/* acc plus or minus x times the value of the bucket of position m / HASH_MULTIPLIER (minus when the hash's low bit is set) */
MCC_INLINE int32_t hashed_term(int32_t acc, int32_t x, uint32_t m, uint32_t buckets, const int8_t *values,
                               const uint8_t *indices, const int8_t *codebook, const uint32_t bits)
{
    const uint32_t h = position_hash(m);
    /* bucket < buckets: the high word of a 32 x 32-bit product (one UMULL) */
    const int32_t w = bucket_value(values, indices, codebook, (uint32_t)(((uint64_t)h * buckets) >> 32), bits);
    if (h & 1u) {
        return acc - x * w;
    }
    return acc + x * w;
}

/* One output's sum over `depth` weights from flat position `position` (seed included). */
MCC_INLINE int32_t hashed_dot(const int8_t *row, int32_t depth, int32_t input_offset, uint32_t position,
                              const mcc_hashed_s8 *filter, const uint32_t bits)
{
    const uint32_t buckets = (uint32_t)filter->buckets;
    const int8_t *values = filter->values;
    const uint8_t *indices = filter->indices;
    const int8_t *codebook = filter->codebook;
    uint32_t m = position * HASH_MULTIPLIER;
    int32_t acc = 0;
    int32_t d = 0;
    /* two weights a turn: the loop's own instructions are a large share of so short a body */
    for (; d + 1 < depth; d += 2) {
        acc = hashed_term(acc, row[d] + input_offset, m, buckets, values, indices, codebook, bits);
        m += HASH_MULTIPLIER;
        KEEP_IN_REGISTER(m);
        acc = hashed_term(acc, row[d + 1] + input_offset, m, buckets, values, indices, codebook, bits);
        m += HASH_MULTIPLIER;
    }
    if (d < depth) {
        acc = hashed_term(acc, row[d] + input_offset, m, buckets, values, indices, codebook, bits);
    }
    return acc;
}

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
    const int32_t bits = filter->index_bits;
    int32_t b, u;

    if (output_dims->c != units || depth <= 0 || units <= 0 || filter->buckets <= 0 ||
        (int64_t)input_dims->h * input_dims->w * input_dims->c != depth ||
        (int64_t)units * depth > (int64_t)0xFFFFFFFF ||
        (bits == 0 ? filter->values == 0
                   : ((bits != 1 && bits != 2 && bits != 4) || filter->indices == 0 || filter->codebook == 0))) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < batches; ++b) {
        const int8_t *row = input + (mcc_nn_index)b * depth;
        uint32_t position = filter->seed; /* (u * depth + d) + seed */
        for (u = 0; u < units; ++u) {
            const int32_t q = quant->per_channel ? u : 0;
            int32_t acc;
            switch (bits) {
            case 1: acc = hashed_dot(row, depth, input_offset, position, filter, 1u); break;
            case 2: acc = hashed_dot(row, depth, input_offset, position, filter, 2u); break;
            case 4: acc = hashed_dot(row, depth, input_offset, position, filter, 4u); break;
            default: acc = hashed_dot(row, depth, input_offset, position, filter, 0u); break;
            }
            position += (uint32_t)depth;
            if (bias != 0) {
                acc += bias[u];
            }
            *output++ = (int8_t)mcc_nn_requantize_output(acc, quant, q, params->output_offset,
                                                         &params->activation);
        }
    }
    return MCC_OK;
}

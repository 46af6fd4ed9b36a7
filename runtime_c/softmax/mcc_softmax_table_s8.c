/* mcc_softmax_table_s8 - int8 softmax through a float exp table (LiteRT's optimized int8
 * softmax). The one kernel with floating point: LiteRT computes it so, and an exported model
 * in "litert" rounding must match LiteRT byte for byte. The table is built at export time. */
#include "mcc.h"
#include "mcc_nn.h"

/* Round half away from zero without libm (exact for |v| < 2^23). */
static int32_t mcc_nn_round_half_away(float v)
{
    int32_t q = (int32_t)v; /* truncates toward zero */
    const float frac = v - (float)q;
    if (frac >= 0.5f) {
        ++q;
    } else if (frac <= -0.5f) {
        --q;
    }
    return q;
}

mcc_status mcc_softmax_table_s8(const mcc_softmax_table_params *params, const int8_t *input,
                                int32_t rows, int32_t depth, int8_t *output)
{
    int32_t r, c;
    for (r = 0; r < rows; ++r) {
        const int8_t *in_row = input + (int64_t)r * depth;
        int8_t *out_row = output + (int64_t)r * depth;
        const int32_t max_value = mcc_nn_row_max(in_row, depth);
        const float *table;
        float sum = 0.0f;
        float inv;
        table = params->table + 255 - max_value;
        for (c = 0; c < depth; ++c) {
            sum += table[in_row[c]];
        }
        inv = 1.0f / (sum * params->output_scale);
        for (c = 0; c < depth; ++c) {
            int32_t q = mcc_nn_round_half_away(table[in_row[c]] * inv) + params->output_zero_point;
            q = q < -128 ? -128 : (q > 127 ? 127 : q);
            out_row[c] = (int8_t)q;
        }
    }
    return MCC_OK;
}

/* mcc_fully_connected_b1 - binary / ternary fully connected layer with sign output:
 * bit[u] = dot(a, w[u]) >= threshold[u], dot computed as n - 2 * popcount(a XOR w). */
#include "mcc.h"
#include "mcc_b1.h"

mcc_status mcc_fully_connected_b1(const mcc_fc_b1_params *params, const int8_t *input,
                                  const mcc_dims *filter_dims, const uint32_t *filter,
                                  const int32_t *threshold, int8_t *output)
{
    const int32_t units = filter_dims->n;
    const int32_t words = params->words;
    const int32_t row_words = params->ternary ? 2 * words : params->planes * words;
    uint32_t out_word = 0;
    int32_t u;

    if (units < 1 || words < 1 || params->planes < 1 || filter_dims->c != row_words ||
        params->in_bits > 32 * words) {
        return MCC_ERROR_ARGUMENT;
    }
    for (u = 0; u < units; ++u) {
        const int32_t dot = mcc_b1_dot(input, filter + (int32_t)u * row_words, words,
                                       params->in_bits, params->ternary, params->planes,
                                       params->popcount);
        out_word |= (uint32_t)(dot >= threshold[u]) << (u & 31);
        if ((u & 31) == 31 || u == units - 1) {
            mcc_b1_store(output, out_word);
            output += 4;
            out_word = 0;
        }
    }
    return MCC_OK;
}

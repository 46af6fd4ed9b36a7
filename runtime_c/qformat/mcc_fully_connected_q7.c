/* mcc_fully_connected_q7 - Q-format fully connected layer (zero points 0, shift-only output). */
#include "mcc.h"
#include "mcc_q7.h"

mcc_status mcc_fully_connected_q7(const mcc_fc_q7_params *params,
                                  const mcc_dims *input_dims, const int8_t *input,
                                  const mcc_dims *filter_dims, const int8_t *filter,
                                  const int32_t *bias,
                                  const mcc_dims *output_dims, int8_t *output)
{
    const int32_t depth = filter_dims->c;
    const int32_t units = filter_dims->n;
    int32_t b, u, d;

    if (output_dims->c != units ||
        (int64_t)input_dims->h * input_dims->w * input_dims->c != depth) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *row = input + (int32_t)b * depth;
        for (u = 0; u < units; ++u) {
            const int8_t *w = filter + (int32_t)u * depth;
            int32_t acc = bias != 0 ? bias[u] : 0;
            for (d = 0; d < depth; ++d) {
                acc += row[d] * w[d];
            }
            *output++ = mcc_q7_requantize(acc, params->shift[u], &params->activation);
        }
    }
    return MCC_OK;
}

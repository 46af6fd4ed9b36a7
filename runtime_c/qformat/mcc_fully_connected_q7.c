/* mcc_fully_connected_q7 - Q-format fully connected layer, shift-only requantization. */
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

    if (output_dims->c != units || input_dims->h * input_dims->w * input_dims->c != depth ||
        input_dims->n != output_dims->n) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *row = input + b * depth;
        const int8_t *weights = filter;
        for (u = 0; u < units; ++u) {
            int32_t acc = bias != 0 ? bias[u] : 0;
            /* Four products per iteration: fewer loop branches on cores without a loop buffer. */
            for (d = 0; d + 4 <= depth; d += 4) {
                acc += row[d] * weights[d] + row[d + 1] * weights[d + 1] +
                       row[d + 2] * weights[d + 2] + row[d + 3] * weights[d + 3];
            }
            for (; d < depth; ++d) {
                acc += row[d] * weights[d];
            }
            weights += depth;
            *output++ = mcc_q7_output(acc, params->shift[params->per_channel ? u : 0],
                                      &params->activation);
        }
    }
    return MCC_OK;
}

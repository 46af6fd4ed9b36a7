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
        /* Two units at a time: each input byte loaded once feeds both dot products. */
        for (u = 0; u < units; u += 2) {
            const int32_t pair = u + 1 < units;
            const int8_t *w0 = filter + u * depth;
            const int8_t *w1 = pair ? w0 + depth : w0;
            int32_t acc0 = bias != 0 ? bias[u] : 0;
            int32_t acc1 = (bias != 0 && pair) ? bias[u + 1] : 0;
            for (d = 0; d + 2 <= depth; d += 2) {
                const int32_t a = row[d];
                const int32_t c = row[d + 1];
                acc0 += a * w0[d] + c * w0[d + 1];
                acc1 += a * w1[d] + c * w1[d + 1];
            }
            if (d < depth) {
                acc0 += row[d] * w0[d];
                acc1 += row[d] * w1[d];
            }
            output[u] = mcc_q7_output(acc0, params->shift[params->per_channel ? u : 0], &params->activation);
            if (pair) {
                output[u + 1] = mcc_q7_output(acc1, params->shift[params->per_channel ? u + 1 : 0],
                                              &params->activation);
            }
        }
        output += units;
    }
    return MCC_OK;
}

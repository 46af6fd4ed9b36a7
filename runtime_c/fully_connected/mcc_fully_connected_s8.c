/* mcc_fully_connected_s8 - int8 fully connected layer (TFLite integer FullyConnected). */
#include "mcc.h"
#include "mcc_nn.h"

mcc_status mcc_fully_connected_s8(const mcc_fc_params *params, const mcc_quant *quant,
                                  const mcc_dims *input_dims, const int8_t *input,
                                  const mcc_dims *filter_dims, const int8_t *filter,
                                  const int32_t *bias,
                                  const mcc_dims *output_dims, int8_t *output)
{
    const int32_t depth = filter_dims->c;
    const int32_t units = filter_dims->n;
    const int32_t batches = input_dims->n;
    int32_t b, u, d;

    if (output_dims->c != units ||
        (int64_t)input_dims->h * input_dims->w * input_dims->c != depth) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < batches; ++b) {
        const int8_t *row = input + (mcc_nn_index)b * depth;
        for (u = 0; u < units; ++u) {
            const int8_t *weights = filter + (mcc_nn_index)u * depth;
            const int32_t q = quant->per_channel ? u : 0;
            int32_t acc = 0;
            for (d = 0; d < depth; ++d) {
                acc += (row[d] + params->input_offset) * (weights[d] + params->filter_offset);
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

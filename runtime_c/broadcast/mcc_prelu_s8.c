/* mcc_prelu_s8 - TFLite's integer PReLU with a broadcast alpha (per channel, or per position):
 * one requantization for x >= 0, another for x * alpha below zero. */
#include "mcc.h"
#include "mcc_nn.h"

mcc_status mcc_prelu_s8(const mcc_prelu_params *params, const mcc_dims *input_dims, const int8_t *input,
                        const mcc_dims *alpha_dims, const int8_t *alpha, const mcc_dims *output_dims,
                        int8_t *output)
{
    mcc_nn_broadcast walk;
    int32_t i;
    mcc_nn_broadcast_start(&walk, input_dims, alpha_dims, output_dims);
    for (i = 0; i < walk.size; ++i) {
        const int32_t x = input[walk.index1] + params->input_offset;
        int32_t v;
        if (x >= 0) {
            v = mcc_nn_requantize(x, params->multiplier_positive, params->shift_positive);
        } else {
            const int32_t a = alpha[walk.index2] + params->alpha_offset;
            v = mcc_nn_requantize(x * a, params->multiplier_negative, params->shift_negative);
        }
        output[i] = (int8_t)mcc_nn_clamp(v + params->output_offset, -128, 127);
        mcc_nn_broadcast_next(&walk);
    }
    return MCC_OK;
}

/* mcc_sub_s8 - TFLite's integer Sub with broadcasting: add's parameters and per-element
 * arithmetic (mcc_add_broadcast_s8), the rescaled second input subtracted from the first. */
#include "mcc.h"
#include "mcc_nn.h"

mcc_status mcc_sub_s8(const mcc_add_params *params, const mcc_dims *input1_dims, const int8_t *input1,
                      const mcc_dims *input2_dims, const int8_t *input2, const mcc_dims *output_dims,
                      int8_t *output)
{
    mcc_nn_broadcast walk;
    int32_t i;
    mcc_nn_broadcast_start(&walk, input1_dims, input2_dims, output_dims);
    for (i = 0; i < walk.size; ++i) {
        const int32_t a = (input1[walk.index1] + params->input1_offset) * (1 << params->left_shift);
        const int32_t b = (input2[walk.index2] + params->input2_offset) * (1 << params->left_shift);
        const int32_t scaled_a = mcc_nn_requantize(a, params->input1_multiplier, params->input1_shift);
        const int32_t scaled_b = mcc_nn_requantize(b, params->input2_multiplier, params->input2_shift);
        const int32_t difference = mcc_nn_requantize(scaled_a - scaled_b, params->output_multiplier,
                                                     params->output_shift) + params->output_offset;
        output[i] = (int8_t)mcc_nn_clamp(difference, params->activation.min, params->activation.max);
        mcc_nn_broadcast_next(&walk);
    }
    return MCC_OK;
}

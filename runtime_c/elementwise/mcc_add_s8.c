/* mcc_add_s8 - int8 element-wise add (TFLite integer Add, same shapes). */
#include "mcc.h"
#include "mcc_nn.h"

mcc_status mcc_add_s8(const mcc_add_params *params, const int8_t *input1, const int8_t *input2,
                      int8_t *output, int32_t size)
{
    int32_t i;
    for (i = 0; i < size; ++i) {
        /* Read both inputs before writing: output may alias either of them. */
        const int32_t a = (input1[i] + params->input1_offset) * (1 << params->left_shift);
        const int32_t b = (input2[i] + params->input2_offset) * (1 << params->left_shift);
        const int32_t scaled_a = mcc_nn_requantize(a, params->input1_multiplier,
                                                   params->input1_shift);
        const int32_t scaled_b = mcc_nn_requantize(b, params->input2_multiplier,
                                                   params->input2_shift);
        int32_t sum = mcc_nn_requantize(scaled_a + scaled_b, params->output_multiplier,
                                        params->output_shift);
        sum += params->output_offset;
        output[i] = (int8_t)mcc_nn_clamp(sum, params->activation.min, params->activation.max);
    }
    return MCC_OK;
}

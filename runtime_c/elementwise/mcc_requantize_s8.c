/* mcc_requantize_s8 - element-wise rescale and clamp (TFLite ReluQuantized; relu6 on equal
 * quantization is the same with an identity multiplier). */
#include "mcc.h"
#include "mcc_nn.h"

mcc_status mcc_requantize_s8(const mcc_requantize_params *params, const int8_t *input,
                             int8_t *output, int32_t size)
{
    int32_t i;
    for (i = 0; i < size; ++i) {
        int32_t v = mcc_nn_requantize(input[i] + params->input_offset, params->multiplier,
                                             params->shift);
        v += params->output_offset;
        output[i] = (int8_t)mcc_nn_clamp(v, params->activation.min, params->activation.max);
    }
    return MCC_OK;
}

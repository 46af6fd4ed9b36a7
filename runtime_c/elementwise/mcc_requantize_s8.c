/* mcc_requantize_s8 - int8 to int8 with a new scale and zero point (TFLite Quantize int8->int8). */
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
        output[i] = (int8_t)mcc_nn_clamp(v, -128, 127);
    }
    return MCC_OK;
}

/* mcc_depthwise_expand_s8 - an int8 NHWC tensor with each channel repeated `multiplier` times
 * (channel c * multiplier + m of the result is channel c), so a depthwise layer with a depth
 * multiplier above 1 runs on mcc_depthwise_conv2d_fast_s8 over the repeated input. */
#include "mcc.h"

mcc_status mcc_depthwise_expand_s8(const mcc_dims *input_dims, const int8_t *input,
                                   int32_t multiplier, int8_t *output)
{
    const int32_t count = input_dims->n * input_dims->h * input_dims->w * input_dims->c;
    int32_t i, m;
    if (multiplier < 1) {
        return MCC_ERROR_ARGUMENT;
    }
    for (i = 0; i < count; ++i) {
        const int8_t value = input[i];
        for (m = 0; m < multiplier; ++m) {
            *output++ = value;
        }
    }
    return MCC_OK;
}

/* mcc_mul_s8 - element-wise int8 multiply with TFLite's broadcasting (a size-1 dimension of an
 * input is repeated): out = clamp(requantize((a + off1) * (b + off2)) + out_offset). */
#include "mcc.h"
#include "mcc_nn.h"

mcc_status mcc_mul_s8(const mcc_mul_params *params, const mcc_dims *input1_dims, const int8_t *input1,
                      const mcc_dims *input2_dims, const int8_t *input2, const mcc_dims *output_dims,
                      int8_t *output)
{
    mcc_nn_broadcast walk;
    int32_t i;
    mcc_nn_broadcast_start(&walk, input1_dims, input2_dims, output_dims);
    for (i = 0; i < walk.size; ++i) {
        const int32_t a = input1[walk.index1] + params->input1_offset;
        const int32_t b = input2[walk.index2] + params->input2_offset;
        const int32_t v = mcc_nn_requantize(a * b, params->multiplier, params->shift) + params->output_offset;
        output[i] = (int8_t)mcc_nn_clamp(v, params->activation.min, params->activation.max);
        mcc_nn_broadcast_next(&walk);
    }
    return MCC_OK;
}

/* mcc_minimum_s8 - element-wise minimum of two int8 tensors that share one quantization, with
 * TFLite's broadcasting: the smaller raw value. */
#include "mcc.h"
#include "mcc_nn.h"

mcc_status mcc_minimum_s8(const mcc_dims *input1_dims, const int8_t *input1, const mcc_dims *input2_dims,
                        const int8_t *input2, const mcc_dims *output_dims, int8_t *output)
{
    mcc_nn_broadcast_select(input1_dims, input1, input2_dims, input2, output_dims, output, 0);
    return MCC_OK;
}

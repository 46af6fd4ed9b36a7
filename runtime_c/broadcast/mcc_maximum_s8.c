/* mcc_maximum_s8 - element-wise maximum of two int8 tensors that share one quantization, with
 * TFLite's broadcasting: the larger raw value. */
#include "mcc.h"
#include "mcc_nn.h"

mcc_status mcc_maximum_s8(const mcc_dims *input1_dims, const int8_t *input1, const mcc_dims *input2_dims,
                        const int8_t *input2, const mcc_dims *output_dims, int8_t *output)
{
    mcc_nn_broadcast walk;
    int32_t i;
    mcc_nn_broadcast_start(&walk, input1_dims, input2_dims, output_dims);
    for (i = 0; i < walk.size; ++i) {
        const int8_t a = input1[walk.index1];
        const int8_t b = input2[walk.index2];
        output[i] = a > b ? a : b;
        mcc_nn_broadcast_next(&walk);
    }
    return MCC_OK;
}

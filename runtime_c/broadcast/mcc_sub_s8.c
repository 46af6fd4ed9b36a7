/* mcc_sub_s8 - TFLite's integer Sub with broadcasting: add's parameters and per-element
 * arithmetic (mcc_add_broadcast_s8), the rescaled second input subtracted from the first. */
#include "mcc.h"
#include "mcc_nn.h"

mcc_status mcc_sub_s8(const mcc_add_params *params, const mcc_dims *input1_dims, const int8_t *input1,
                      const mcc_dims *input2_dims, const int8_t *input2, const mcc_dims *output_dims,
                      int8_t *output)
{
    mcc_nn_broadcast_add(params, input1_dims, input1, input2_dims, input2, output_dims, output, 1);
    return MCC_OK;
}

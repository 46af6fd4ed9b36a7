/* mcc_conv2d_fast_w8_s8 - mcc_conv2d_fast_s8 on int8 weights kept one byte each in flash
 * (layout in mcc.h), widened as they are read: half the flash of the widened layout. On an MVE
 * core a widening load of 8 weight bytes costs what the gather of 4 widened words costs, so the
 * layer runs as fast; on DSP cores each word of 4 weights takes two SXTB16 more.
 *
 * The loops are the widened kernel's (runtime_c/conv/mcc_conv2d_fast_s8.c, which every tree that
 * calls this kernel also builds): only the dot products read the weights differently.
 */
#include "mcc.h"
#include "mcc_nn.h"

mcc_status mcc_conv2d_fast_w8_s8(const mcc_conv_fast_params *params,
                                 const mcc_dims *input_dims, const int8_t *input,
                                 const mcc_dims *output_dims, int8_t *output, void *scratch)
{
    return mcc_nn_conv2d_fast_w8(params, input_dims, input, output_dims, output, scratch);
}

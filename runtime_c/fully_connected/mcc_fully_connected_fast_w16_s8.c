/* mcc_fully_connected_fast_w16_s8 - mcc_fully_connected_fast_s8 on int16 weights (layout in
 * mcc.h): twice the flash of the int8 layout, and on DSP cores no SXTB16 in the loop (11
 * instructions per 16 products against 18), so it is taken for the hot layers of DSP cores.
 *
 * The loops are the int8 kernel's (runtime_c/fully_connected/mcc_fully_connected_fast_s8.c,
 * which every tree that calls this kernel also builds): only the dot products read the weights
 * differently.
 */
#include "mcc.h"
#include "mcc_nn.h"

mcc_status mcc_fully_connected_fast_w16_s8(const mcc_fc_fast_params *params, int32_t rows,
                                           const int8_t *input, int8_t *output, void *scratch)
{
    return mcc_nn_fully_connected_fast_w16(params, rows, input, output, scratch);
}

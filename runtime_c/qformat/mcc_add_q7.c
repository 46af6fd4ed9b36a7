/* mcc_add_q7 - element-wise add of two Q-format tensors: align by shifts, add, shift back. */
#include "mcc.h"
#include "mcc_q7.h"

mcc_status mcc_add_q7(const mcc_add_q7_params *params, const int8_t *input1, const int8_t *input2,
                      int8_t *output, int32_t size)
{
    int32_t i;
    if (params->input1_left_shift < 0 || params->input2_left_shift < 0 ||
        params->input1_left_shift > 22 || params->input2_left_shift > 22) {
        return MCC_ERROR_ARGUMENT;
    }
    for (i = 0; i < size; ++i) {
        /* Multiplying by 2^k rather than shifting: left shifts of negative values are undefined. */
        const int32_t a = (int32_t)input1[i] * ((int32_t)1 << params->input1_left_shift);
        const int32_t b = (int32_t)input2[i] * ((int32_t)1 << params->input2_left_shift);
        output[i] = mcc_q7_output(a + b, params->shift, &params->activation);
    }
    return MCC_OK;
}

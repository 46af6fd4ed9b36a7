/* mcc_lut_s8 - element-wise int8 function through a 256-entry table (logistic, tanh, leaky
 * ReLU, ELU, hard-swish): the table holds the kernel's integer result for every input value. */
#include "mcc.h"

mcc_status mcc_lut_s8(const int8_t table[256], const int8_t *input, int8_t *output, int32_t size)
{
    int32_t i;
    for (i = 0; i < size; ++i) {
        output[i] = table[(int32_t)input[i] + 128];
    }
    return MCC_OK;
}

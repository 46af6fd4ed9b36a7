/* mcc_copy_s8 - byte copy for reshapes the planner could not make in place. */
#include <string.h>

#include "mcc.h"

mcc_status mcc_copy_s8(const int8_t *input, int8_t *output, int32_t size)
{
    if (input != output && size > 0) {
        memmove(output, input, (size_t)size);
    }
    return MCC_OK;
}

/* mcc_concat_channels_s8 - concatenation along the last (channel) axis. */
#include <string.h>

#include "mcc.h"

mcc_status mcc_concat_channels_s8(const int8_t *const *inputs, const int32_t *channels,
                                  int32_t count, int32_t outer, int8_t *output)
{
    int32_t o, k;
    for (o = 0; o < outer; ++o) {
        for (k = 0; k < count; ++k) {
            memcpy(output, inputs[k] + (int64_t)o * channels[k], (size_t)channels[k]);
            output += channels[k];
        }
    }
    return MCC_OK;
}

/* mcc_unpack_b1 - packed sign bits to int8 +1 / -1 (scale 1, zero point 0). */
#include "mcc.h"
#include "mcc_b1.h"

mcc_status mcc_unpack_b1(const mcc_dims *dims, const int8_t *input, int8_t *output)
{
    const int32_t channels = dims->c;
    const int32_t words = (channels + 31) / 32;
    const int32_t pixels = dims->n * dims->h * dims->w;
    int32_t p, c;

    if (channels < 1 || pixels < 0) {
        return MCC_ERROR_ARGUMENT;
    }
    for (p = 0; p < pixels; ++p) {
        const int8_t *row = input + (int32_t)4 * words * p;
        for (c = 0; c < channels; ++c) {
            const uint32_t word = mcc_b1_load(row + 4 * (c >> 5));
            *output++ = (int8_t)(((word >> (c & 31)) & 1u) ? 1 : -1);
        }
    }
    return MCC_OK;
}

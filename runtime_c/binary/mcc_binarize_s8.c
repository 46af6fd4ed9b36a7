/* mcc_binarize_s8 - int8 values to packed sign bits: bit = (x >= threshold). */
#include "mcc.h"
#include "mcc_b1.h"

mcc_status mcc_binarize_s8(int32_t threshold, const mcc_dims *dims, const int8_t *input,
                           int8_t *output)
{
    const int32_t channels = dims->c;
    const int32_t words = (channels + 31) / 32;
    const int32_t pixels = dims->n * dims->h * dims->w;
    int32_t p, k, bit;

    if (channels < 1 || pixels < 0) {
        return MCC_ERROR_ARGUMENT;
    }
    for (p = 0; p < pixels; ++p) {
        for (k = 0; k < words; ++k) {
            const int32_t count = channels - 32 * k < 32 ? channels - 32 * k : 32;
            uint32_t word = 0;
            for (bit = 0; bit < count; ++bit) {
                word |= (uint32_t)(input[bit] >= threshold) << bit;
            }
            input += count;
            mcc_b1_store(output, word);
            output += 4;
        }
    }
    return MCC_OK;
}

/* mcc_resize_nearest_s8 - nearest-neighbour resize of an NHWC tensor: output pixel (y, x) copies
 * input pixel (rows[y], cols[x]); the index tables are TFLite's rule evaluated at export. */
#include <string.h>

#include "mcc.h"

mcc_status mcc_resize_nearest_s8(const mcc_dims *input_dims, const int8_t *input, const int32_t *rows,
                                 const int32_t *cols, const mcc_dims *output_dims, int8_t *output)
{
    const int32_t depth = output_dims->c;
    int32_t n, y, x;
    for (n = 0; n < output_dims->n; ++n) {
        const int8_t *image = input + (size_t)n * input_dims->h * input_dims->w * depth;
        for (y = 0; y < output_dims->h; ++y) {
            const int8_t *row = image + (size_t)rows[y] * input_dims->w * depth;
            for (x = 0; x < output_dims->w; ++x) {
                memcpy(output, row + (size_t)cols[x] * depth, (size_t)depth);
                output += depth;
            }
        }
    }
    return MCC_OK;
}

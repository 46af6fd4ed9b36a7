/* mcc_pad_s8 - constant padding of an NHWC tensor in height and width. */
#include "mcc.h"

mcc_status mcc_pad_s8(const mcc_dims *input_dims, const int8_t *input, const int32_t pads[4],
                      int8_t pad_value, const mcc_dims *output_dims, int8_t *output)
{
    int32_t b, y, x, c;
    if (output_dims->h != input_dims->h + pads[0] + pads[1] ||
        output_dims->w != input_dims->w + pads[2] + pads[3] || output_dims->c != input_dims->c) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < output_dims->n; ++b) {
        for (y = 0; y < output_dims->h; ++y) {
            const int32_t iy = y - pads[0];
            for (x = 0; x < output_dims->w; ++x) {
                const int32_t ix = x - pads[2];
                const int inside = iy >= 0 && iy < input_dims->h && ix >= 0 && ix < input_dims->w;
                for (c = 0; c < output_dims->c; ++c) {
                    *output++ = inside ? input[(((int64_t)b * input_dims->h + iy) * input_dims->w +
                                                ix) * input_dims->c + c]
                                       : pad_value;
                }
            }
        }
    }
    return MCC_OK;
}

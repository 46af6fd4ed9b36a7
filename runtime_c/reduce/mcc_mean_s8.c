/* mcc_mean_s8 - int8 mean over height and width (TFLM reduce MEAN, int8, axes (1, 2)). */
#include "mcc.h"
#include "mcc_nn.h"

mcc_status mcc_mean_s8(const mcc_mean_params *params,
                       const mcc_dims *input_dims, const int8_t *input, int8_t *output)
{
    const int32_t count = input_dims->h * input_dims->w;
    const int32_t ch = input_dims->c;
    int32_t b, c, i;

    if (count <= 0) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in_batch = input + (int64_t)b * count * ch;
        for (c = 0; c < ch; ++c) {
            int32_t acc = 0;
#if MCC_SINGLE_ROUNDING
            for (i = 0; i < count; ++i) {
                acc += in_batch[(int64_t)i * ch + c] + params->input_offset;
            }
            acc = mcc_nn_requantize_float(acc, params->scale, params->output_offset,
                                          &params->activation);
#else
            if (params->same_quant) {
                /* Equal zero points cancel: average the stored values, truncating. */
                for (i = 0; i < count; ++i) {
                    acc += in_batch[(int64_t)i * ch + c];
                }
                acc = acc / count;
            } else {
                /* The multiplier includes 1 / count. */
                for (i = 0; i < count; ++i) {
                    acc += in_batch[(int64_t)i * ch + c] + params->input_offset;
                }
                acc = mcc_nn_requantize(acc, params->multiplier, params->shift) +
                      params->output_offset;
            }
#endif
            *output++ = (int8_t)mcc_nn_clamp(acc, params->activation.min, params->activation.max);
        }
    }
    return MCC_OK;
}

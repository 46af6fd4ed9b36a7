/* mcc_depthwise_expand_s8 - an int8 NHWC tensor with each channel repeated `multiplier` times
 * (channel c * multiplier + m of the result is channel c), so a depthwise layer with a depth
 * multiplier above 1 runs on mcc_depthwise_conv2d_fast_s8 over the repeated input. */
#include "mcc.h"

#if MCC_HAVE_MVE
#include <arm_mve.h>
#endif

mcc_status mcc_depthwise_expand_s8(const mcc_dims *input_dims, const int8_t *input,
                                   int32_t multiplier, int8_t *output)
{
    const int32_t count = input_dims->n * input_dims->h * input_dims->w * input_dims->c;
    int32_t i = 0, m;
    if (multiplier < 1) {
        return MCC_ERROR_ARGUMENT;
    }
#if MCC_HAVE_MVE
    /* 16 values a load, stored interleaved with themselves (VST2 / VST4 of one vector) */
    if (multiplier == 2) {
        for (; i + 16 <= count; i += 16) {
            const int8x16_t v = vld1q_s8(input + i);
            const int8x16x2_t pair = {{v, v}};
            vst2q_s8(output, pair);
            output += 32;
        }
    } else if (multiplier == 4) {
        for (; i + 16 <= count; i += 16) {
            const int8x16_t v = vld1q_s8(input + i);
            const int8x16x4_t quad = {{v, v, v, v}};
            vst4q_s8(output, quad);
            output += 64;
        }
    }
#elif MCC_HAVE_DSP
    /* a word of output from one multiply: (a | b << 16) * 0x101 repeats the bytes a and b */
    if (multiplier == 2 && ((uintptr_t)output & 3u) == 0) {
        uint32_t *out = (uint32_t *)(void *)output;
        for (; i + 4 <= count; i += 4) {
            const uint32_t a = (uint8_t)input[i], b = (uint8_t)input[i + 1];
            const uint32_t c = (uint8_t)input[i + 2], d = (uint8_t)input[i + 3];
            out[0] = (a | b << 16) * 0x101u;
            out[1] = (c | d << 16) * 0x101u;
            out += 2;
        }
        output = (int8_t *)(void *)out;
    } else if (multiplier == 4 && ((uintptr_t)output & 3u) == 0) {
        uint32_t *out = (uint32_t *)(void *)output;
        for (; i < count; ++i) {
            *out++ = (uint8_t)input[i] * 0x01010101u;
        }
        output = (int8_t *)(void *)out;
    }
#endif
    for (; i < count; ++i) {
        const int8_t value = input[i];
        for (m = 0; m < multiplier; ++m) {
            *output++ = value;
        }
    }
    return MCC_OK;
}

/* mcc_depthwise_conv2d_fast_s8 - int8 depthwise convolution (depth multiplier 1) on weights
 * specialised at export time (mcucompress/codegen/specialize.py); bit-exact with
 * mcc_depthwise_conv2d_s8 under TFLM rounding.
 *
 * Layout: channels in groups of 4; for group g and tap t (ky * kw + kx) two words hold the
 * doubled weights (c0, c2) and (c1, c3), matching SXTB16 / SXTB16(ROR 8) of 4 activations:
 * weights[(g * taps + t) * 2 + {0, 1}]. channels: {bias, multiplier, round, shift} per channel as
 * in mcc_conv2d_fast_s8 (input offset folded into the bias). Padded taps read a row of input
 * zero points kept in the scratch buffer, which contribute nothing once the offset is folded.
 */
#include <string.h>

#include "mcc.h"
#include "mcc_nn.h"

#if MCC_HAVE_DSP
#include <arm_acle.h>
#endif
#if MCC_HAVE_MVE
#include <arm_mve.h>
#endif

/* Kernels larger than this many taps are left to mcc_depthwise_conv2d_s8 by the exporter. */
#define MCC_DW_FAST_MAX_TAPS 49

int32_t mcc_depthwise_conv2d_fast_s8_get_buffer_size(int32_t channels)
{
    return (channels + 3) & ~3;
}

MCC_INLINE int32_t dw_requantize(int32_t acc, const int32_t *ch, int32_t lo, int32_t hi,
                                 int full_range)
{
    int32_t v = mcc_nn_smmlar(acc, ch[1], ch[2]);
    v = (v + (acc >> 31)) >> ch[3];
#if MCC_HAVE_DSP
    if (full_range) {
        return __ssat(v, 8);
    }
#else
    (void)full_range;
#endif
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

#if MCC_HAVE_DSP && !MCC_HAVE_MVE
/* One tap of 4 channels (tap pointer at byte offset OFF of the tap array): load the 4
 * activations, SXTB16 them into (c0, c2) and (c1, c3), multiply-accumulate with the tap's two
 * weight words (post-incremented). 9 instructions per tap. */
#define MCC_DW_TAP_ASM(OFF)                                     \
    "ldr %[p], [%[taps], #" #OFF "]\n\t"                        \
    "ldr %[v], [%[p], %[c]]\n\t"                                \
    "ldrd %[w0], %[w1], [%[w]], #8\n\t"                         \
    "sxtb16 %[e], %[v]\n\t"                                     \
    "sxtb16 %[p], %[v], ror #8\n\t"                             \
    "smlabb %[a0], %[e], %[w0], %[a0]\n\t"                      \
    "smlatt %[a2], %[e], %[w0], %[a2]\n\t"                      \
    "smlabb %[a1], %[p], %[w1], %[a1]\n\t"                      \
    "smlatt %[a3], %[p], %[w1], %[a3]\n\t"

/* 3x3 kernels with the int8-wide clamp: the nine taps written out (register-allocated by hand:
 * GCC 12 hoists the loads and spills), then the exact requantization of the 4 channels. */
static void dw_pixel_3x3(const int8_t *const *tap, int32_t n_ch, const int32_t *w,
                         const int32_t *ch, int8_t *output)
{
    int32_t c;
    for (c = 0; c < n_ch; c += 4) {
        int32_t a0 = ch[0], a1 = ch[4], a2 = ch[8], a3 = ch[12];
        int32_t r;
        uint32_t p, v, e, w0, w1;
        __asm__(MCC_DW_TAP_ASM(0) MCC_DW_TAP_ASM(4) MCC_DW_TAP_ASM(8)
                MCC_DW_TAP_ASM(12) MCC_DW_TAP_ASM(16) MCC_DW_TAP_ASM(20)
                MCC_DW_TAP_ASM(24) MCC_DW_TAP_ASM(28) MCC_DW_TAP_ASM(32)
                : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w),
                  [p] "=&r"(p), [v] "=&r"(v), [e] "=&r"(e), [w0] "=&r"(w0), [w1] "=&r"(w1)
                : [taps] "r"(tap), [c] "r"(c)
                : "memory");
        r = (mcc_nn_smmlar(a0, ch[1], ch[2]) + (a0 >> 31)) >> ch[3];
        output[c] = (int8_t)__ssat(r, 8);
        r = (mcc_nn_smmlar(a1, ch[5], ch[6]) + (a1 >> 31)) >> ch[7];
        output[c + 1] = (int8_t)__ssat(r, 8);
        r = (mcc_nn_smmlar(a2, ch[9], ch[10]) + (a2 >> 31)) >> ch[11];
        output[c + 2] = (int8_t)__ssat(r, 8);
        r = (mcc_nn_smmlar(a3, ch[13], ch[14]) + (a3 >> 31)) >> ch[15];
        output[c + 3] = (int8_t)__ssat(r, 8);
        ch += 16;
    }
}
#undef MCC_DW_TAP_ASM
#endif

#if MCC_HAVE_MVE
/* MVE: 4 channels per vector, lanes in the weights' order c0 c2 c1 c3 (gathered loads and a
 * scattered store put them back); per tap a gather, a widening load of the weights, VMUL and
 * VADD. Requantization on 4 lanes: VRMULH is SMMLAR without the accumulate. */
static void dw_pixel_mve(const int8_t *const *tap, int32_t taps, int32_t n_ch, const int32_t *w,
                         const int32_t *ch, int8_t *output, int32_t lo, int32_t hi)
{
    static const uint32_t lane_bytes[4] = {0, 2, 1, 3};        /* channel of each lane */
    static const uint32_t lane_consts[4] = {0, 32, 16, 48};    /* its constants, in bytes */
    const uint32x4_t byte_offsets = vld1q_u32(lane_bytes);
    const uint32x4_t const_offsets = vld1q_u32(lane_consts);
    const int32x4_t low = vdupq_n_s32(lo);
    const int32x4_t high = vdupq_n_s32(hi);
    int32_t c, t;
    for (c = 0; c < n_ch; c += 4) {
        int32x4_t acc = vldrwq_gather_offset_s32(ch, const_offsets);
        int32x4_t v;
        for (t = 0; t < taps; ++t) {
            const int32x4_t x = vldrbq_gather_offset_s32(tap[t] + c, byte_offsets);
            const int32x4_t wv = vldrhq_s32((const int16_t *)(const void *)w);
            acc = vaddq_s32(acc, vmulq_s32(x, wv));
            w += 2;
        }
        v = vrmulhq_s32(acc, vldrwq_gather_offset_s32(ch + 1, const_offsets));
        v = vaddq_s32(v, vldrwq_gather_offset_s32(ch + 2, const_offsets));
        v = vaddq_s32(v, vshrq_n_s32(acc, 31));
        v = vshlq_s32(v, vnegq_s32(vldrwq_gather_offset_s32(ch + 3, const_offsets)));
        v = vminq_s32(vmaxq_s32(v, low), high);
        vstrbq_scatter_offset_s32(output + c, byte_offsets, v);
        ch += 16;
    }
}
#endif

/* All channels of one output pixel whose taps point at their input pixels (or the zero row). */
MCC_INLINE void dw_pixel(const int8_t *const *tap, int32_t taps, int32_t n_ch, const int32_t *w,
                         const int32_t *ch, int8_t *output, int32_t lo, int32_t hi, int full_range)
{
    int32_t c;
    for (c = 0; c < n_ch; c += 4) {
        int32_t a0 = ch[0], a1 = ch[4], a2 = ch[8], a3 = ch[12];
        int32_t t;
        for (t = 0; t < taps; ++t) {
            const int8_t *const *tp = tap + t;
#if MCC_HAVE_DSP
            uint32_t v, even, odd;
            memcpy(&v, *tp + c, 4);
            even = __sxtb16(v);
            odd = mcc_nn_sxtb16_ror8(v);
            a0 = __smlabb(even, (uint32_t)w[0], a0);
            a2 = __smlatt(even, (uint32_t)w[0], a2);
            a1 = __smlabb(odd, (uint32_t)w[1], a1);
            a3 = __smlatt(odd, (uint32_t)w[1], a3);
#else
            const int8_t *src = *tp + c;
            a0 += src[0] * (int16_t)(w[0] & 0xFFFF);
            a2 += src[2] * (int16_t)((uint32_t)w[0] >> 16);
            a1 += src[1] * (int16_t)(w[1] & 0xFFFF);
            a3 += src[3] * (int16_t)((uint32_t)w[1] >> 16);
#endif
            w += 2;
        }
        output[c] = (int8_t)dw_requantize(a0, ch, lo, hi, full_range);
        output[c + 1] = (int8_t)dw_requantize(a1, ch + 4, lo, hi, full_range);
        output[c + 2] = (int8_t)dw_requantize(a2, ch + 8, lo, hi, full_range);
        output[c + 3] = (int8_t)dw_requantize(a3, ch + 12, lo, hi, full_range);
        ch += 16;
    }
}

mcc_status mcc_depthwise_conv2d_fast_s8(const mcc_dw_conv_fast_params *params,
                                        const mcc_dims *input_dims, const int8_t *input,
                                        const mcc_dims *output_dims, int8_t *output,
                                        void *scratch)
{
    const int32_t in_h = input_dims->h;
    const int32_t in_w = input_dims->w;
    const int32_t n_ch = params->channels_n;
    const int32_t in_c = input_dims->c; /* pixel strides: the channels past n_ch are left to */
    const int32_t out_c = output_dims->c; /* mcc_conv2d_channels_s8 */
    const int32_t k_h = params->kernel.h;
    const int32_t k_w = params->kernel.w;
    const int32_t taps = k_h * k_w;
    const int32_t lo = params->activation.min;
    const int32_t hi = params->activation.max;
    const int8_t *tap[MCC_DW_FAST_MAX_TAPS];
    int8_t *zero_row = (int8_t *)scratch;
    int32_t b, oy, ox;

    if (taps > MCC_DW_FAST_MAX_TAPS || (n_ch & 3) != 0 || in_c != out_c || out_c < n_ch ||
        input_dims->n != output_dims->n) {
        return MCC_ERROR_ARGUMENT;
    }
    memset(zero_row, params->input_zero_point, (size_t)n_ch);
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in_batch = input + b * in_h * in_w * in_c;
        for (oy = 0; oy < output_dims->h; ++oy) {
            const int32_t y0 = oy * params->stride.h - params->padding.h;
            for (ox = 0; ox < output_dims->w; ++ox) {
                const int32_t x0 = ox * params->stride.w - params->padding.w;
                int32_t ky, kx, t = 0;
                for (ky = 0; ky < k_h; ++ky) {
                    const int32_t y = y0 + ky * params->dilation.h;
                    for (kx = 0; kx < k_w; ++kx) {
                        const int32_t x = x0 + kx * params->dilation.w;
                        tap[t++] = (y < 0 || y >= in_h || x < 0 || x >= in_w)
                                       ? zero_row : in_batch + (y * in_w + x) * in_c;
                    }
                }
#if MCC_HAVE_MVE
                dw_pixel_mve(tap, taps, n_ch, params->weights, params->channels, output, lo, hi);
#else
#if MCC_HAVE_DSP
                if (taps == 9 && lo == -128 && hi == 127) {
                    dw_pixel_3x3(tap, n_ch, params->weights, params->channels, output);
                } else
#endif
                if (lo == -128 && hi == 127) {
                    dw_pixel(tap, taps, n_ch, params->weights, params->channels, output, lo, hi, 1);
                } else {
                    dw_pixel(tap, taps, n_ch, params->weights, params->channels, output, lo, hi, 0);
                }
#endif
                output += out_c;
            }
        }
    }
    return MCC_OK;
}

/* mcc_conv2d_fast_s8 - int8 convolution on weights specialised at export time
 * (mcucompress/codegen/specialize.py): the same results as mcc_conv2d_s8, bit for bit.
 *
 * Data laid out by the exporter:
 *   - K = kh * kw * c_in products per output, padded with zero weights to k_padded (multiple
 *     of 8). Inside every group of 4 products the order is k0, k2, k1, k3: what SXTB16 and
 *     SXTB16(ROR 8) make of 4 int8 activations, so activations are widened without reordering.
 *   - weights: int16 pairs packed in int32 words, doubled (2w), for output channel pairs
 *     interleaved per group of 8: [ch 2p: 8][ch 2p+1: 8] ...; an odd last channel alone.
 *   - channels: per output channel pair {bias, multiplier, round, shift} x {even, odd} (an odd
 *     last channel: {bias, multiplier, round, shift}), where bias = 2 * (b +
 *     input_offset * sum(w)) (the input offset folded away; padding reads the input zero point,
 *     which contributes nothing), round = 2^(shift-1) + (output_offset << shift), shift >= 1.
 * Requantization is then exactly TFLite's double rounding: SMMLAR(acc, multiplier, round) is
 * the rounding doubling high multiply plus round, adding the sign of acc and shifting right
 * finishes the rounding division (the exporter checks no intermediate can overflow).
 *
 * The scratch buffer (mcc_conv2d_fast_s8_get_buffer_size bytes, word aligned) holds the
 * widened columns of two output pixels, interleaved per group of 8, and a staging row.
 */
#include <string.h>

#include "mcc.h"
#include "mcc_nn.h"

#if MCC_HAVE_DSP || MCC_HAVE_MVE
#include <arm_acle.h>
#endif
#if MCC_HAVE_MVE
#include <arm_mve.h>
#endif

int32_t mcc_conv2d_fast_s8_get_buffer_size(int32_t k_padded, int32_t in_c)
{
    /* two widened columns, then (c_in not a multiple of 8) the int8 staging row of one pixel */
    return 2 * k_padded * (int32_t)sizeof(int16_t) + ((in_c & 7) ? k_padded : 0);
}

/* Requantize a doubled accumulator with the channel's {bias, multiplier, round, shift}. */
MCC_INLINE int32_t fast_requantize(int32_t acc, int32_t multiplier, int32_t round, int32_t shift,
                                   int32_t lo, int32_t hi, int full_range)
{
    int32_t v = mcc_nn_smmlar(acc, multiplier, round);
    v = (v + (acc >> 31)) >> shift;
#if MCC_HAVE_DSP
    if (full_range) {
        return __ssat(v, 8); /* the clamp range is all of int8 */
    }
#else
    (void)full_range;
#endif
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

/* Packs two int16 values into one word, the first in the low half. */
MCC_INLINE uint32_t pack16(int32_t low, int32_t high)
{
    return (uint32_t)(uint16_t)low | ((uint32_t)(uint16_t)high << 16);
}

/* Widens 4 int8 values (one word) into the two words k0 k2 | k1 k3 at dst. */
MCC_INLINE void widen4(uint32_t v, uint32_t *dst)
{
#if MCC_HAVE_DSP
    dst[0] = __sxtb16(v);
    dst[1] = mcc_nn_sxtb16_ror8(v);
#else
    dst[0] = pack16((int8_t)(v & 0xFF), (int8_t)((v >> 16) & 0xFF));
    dst[1] = pack16((int8_t)((v >> 8) & 0xFF), (int8_t)(v >> 24));
#endif
}

/* Short copies and fills inline, a word at a time (no library call for a few bytes). */
MCC_INLINE void copy_bytes(int8_t *dst, const int8_t *src, int32_t n)
{
    for (; n >= 4; n -= 4) {
        uint32_t v;
        memcpy(&v, src, 4);
        memcpy(dst, &v, 4);
        src += 4;
        dst += 4;
    }
    if (n > 0) {
        dst[0] = src[0];
    }
    if (n > 1) {
        dst[1] = src[1];
    }
    if (n > 2) {
        dst[2] = src[2];
    }
}

MCC_INLINE void fill_bytes(int8_t *dst, int32_t value, int32_t n)
{
    const uint32_t v = (uint32_t)(uint8_t)value * 0x01010101u;
    for (; n >= 4; n -= 4) {
        memcpy(dst, &v, 4);
        dst += 4;
    }
    if (n > 0) {
        dst[0] = (int8_t)value;
    }
    if (n > 1) {
        dst[1] = (int8_t)value;
    }
    if (n > 2) {
        dst[2] = (int8_t)value;
    }
}

/* Widens the K values of output pixel (oy, ox) into its column (groups of 8 values 8 words
 * apart, so two columns interleave); padded positions read the input zero point.
 * in_c % 8 == 0: every tap fills whole groups, straight from the input. Otherwise the pixel's
 * K values are first gathered as int8 in `stage` (k_padded bytes), then widened. */
static void im2col(const mcc_conv_fast_params *p, const mcc_dims *in_dims, const int8_t *input,
                   int32_t oy, int32_t ox, uint32_t *col, int8_t *stage)
{
    const int32_t in_c = in_dims->c;
    const int32_t in_w = in_dims->w;
    const int32_t y0 = oy * p->stride.h - p->padding.h;
    const int32_t x0 = ox * p->stride.w - p->padding.w;
    const int32_t zp = p->input_zero_point;
    int32_t ky, kx, c;
    if ((in_c & 7) == 0) {
        const uint32_t zp2 = pack16(zp, zp);
        for (ky = 0; ky < p->kernel.h; ++ky) {
            const int32_t y = y0 + ky * p->dilation.h;
            const int row_inside = y >= 0 && y < in_dims->h;
            for (kx = 0; kx < p->kernel.w; ++kx) {
                const int32_t x = x0 + kx * p->dilation.w;
                if (row_inside && x >= 0 && x < in_w) {
                    const int8_t *src = input + (y * in_w + x) * in_c;
                    for (c = in_c; c > 0; c -= 8) {
                        uint32_t v0, v1;
#if MCC_HAVE_DSP
                        MCC_NN_LDRD(src, 0, v0, v1);
#else
                        memcpy(&v0, src, 4);
                        memcpy(&v1, src + 4, 4);
#endif
                        widen4(v0, col);
                        widen4(v1, col + 2);
                        src += 8;
                        col += 8;
                    }
                } else {
                    for (c = in_c; c > 0; c -= 8) {
                        col[0] = zp2;
                        col[1] = zp2;
                        col[2] = zp2;
                        col[3] = zp2;
                        col += 8;
                    }
                }
            }
        }
        return;
    }
    {
        int8_t *s = stage;
        int32_t k;
        for (ky = 0; ky < p->kernel.h; ++ky) {
            const int32_t y = y0 + ky * p->dilation.h;
            const int row_inside = y >= 0 && y < in_dims->h;
            if (row_inside && p->dilation.w == 1 && x0 >= 0 && x0 + p->kernel.w <= in_w) {
                /* the whole kernel row is one run of input bytes */
                copy_bytes(s, input + (y * in_w + x0) * in_c, p->kernel.w * in_c);
                s += p->kernel.w * in_c;
                continue;
            }
            for (kx = 0; kx < p->kernel.w; ++kx) {
                const int32_t x = x0 + kx * p->dilation.w;
                if (row_inside && x >= 0 && x < in_w) {
                    copy_bytes(s, input + (y * in_w + x) * in_c, in_c);
                } else {
                    fill_bytes(s, zp, in_c);
                }
                s += in_c;
            }
        }
        memset(s, 0, (size_t)(p->k_padded - (s - stage)));
        for (k = 0; k < p->k_padded; k += 8) {
            uint32_t v0, v1;
            memcpy(&v0, stage + k, 4);
            memcpy(&v1, stage + k + 4, 4);
            widen4(v0, col);
            widen4(v1, col + 2);
            col += 8;
        }
    }
}

/* Dot products of n_ch (1 or 2) output channels with n_px (1 or 2) columns over `groups` groups
 * of 8; w_stride / col_stride: words per group. acc[ch][px] holds the biases on entry. */
MCC_INLINE void dot_block(const uint32_t *w, int32_t w_stride, const uint32_t *col,
                          int32_t groups, int32_t n_ch, int32_t n_px, int32_t acc[2][2])
{
    int32_t g;
#if MCC_HAVE_MVE
    for (g = 0; g < groups; ++g) {
        const int16x8_t x0 = vreinterpretq_s16_u32(vld1q_u32(col));
        const int16x8_t w0 = vreinterpretq_s16_u32(vld1q_u32(w));
        acc[0][0] = vmladavaq_s16(acc[0][0], x0, w0);
        if (n_px == 2) {
            const int16x8_t x1 = vreinterpretq_s16_u32(vld1q_u32(col + 4));
            acc[0][1] = vmladavaq_s16(acc[0][1], x1, w0);
            if (n_ch == 2) {
                const int16x8_t w1 = vreinterpretq_s16_u32(vld1q_u32(w + 4));
                acc[1][0] = vmladavaq_s16(acc[1][0], x0, w1);
                acc[1][1] = vmladavaq_s16(acc[1][1], x1, w1);
            }
        } else if (n_ch == 2) {
            const int16x8_t w1 = vreinterpretq_s16_u32(vld1q_u32(w + 4));
            acc[1][0] = vmladavaq_s16(acc[1][0], x0, w1);
        }
        col += 8;
        w += w_stride;
    }
#elif MCC_HAVE_DSP
    /* Per group of 8: 2 x 2 outputs from 8 LDRD and 16 SMLAD. */
    int32_t a00 = acc[0][0], a01 = acc[0][1], a10 = acc[1][0], a11 = acc[1][1];
    const uint32_t *end = col + 8 * groups;
    (void)g;
#define MCC_FAST_HALF(H)                                                        \
    do {                                                                        \
        uint32_t x0, x1, w0, w1;                                                \
        MCC_NN_LDRD(col, 4 * (H), x0, x1);                                      \
        MCC_NN_LDRD(w, 4 * (H), w0, w1);                                        \
        a00 = __smlad(x0, w0, a00);                                             \
        a00 = __smlad(x1, w1, a00);                                             \
        if (n_px == 2) {                                                        \
            uint32_t y0, y1;                                                    \
            MCC_NN_LDRD(col, 4 * (H) + 16, y0, y1);                             \
            a01 = __smlad(y0, w0, a01);                                         \
            a01 = __smlad(y1, w1, a01);                                         \
            if (n_ch == 2) {                                                    \
                MCC_NN_LDRD(w, 4 * (H) + 16, w0, w1);                           \
                a10 = __smlad(x0, w0, a10);                                     \
                a10 = __smlad(x1, w1, a10);                                     \
                a11 = __smlad(y0, w0, a11);                                     \
                a11 = __smlad(y1, w1, a11);                                     \
            }                                                                   \
        } else if (n_ch == 2) {                                                 \
            MCC_NN_LDRD(w, 4 * (H) + 16, w0, w1);                               \
            a10 = __smlad(x0, w0, a10);                                         \
            a10 = __smlad(x1, w1, a10);                                         \
        }                                                                       \
    } while (0)
    if (n_ch == 2 && n_px == 2 && groups > 0) {
        /* The hot loop, register-allocated by hand so nothing spills: per group of 8, four
         * LDRD of activations, four of weights (the last of each advancing its pointer),
         * 16 SMLAD, the loop test: 26 instructions for 32 products. */
        uint32_t x0, x1, y0, y1, w0, w1;
        __asm__ volatile(
            "1:\n\t"
            "ldrd %[x0], %[x1], [%[col], #8]\n\t"
            "ldrd %[y0], %[y1], [%[col], #24]\n\t"
            "ldrd %[w0], %[w1], [%[w], #24]\n\t"
            "smlad %[a10], %[x0], %[w0], %[a10]\n\t"
            "smlad %[a10], %[x1], %[w1], %[a10]\n\t"
            "smlad %[a11], %[y0], %[w0], %[a11]\n\t"
            "smlad %[a11], %[y1], %[w1], %[a11]\n\t"
            "ldrd %[w0], %[w1], [%[w], #8]\n\t"
            "smlad %[a00], %[x0], %[w0], %[a00]\n\t"
            "smlad %[a00], %[x1], %[w1], %[a00]\n\t"
            "smlad %[a01], %[y0], %[w0], %[a01]\n\t"
            "smlad %[a01], %[y1], %[w1], %[a01]\n\t"
            "ldrd %[y0], %[y1], [%[col], #16]\n\t"
            "ldrd %[x0], %[x1], [%[col]], #32\n\t"
            "ldrd %[w0], %[w1], [%[w], #16]\n\t"
            "smlad %[a10], %[x0], %[w0], %[a10]\n\t"
            "smlad %[a10], %[x1], %[w1], %[a10]\n\t"
            "smlad %[a11], %[y0], %[w0], %[a11]\n\t"
            "smlad %[a11], %[y1], %[w1], %[a11]\n\t"
            "ldrd %[w0], %[w1], [%[w]], #32\n\t"
            "smlad %[a00], %[x0], %[w0], %[a00]\n\t"
            "smlad %[a00], %[x1], %[w1], %[a00]\n\t"
            "smlad %[a01], %[y0], %[w0], %[a01]\n\t"
            "smlad %[a01], %[y1], %[w1], %[a01]\n\t"
            "cmp %[col], %[end]\n\t"
            "bne 1b"
            : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11),
              [col] "+r"(col), [w] "+r"(w), [x0] "=&r"(x0), [x1] "=&r"(x1), [y0] "=&r"(y0),
              [y1] "=&r"(y1), [w0] "=&r"(w0), [w1] "=&r"(w1)
            : [end] "r"(end)
            : "cc", "memory");
    } else {
        while (col != end) {
            MCC_FAST_HALF(0);
            MCC_FAST_HALF(2);
            col += 8;
            w += w_stride;
        }
    }
#undef MCC_FAST_HALF
    acc[0][0] = a00;
    acc[0][1] = a01;
    acc[1][0] = a10;
    acc[1][1] = a11;
#else
    for (g = 0; g < groups; ++g) {
        int32_t i, c, px;
        for (c = 0; c < n_ch; ++c) {
            for (px = 0; px < n_px; ++px) {
                for (i = 0; i < 4; ++i) {
                    const uint32_t x = col[px * 4 + i];
                    const uint32_t wv = w[c * 4 + i];
                    acc[c][px] += (int16_t)(x & 0xFFFF) * (int16_t)(wv & 0xFFFF) +
                                  (int16_t)(x >> 16) * (int16_t)(wv >> 16);
                }
            }
        }
        col += 8;
        w += w_stride;
    }
#endif
}

/* All output channels of n_px (1 or 2) pixels whose columns are in `col`. Channel pairs read
 * their constants as {bias, multiplier, round, shift} x {even, odd channel} once per block. */
MCC_INLINE void channels_of_pixels(const mcc_conv_fast_params *p, const uint32_t *col,
                                   int32_t n_px, int8_t *out0, int8_t *out1, int full_range)
{
    const int32_t out_c = p->out_c;
    const int32_t groups = p->k_padded >> 3;
    const int32_t lo = p->activation.min;
    const int32_t hi = p->activation.max;
    const uint32_t *w = (const uint32_t *)p->weights;
    const int32_t *ch = p->channels;
    int32_t oc;
    for (oc = 0; oc + 1 < out_c; oc += 2) {
        int32_t acc[2][2];
        int32_t m0, m1, r0, r1, s0, s1;
        acc[0][0] = acc[0][1] = ch[0];
        acc[1][0] = acc[1][1] = ch[1];
        if (n_px == 2) {
            dot_block(w, 8, col, groups, 2, 2, acc);
        } else {
            dot_block(w, 8, col, groups, 2, 1, acc);
        }
        m0 = ch[2];
        m1 = ch[3];
        r0 = ch[4];
        r1 = ch[5];
        s0 = ch[6];
        s1 = ch[7];
        out0[oc] = (int8_t)fast_requantize(acc[0][0], m0, r0, s0, lo, hi, full_range);
        out0[oc + 1] = (int8_t)fast_requantize(acc[1][0], m1, r1, s1, lo, hi, full_range);
        if (n_px == 2) {
            out1[oc] = (int8_t)fast_requantize(acc[0][1], m0, r0, s0, lo, hi, full_range);
            out1[oc + 1] = (int8_t)fast_requantize(acc[1][1], m1, r1, s1, lo, hi, full_range);
        }
        w += 2 * 4 * groups;
        ch += 8;
    }
    if (oc < out_c) {
        int32_t acc[2][2];
        acc[0][0] = acc[0][1] = ch[0];
        acc[1][0] = acc[1][1] = 0;
        if (n_px == 2) {
            dot_block(w, 4, col, groups, 1, 2, acc);
            out1[oc] = (int8_t)fast_requantize(acc[0][1], ch[1], ch[2], ch[3], lo, hi, full_range);
        } else {
            dot_block(w, 4, col, groups, 1, 1, acc);
        }
        out0[oc] = (int8_t)fast_requantize(acc[0][0], ch[1], ch[2], ch[3], lo, hi, full_range);
    }
}

mcc_status mcc_conv2d_fast_s8(const mcc_conv_fast_params *params,
                              const mcc_dims *input_dims, const int8_t *input,
                              const mcc_dims *output_dims, int8_t *output, void *scratch)
{
    const int32_t out_w = output_dims->w;
    const int32_t pixels = output_dims->h * out_w;
    const int32_t out_c = output_dims->c;
    uint32_t *col = (uint32_t *)scratch;
    int8_t *stage = (int8_t *)scratch + 4 * params->k_padded;
    const int full_range = params->activation.min == -128 && params->activation.max == 127;
    int32_t b, px;

    if (out_c != params->out_c || input_dims->c != params->in_c || input_dims->n != output_dims->n ||
        (params->k_padded & 7) != 0 || params->k_padded < params->kernel.h * params->kernel.w * params->in_c) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in_batch = input + b * input_dims->h * input_dims->w * input_dims->c;
        for (px = 0; px + 1 < pixels; px += 2) {
            /* Two columns interleaved per group of 8: pixel px in words 0-3, px + 1 in 4-7. */
            im2col(params, input_dims, in_batch, px / out_w, px % out_w, col, stage);
            im2col(params, input_dims, in_batch, (px + 1) / out_w, (px + 1) % out_w, col + 4, stage);
            if (full_range) {
                channels_of_pixels(params, col, 2, output, output + out_c, 1);
            } else {
                channels_of_pixels(params, col, 2, output, output + out_c, 0);
            }
            output += 2 * out_c;
        }
        if (px < pixels) {
            im2col(params, input_dims, in_batch, px / out_w, px % out_w, col, stage);
            channels_of_pixels(params, col, 1, output, 0, full_range);
            output += out_c;
        }
    }
    return MCC_OK;
}

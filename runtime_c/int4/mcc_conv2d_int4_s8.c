/* mcc_conv2d_int4_s8 - 2-D convolution on packed int4 weights (TFLite's INT4: two values per
 * byte, the lower index in the low nibble, -8..7, zero point 0): the same results as
 * mcc_conv2d_s8 on those values widened to int8 (TFLM double rounding), bit for bit.
 *
 * Data laid out by the exporter (mcucompress/codegen/int4_layout.py):
 *   - K = kh * kw * in_c products per output (the im2col order of mcc_conv2d_s8), padded with
 *     zero weights to k_padded (multiple of 8); each output channel's k_padded / 8 words in
 *     turn, product k of a word in bits 4k..4k+3.
 *   - channels: per output channel {2 * (b + input_offset * sum(w)), multiplier, round, shift}
 *     (mcc_fully_connected_fast_s8's constants: the input offset folded away, padded input
 *     positions read the input zero point and so contribute nothing).
 *
 * Output pixels go in blocks of I4_PIXELS: their im2col columns are gathered (int8, then on
 * DSP cores widened to int16 pairs (x0, x4), (x2, x6), (x1, x5), (x3, x7) per group of 8),
 * and each weight word is unpacked once for the whole block: masking the high nibbles in place
 * and the low ones moved up leaves bytes of 16 * value, SXTB16 / SXTB16 ROR 8 make the four
 * pairs; the sums are 16 * dot, exact (the exporter checks 16 * 128 * sum|w| fits int32).
 *
 * Scratch (mcc_conv2d_int4_s8_get_buffer_size bytes, word aligned): I4_PIXELS int8 columns and
 * I4_PIXELS widened ones.
 */
#include <string.h>

#include "mcc.h"
#include "mcc_nn.h"

#if MCC_HAVE_DSP
#include <arm_acle.h>
#endif

#define I4_PIXELS 4 /* output pixels per block */

int32_t mcc_conv2d_int4_s8_get_buffer_size(int32_t k_padded)
{
    return I4_PIXELS * k_padded * (int32_t)(sizeof(int8_t) + sizeof(int16_t));
}

/* The int8 im2col column of output pixel (oy, ox), zero padded from K to k_padded. */
static void gather_column(const mcc_conv_fast_params *p, const mcc_dims *in, const int8_t *input, int32_t oy,
                          int32_t ox, int8_t *col)
{
    const int32_t in_c = p->in_c;
    int32_t ky, kx, k = 0;
    for (ky = 0; ky < p->kernel.h; ++ky) {
        const int32_t iy = oy * p->stride.h - p->padding.h + ky * p->dilation.h;
        for (kx = 0; kx < p->kernel.w; ++kx) {
            const int32_t ix = ox * p->stride.w - p->padding.w + kx * p->dilation.w;
            if (iy >= 0 && iy < in->h && ix >= 0 && ix < in->w) {
                memcpy(col + k, input + ((int32_t)iy * in->w + ix) * in_c, (size_t)in_c);
            } else {
                memset(col + k, (int8_t)p->input_zero_point, (size_t)in_c);
            }
            k += in_c;
        }
    }
    memset(col + k, 0, (size_t)(p->k_padded - k));
}

#if MCC_HAVE_DSP
/* `bytes` int8 values (a multiple of 8) widened into one pixel's slots of the block's
 * interleaved columns: per group of 8 products the pairs (x0, x4), (x2, x6), (x1, x5),
 * (x3, x7) (the order the unpacked weight words take), each pair of the 4 pixels side by side
 * (one LDM). Returns the slots of the next group. */
static uint32_t *widen_groups(const int8_t *src, int32_t bytes, uint32_t *wide)
{
    int32_t i;
    for (i = 0; i < bytes; i += 8) {
        uint32_t a, b;
        memcpy(&a, src + i, 4);
        memcpy(&b, src + i + 4, 4);
        {
            const uint32_t a02 = __sxtb16(a), a13 = mcc_nn_sxtb16_ror8(a);
            const uint32_t b46 = __sxtb16(b), b57 = mcc_nn_sxtb16_ror8(b);
            wide[0] = (a02 & 0xFFFFu) | (b46 << 16);
            wide[I4_PIXELS] = (a02 >> 16) | (b46 & 0xFFFF0000u);
            wide[2 * I4_PIXELS] = (a13 & 0xFFFFu) | (b57 << 16);
            wide[3 * I4_PIXELS] = (a13 >> 16) | (b57 & 0xFFFF0000u);
        }
        wide += 4 * I4_PIXELS;
    }
    return wide;
}

/* Pixel j of the block widened: straight from the input when every group of 8 products lies in
 * one tap (in_c a multiple of 8; padded taps are pairs of the zero point), else through its
 * int8 column `col`. */
static void widen_pixel(const mcc_conv_fast_params *p, const mcc_dims *in, const int8_t *input, int32_t oy,
                        int32_t ox, int32_t j, int8_t *col, uint32_t *wide)
{
    const int32_t in_c = p->in_c;
    const uint32_t zero_pair = (uint32_t)(uint16_t)(int16_t)p->input_zero_point * 0x10001u;
    int32_t ky, kx, g;
    wide += j;
    if (in_c & 7) {
        gather_column(p, in, input, oy, ox, col);
        widen_groups(col, p->k_padded, wide);
        return;
    }
    for (ky = 0; ky < p->kernel.h; ++ky) {
        const int32_t iy = oy * p->stride.h - p->padding.h + ky * p->dilation.h;
        for (kx = 0; kx < p->kernel.w; ++kx) {
            const int32_t ix = ox * p->stride.w - p->padding.w + kx * p->dilation.w;
            if (iy >= 0 && iy < in->h && ix >= 0 && ix < in->w) {
                wide = widen_groups(input + ((int32_t)iy * in->w + ix) * in_c, in_c, wide);
                continue;
            }
            for (g = 0; g < in_c; g += 8) {
                wide[0] = wide[I4_PIXELS] = wide[2 * I4_PIXELS] = wide[3 * I4_PIXELS] = zero_pair;
                wide += 4 * I4_PIXELS;
            }
        }
    }
}

/* 16 times the dot products of one channel's weight words with the block's widened columns. */
MCC_INLINE void dot_block(const uint32_t *w, int32_t words, const uint32_t *wide, int32_t acc[I4_PIXELS])
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
#if MCC_HAVE_DSP_ASM
    if (words >= 2) {
        /* Per weight word: two ANDs and four SXTB16 make its pairs, each meets the same pair
         * of the 4 pixels (one LDM) in 4 SMLAD: 59 instructions per 64 products with the loop
         * test (two words an iteration, the end on the stack). */
        register int32_t r0 __asm__("r0") = 0;
        register int32_t r1 __asm__("r1") = 0;
        register int32_t r2 __asm__("r2") = 0;
        register int32_t r3 __asm__("r3") = 0;
        register const uint32_t *rc __asm__("ip") = wide;
        register const uint32_t *rw __asm__("lr") = w;
        register const uint32_t *re __asm__("r4") = w + (words & ~1);
#define MCC_I4_PAIR(SRC)                                                                     \
        "sxtb16 r10, " SRC "\n\t"                                                              \
        "ldm %[c]!, {r4, r5, r6, r7}\n\t"                                                   \
        "smlad %[a0], r10, r4, %[a0]\n\t"                                                   \
        "smlad %[a1], r10, r5, %[a1]\n\t"                                                   \
        "smlad %[a2], r10, r6, %[a2]\n\t"                                                   \
        "smlad %[a3], r10, r7, %[a3]\n\t"
#define MCC_I4_WORD                                                                          \
        "ldr r8, [%[w]], #4\n\t"                                                            \
        "and r9, r11, r8, lsl #4\n\t"                                                       \
        "and r8, r8, r11\n\t"                                                               \
        MCC_I4_PAIR("r9") MCC_I4_PAIR("r9, ror #8") MCC_I4_PAIR("r8") MCC_I4_PAIR("r8, ror #8")
        __asm__ volatile(
            "push {%[e]}\n\t"
            "mov r11, #0xF0F0F0F0\n\t"
            "1:\n\t" MCC_I4_WORD MCC_I4_WORD
            "ldr r8, [sp]\n\t"
            "cmp %[w], r8\n\t"
            "bne 1b\n\t"
            "add sp, sp, #4"
            : [a0] "+r"(r0), [a1] "+r"(r1), [a2] "+r"(r2), [a3] "+r"(r3), [c] "+r"(rc), [w] "+r"(rw),
              [e] "+r"(re)
            :
            : "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory");
#undef MCC_I4_WORD
#undef MCC_I4_PAIR
        a0 = r0;
        a1 = r1;
        a2 = r2;
        a3 = r3;
        wide = rc;
        w = rw;
        words &= 1;
    }
#endif
    while (words-- > 0) {
        const uint32_t v = *w++;
        const uint32_t lo = (v << 4) & 0xF0F0F0F0u, hi = v & 0xF0F0F0F0u;
        const uint32_t pairs[4] = {__sxtb16(lo), mcc_nn_sxtb16_ror8(lo), __sxtb16(hi), mcc_nn_sxtb16_ror8(hi)};
        int32_t q;
        for (q = 0; q < 4; ++q) {
            a0 = __smlad(pairs[q], wide[0], a0);
            a1 = __smlad(pairs[q], wide[1], a1);
            a2 = __smlad(pairs[q], wide[2], a2);
            a3 = __smlad(pairs[q], wide[3], a3);
            wide += I4_PIXELS;
        }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}
#else
/* 16 times the dot products of one channel's weight words with I4_PIXELS int8 columns. */
static void dot_block(const uint32_t *w, int32_t words, const int8_t *cols, int32_t stride, int32_t acc[I4_PIXELS])
{
    int32_t j, g, i;
    for (j = 0; j < I4_PIXELS; ++j) {
        const int8_t *x = cols + j * stride;
        int32_t a = 0;
        for (g = 0; g < words; ++g) {
            const uint32_t v = w[g];
            for (i = 0; i < 8; ++i) {
                a += ((int32_t)((v >> (4 * i)) << 28) >> 28) * x[8 * g + i];
            }
        }
        acc[j] = a * 16;
    }
}
#endif

mcc_status mcc_conv2d_int4_s8(const mcc_conv_fast_params *params, const uint32_t *weights,
                              const mcc_dims *input_dims, const int8_t *input, const mcc_dims *output_dims,
                              int8_t *output, void *scratch)
{
    const mcc_conv_fast_params *p = params;
    const int32_t k_padded = p->k_padded, words = k_padded >> 3, out_c = p->out_c;
    const int32_t pixels = output_dims->h * output_dims->w;
    const int32_t lo = p->activation.min, hi = p->activation.max;
    int8_t *cols = (int8_t *)scratch;
    int32_t n;
    if (k_padded < p->kernel.h * p->kernel.w * p->in_c || (k_padded & 7) || p->in_c != input_dims->c ||
        out_c != output_dims->c || input_dims->n != output_dims->n || weights == 0 || p->channels == 0 ||
        scratch == 0 || p->stride.h <= 0 || p->stride.w <= 0 || p->dilation.h <= 0 || p->dilation.w <= 0) {
        return MCC_ERROR_ARGUMENT;
    }
    for (n = 0; n < input_dims->n; ++n) {
        const int8_t *in = input + n * input_dims->h * input_dims->w * input_dims->c;
        int8_t *out = output + n * pixels * out_c;
        int32_t first;
        for (first = 0; first < pixels; first += I4_PIXELS) {
            const int32_t count = pixels - first < I4_PIXELS ? pixels - first : I4_PIXELS;
            int32_t j, c;
            for (j = 0; j < I4_PIXELS; ++j) {
                int8_t *col = cols + j * k_padded;
                const int32_t o = first + (j < count ? j : 0);  /* a short block repeats its first pixel */
#if MCC_HAVE_DSP
                widen_pixel(p, input_dims, in, o / output_dims->w, o % output_dims->w, j, col,
                            (uint32_t *)(void *)(cols + I4_PIXELS * k_padded));
#else
                gather_column(p, input_dims, in, o / output_dims->w, o % output_dims->w, col);
#endif
            }
            for (c = 0; c < out_c; ++c) {
                const int32_t *ch = p->channels + 4 * c;
                const int32_t bias = ch[0], multiplier = ch[1], round = ch[2], shift = ch[3];
                int8_t *o = out + first * out_c + c;
                int32_t acc[I4_PIXELS];
#if MCC_HAVE_DSP
                dot_block(weights + c * words, words, (const uint32_t *)(void *)(cols + I4_PIXELS * k_padded), acc);
#else
                dot_block(weights + c * words, words, cols, k_padded, acc);
#endif
                if (count == I4_PIXELS) {
                    o[0] = mcc_nn_fast_requantize(bias + (acc[0] >> 3), multiplier, round, shift, lo, hi);
                    o[out_c] = mcc_nn_fast_requantize(bias + (acc[1] >> 3), multiplier, round, shift, lo, hi);
                    o[2 * out_c] = mcc_nn_fast_requantize(bias + (acc[2] >> 3), multiplier, round, shift, lo, hi);
                    o[3 * out_c] = mcc_nn_fast_requantize(bias + (acc[3] >> 3), multiplier, round, shift, lo, hi);
                    continue;
                }
                for (j = 0; j < count; ++j) {
                    o[j * out_c] = mcc_nn_fast_requantize(bias + (acc[j] >> 3), multiplier, round, shift, lo, hi);
                }
            }
        }
    }
    return MCC_OK;
}

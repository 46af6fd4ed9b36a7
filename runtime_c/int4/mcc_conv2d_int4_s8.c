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
 * Scratch (mcc_conv2d_int4_s8_get_buffer_size bytes, word aligned): I4_PIXELS int8 columns,
 * I4_PIXELS widened ones and the block's sums (I4_PIXELS per output channel).
 */
#include <string.h>

#include "mcc.h"
#include "mcc_nn.h"

#if MCC_HAVE_DSP
#include <arm_acle.h>
#endif

#define I4_PIXELS 4 /* output pixels per block */

int32_t mcc_conv2d_int4_s8_get_buffer_size(int32_t k_padded, int32_t out_c)
{
    return I4_PIXELS * k_padded * (int32_t)(sizeof(int8_t) + sizeof(int16_t)) +
           I4_PIXELS * out_c * (int32_t)sizeof(int32_t);
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

/* 16 times the dot products of every channel's weight words (`words` each, one channel after
 * the other) with the block's widened columns: sums[4 * c + j] for channel c, pixel j. */
static void block_sums(const uint32_t *w, int32_t words, int32_t out_c, const uint32_t *wide, int32_t *sums)
{
    int32_t c;
#if MCC_HAVE_DSP_ASM
    /* Per weight word two ANDs and four SXTB16 make its pairs, each meets the same pair of the
     * 4 pixels (one LDM) in 4 SMLAD: 59 instructions per 64 products (two words an iteration,
     * an odd count entering at the second); per channel the 4 sums leave in one STM. The
     * walk's state that does not fit in registers is copied to the stack: [sp] the next sums,
     * +4 the end of the weights, +8 a channel's bytes of words, +12 the columns, +16 the end of
     * the channel's words, +20 whether words is odd. */
    uint32_t frame[6];
    register const uint32_t *rw __asm__("lr") = w;
    register uint32_t *rf __asm__("r4") = frame;
    frame[0] = (uint32_t)(uintptr_t)sums;
    frame[1] = (uint32_t)(uintptr_t)(w + words * out_c);   /* end of the weights */
    frame[2] = (uint32_t)words * 4u;                       /* bytes of a channel's words */
    frame[3] = (uint32_t)(uintptr_t)wide;
    frame[4] = 0;                                          /* end of this channel's words */
    frame[5] = (uint32_t)(words & 1);
#define MCC_I4_PAIR(SRC)                                                                     \
        "sxtb16 r10, " SRC "\n\t"                                                              \
        "ldm ip!, {r4, r5, r6, r7}\n\t"                                                      \
        "smlad r0, r10, r4, r0\n\t"                                                          \
        "smlad r1, r10, r5, r1\n\t"                                                          \
        "smlad r2, r10, r6, r2\n\t"                                                          \
        "smlad r3, r10, r7, r3\n\t"
#define MCC_I4_WORD                                                                          \
        "ldr r8, [lr], #4\n\t"                                                               \
        "and r9, r11, r8, lsl #4\n\t"                                                       \
        "and r8, r8, r11\n\t"                                                               \
        MCC_I4_PAIR("r9") MCC_I4_PAIR("r9, ror #8") MCC_I4_PAIR("r8") MCC_I4_PAIR("r8, ror #8")
    __asm__ volatile(
        "ldm %[f], {r5, r6, r7, r8, r9, r10}\n\t"
        "push {r5, r6, r7, r8, r9, r10}\n\t"
        "mov r11, #0xF0F0F0F0\n\t"
        "2:\n\t"                                  /* a channel */
        "ldr ip, [sp, #12]\n\t"
        "movs r0, #0\n\t"
        "movs r1, #0\n\t"
        "movs r2, #0\n\t"
        "movs r3, #0\n\t"
        "ldr r8, [sp, #8]\n\t"
        "add r8, lr, r8\n\t"
        "str r8, [sp, #16]\n\t"
        "ldr r8, [sp, #20]\n\t"
        "cmp r8, #0\n\t"
        "bne 3f\n\t"
        "1:\n\t" MCC_I4_WORD
        "3:\n\t" MCC_I4_WORD
        "ldr r8, [sp, #16]\n\t"
        "cmp lr, r8\n\t"
        "bne 1b\n\t"
        "ldr r8, [sp]\n\t"
        "stmia r8!, {r0, r1, r2, r3}\n\t"
        "str r8, [sp]\n\t"
        "ldr r8, [sp, #4]\n\t"
        "cmp lr, r8\n\t"
        "bne 2b\n\t"
        "add sp, sp, #24"
        : [w] "+r"(rw), [f] "+r"(rf)
        :
        : "r0", "r1", "r2", "r3", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "ip", "cc", "memory");
#undef MCC_I4_WORD
#undef MCC_I4_PAIR
    (void)c;
#else
    for (c = 0; c < out_c; ++c) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, g, q;
        const uint32_t *col = wide;
        for (g = 0; g < words; ++g) {
            const uint32_t v = *w++;
            const uint32_t lo = (v << 4) & 0xF0F0F0F0u, hi = v & 0xF0F0F0F0u;
            const uint32_t pairs[4] = {__sxtb16(lo), mcc_nn_sxtb16_ror8(lo), __sxtb16(hi), mcc_nn_sxtb16_ror8(hi)};
            for (q = 0; q < 4; ++q) {
                a0 = __smlad(pairs[q], col[0], a0);
                a1 = __smlad(pairs[q], col[1], a1);
                a2 = __smlad(pairs[q], col[2], a2);
                a3 = __smlad(pairs[q], col[3], a3);
                col += I4_PIXELS;
            }
        }
        sums[4 * c] = a0;
        sums[4 * c + 1] = a1;
        sums[4 * c + 2] = a2;
        sums[4 * c + 3] = a3;
    }
#endif
}
#else
/* 16 times the dot products of every channel's weight words with the block's I4_PIXELS int8
 * columns (8 * words values each): sums[4 * c + j] for channel c, pixel j. */
static void block_sums(const uint32_t *w, int32_t words, int32_t out_c, const int8_t *cols, int32_t *sums)
{
    int32_t c, j, g, i;
    for (c = 0; c < out_c; ++c, w += words) {
        for (j = 0; j < I4_PIXELS; ++j) {
            const int8_t *x = cols + j * 8 * words;
            int32_t a = 0;
            for (g = 0; g < words; ++g) {
                const uint32_t v = w[g];
                for (i = 0; i < 8; ++i) {
                    a += ((int32_t)((v >> (4 * i)) << 28) >> 28) * x[8 * g + i];
                }
            }
            sums[4 * c + j] = a * 16;
        }
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
    int32_t *sums = (int32_t *)(void *)(cols + 3 * I4_PIXELS * k_padded);
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
#if MCC_HAVE_DSP
            block_sums(weights, words, out_c, (const uint32_t *)(void *)(cols + I4_PIXELS * k_padded), sums);
#else
            block_sums(weights, words, out_c, cols, sums);
#endif
            for (c = 0; c < out_c; ++c) {
                const int32_t *ch = p->channels + 4 * c, *acc = sums + 4 * c;
                const int32_t bias = ch[0], multiplier = ch[1], round = ch[2], shift = ch[3];
                int8_t *o = out + first * out_c + c;
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

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
/* A zero-padded int8 column widened to the pair order the unpacked weight words take. */
static void widen_column(const int8_t *col, int32_t k_padded, uint32_t *wide)
{
    int32_t i;
    for (i = 0; i < k_padded; i += 8) {
        uint32_t a, b;
        memcpy(&a, col + i, 4);
        memcpy(&b, col + i + 4, 4);
        {
            const uint32_t a02 = __sxtb16(a), a13 = mcc_nn_sxtb16_ror8(a);
            const uint32_t b46 = __sxtb16(b), b57 = mcc_nn_sxtb16_ror8(b);
            wide[0] = (a02 & 0xFFFFu) | (b46 << 16);
            wide[1] = (a02 >> 16) | (b46 & 0xFFFF0000u);
            wide[2] = (a13 & 0xFFFFu) | (b57 << 16);
            wide[3] = (a13 >> 16) | (b57 & 0xFFFF0000u);
        }
        wide += 4;
    }
}

/* 16 times the dot products of one channel's weight words with I4_PIXELS widened columns
 * (`stride` words apart). */
static void dot_block(const uint32_t *w, int32_t words, const uint32_t *wide, int32_t stride,
                      int32_t acc[I4_PIXELS])
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, g;
    const uint32_t *c0 = wide, *c1 = wide + stride, *c2 = c1 + stride, *c3 = c2 + stride;
    for (g = 0; g < words; ++g) {
        const uint32_t v = w[g];
        const uint32_t lo = (v << 4) & 0xF0F0F0F0u, hi = v & 0xF0F0F0F0u;
        const uint32_t p04 = __sxtb16(lo), p26 = mcc_nn_sxtb16_ror8(lo);
        const uint32_t p15 = __sxtb16(hi), p37 = mcc_nn_sxtb16_ror8(hi);
        a0 = __smlad(p04, c0[0], a0);
        a1 = __smlad(p04, c1[0], a1);
        a2 = __smlad(p04, c2[0], a2);
        a3 = __smlad(p04, c3[0], a3);
        a0 = __smlad(p26, c0[1], a0);
        a1 = __smlad(p26, c1[1], a1);
        a2 = __smlad(p26, c2[1], a2);
        a3 = __smlad(p26, c3[1], a3);
        a0 = __smlad(p15, c0[2], a0);
        a1 = __smlad(p15, c1[2], a1);
        a2 = __smlad(p15, c2[2], a2);
        a3 = __smlad(p15, c3[2], a3);
        a0 = __smlad(p37, c0[3], a0);
        a1 = __smlad(p37, c1[3], a1);
        a2 = __smlad(p37, c2[3], a2);
        a3 = __smlad(p37, c3[3], a3);
        c0 += 4;
        c1 += 4;
        c2 += 4;
        c3 += 4;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}
#else
/* 16 times the dot products of one channel's weight words with I4_PIXELS int8 columns. */
static void dot_block(const uint32_t *w, int32_t words, const int8_t *cols, int32_t stride,
                      int32_t acc[I4_PIXELS])
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
        acc[j] = a << 4;
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
                if (j < count) {
                    const int32_t o = first + j;
                    gather_column(p, input_dims, in, o / output_dims->w, o % output_dims->w, col);
                } else {
                    memset(col, 0, (size_t)k_padded);  /* a block's missing pixels: outputs dropped */
                }
            }
#if MCC_HAVE_DSP
            {
                uint32_t *wide = (uint32_t *)(void *)(cols + I4_PIXELS * k_padded);
                for (j = 0; j < I4_PIXELS; ++j) {
                    widen_column(cols + j * k_padded, k_padded, wide + j * (k_padded >> 1));
                }
            }
#endif
            for (c = 0; c < out_c; ++c) {
                const int32_t *ch = p->channels + 4 * c;
                int32_t acc[I4_PIXELS];
#if MCC_HAVE_DSP
                dot_block(weights + c * words, words, (const uint32_t *)(void *)(cols + I4_PIXELS * k_padded),
                          k_padded >> 1, acc);
#else
                dot_block(weights + c * words, words, cols, k_padded, acc);
#endif
                for (j = 0; j < count; ++j) {
                    out[(first + j) * out_c + c] =
                        mcc_nn_fast_requantize(ch[0] + (acc[j] >> 3), ch[1], ch[2], ch[3], lo, hi);
                }
            }
        }
    }
    return MCC_OK;
}

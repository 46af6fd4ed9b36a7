/* mcc_fully_connected_int4_s8 - fully connected on packed int4 weights (TFLite's INT4: two
 * values per byte, the lower index in the low nibble, -8..7, zero point 0): the same results
 * as mcc_fully_connected_s8 on those values widened to int8 (TFLM double rounding), bit for bit.
 *
 * Data laid out by the exporter (mcucompress/codegen/int4_layout.py):
 *   - K = in_features products per output, padded with zero weights to k_padded (multiple of 8);
 *     each output row's k_padded / 8 words in turn, product k of a word in bits 4k..4k+3.
 *   - channels: per output row the constants of mcc_fully_connected_fast_s8 {2 * (b +
 *     input_offset * sum(w)), multiplier, round, shift}: the input offset is folded away, the
 *     value requantized is channels[0] + 2 * dot, so the requantization is that kernel's.
 *
 * DSP: a weight word unpacks into four int16 pairs without a shift per value: masking the high
 * nibbles in place (w & 0xF0F0F0F0) and the low ones moved up ((w << 4) & 0xF0F0F0F0) leaves
 * every nibble as a byte holding 16 * value; SXTB16 and SXTB16 ROR 8 make the pairs (k0, k4),
 * (k2, k6), (k1, k5), (k3, k7), which is the order the input row is widened in (scratch). The
 * sums are then 16 * dot, exact: |16 * w * x| <= 16384 as for int8, and the exporter checks
 * that 16 * 128 * sum|w| fits int32.
 *
 * Scratch (mcc_fully_connected_int4_s8_get_buffer_size bytes, word aligned): one widened input
 * row. The portable path reads the int8 input directly.
 */
#include <string.h>

#include "mcc.h"
#include "mcc_nn.h"

#if MCC_HAVE_DSP
#include <arm_acle.h>
#endif

#define I4_ROWS 4 /* output rows per pass */

int32_t mcc_fully_connected_int4_s8_get_buffer_size(int32_t k_padded)
{
    return k_padded * (int32_t)sizeof(int16_t);
}

#if MCC_HAVE_DSP
/* One input row of k values widened to int16 pairs (x0, x4), (x2, x6), (x1, x5), (x3, x7) per
 * group of 8, zero padded to k_padded. */
static void widen_row_int4(const int8_t *x, int32_t k, int32_t k_padded, uint32_t *col)
{
    int32_t i;
    for (i = 0; i < k_padded; i += 8) {
        uint32_t a = 0, b = 0;
        if (i + 8 <= k) {
            memcpy(&a, x + i, 4);
            memcpy(&b, x + i + 4, 4);
        } else {
            int32_t j;
            for (j = 0; j < 8 && i + j < k; ++j) {
                if (j < 4) {
                    a |= (uint32_t)(uint8_t)x[i + j] << (8 * j);
                } else {
                    b |= (uint32_t)(uint8_t)x[i + j] << (8 * (j - 4));
                }
            }
        }
        {
            const uint32_t a02 = __sxtb16(a), a13 = mcc_nn_sxtb16_ror8(a);
            const uint32_t b46 = __sxtb16(b), b57 = mcc_nn_sxtb16_ror8(b);
            col[0] = (a02 & 0xFFFFu) | (b46 << 16);
            col[1] = (a02 >> 16) | (b46 & 0xFFFF0000u);
            col[2] = (a13 & 0xFFFFu) | (b57 << 16);
            col[3] = (a13 >> 16) | (b57 & 0xFFFF0000u);
            col += 4;
        }
    }
}

/* acc + the 8 products of weight word w with one widened group (16 times the dot product). */
MCC_INLINE int32_t mac8_int4(uint32_t w, const uint32_t *col, int32_t acc)
{
    const uint32_t lo = (w << 4) & 0xF0F0F0F0u;
    const uint32_t hi = w & 0xF0F0F0F0u;
    acc = __smlad(__sxtb16(lo), col[0], acc);
    acc = __smlad(mcc_nn_sxtb16_ror8(lo), col[1], acc);
    acc = __smlad(__sxtb16(hi), col[2], acc);
    return __smlad(mcc_nn_sxtb16_ror8(hi), col[3], acc);
}
#else
/* 16 times the dot product of one row's packed weights with the int8 input row. */
static int32_t dot_int4(const uint32_t *w, const int8_t *x, int32_t k)
{
    int32_t acc = 0, i;
    for (i = 0; i < k; ++i) {
        const uint32_t word = w[i >> 3];
        const int32_t v = (int32_t)((word >> (4 * (i & 7))) << 28) >> 28;
        acc += v * x[i];
    }
    return acc << 4;
}
#endif

mcc_status mcc_fully_connected_int4_s8(const mcc_fc_fast_params *params, const uint32_t *weights, int32_t rows,
                                       const int8_t *input, int8_t *output, void *scratch)
{
    const int32_t k = params->in_features, units = params->out_features, k_padded = params->k_padded;
    const int32_t words = k_padded >> 3;
    const int32_t lo = params->activation.min, hi = params->activation.max;
    const int32_t *ch = params->channels;
    int32_t r;
    if (k <= 0 || units <= 0 || rows <= 0 || k_padded < k || (k_padded & 7) || weights == 0 || ch == 0 ||
        scratch == 0) {
        return MCC_ERROR_ARGUMENT;
    }
    for (r = 0; r < rows; ++r) {
        const int8_t *x = input + r * k;
        int8_t *out = output + r * units;
        int32_t u = 0;
#if MCC_HAVE_DSP
        uint32_t *col = (uint32_t *)scratch;
        widen_row_int4(x, k, k_padded, col);
        for (; u + I4_ROWS <= units; u += I4_ROWS) {
            const uint32_t *w0 = weights + u * words, *w1 = w0 + words, *w2 = w1 + words, *w3 = w2 + words;
            int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, g;
            for (g = 0; g < words; ++g) {
                const uint32_t *c = col + 4 * g;
                a0 = mac8_int4(w0[g], c, a0);
                a1 = mac8_int4(w1[g], c, a1);
                a2 = mac8_int4(w2[g], c, a2);
                a3 = mac8_int4(w3[g], c, a3);
            }
            out[u] = mcc_nn_fast_requantize(ch[4 * u] + (a0 >> 3), ch[4 * u + 1], ch[4 * u + 2], ch[4 * u + 3], lo, hi);
            out[u + 1] = mcc_nn_fast_requantize(ch[4 * u + 4] + (a1 >> 3), ch[4 * u + 5], ch[4 * u + 6],
                                                ch[4 * u + 7], lo, hi);
            out[u + 2] = mcc_nn_fast_requantize(ch[4 * u + 8] + (a2 >> 3), ch[4 * u + 9], ch[4 * u + 10],
                                                ch[4 * u + 11], lo, hi);
            out[u + 3] = mcc_nn_fast_requantize(ch[4 * u + 12] + (a3 >> 3), ch[4 * u + 13], ch[4 * u + 14],
                                                ch[4 * u + 15], lo, hi);
        }
#endif
        for (; u < units; ++u) {
            const int32_t *c = ch + 4 * u;
#if MCC_HAVE_DSP
            const uint32_t *w = weights + u * words;
            int32_t acc = 0, g;
            for (g = 0; g < words; ++g) {
                acc = mac8_int4(w[g], (const uint32_t *)scratch + 4 * g, acc);
            }
#else
            const int32_t acc = dot_int4(weights + u * words, x, k);
#endif
            out[u] = mcc_nn_fast_requantize(c[0] + (acc >> 3), c[1], c[2], c[3], lo, hi);
        }
    }
    return MCC_OK;
}

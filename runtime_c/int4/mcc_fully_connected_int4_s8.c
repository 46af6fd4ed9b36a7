/* mcc_fully_connected_int4_s8 - fully connected on packed int4 weights (TFLite's INT4: two
 * values per byte, the lower index in the low nibble, -8..7, zero point 0): the same results
 * as mcc_fully_connected_s8 on those values widened to int8 (TFLM double rounding), bit for bit.
 *
 * Data laid out by the exporter (mcucompress/codegen/int4_layout.py):
 *   - K = in_features products per output, padded with zero weights to k_padded (multiple of 8),
 *     8 to a word, product k of a word in bits 4k..4k+3 (the bytes are TFLite's);
 *   - rows in blocks of 4 (the last block the 1-3 rows left), per word position one word per
 *     row of the block, so one pointer walks a block;
 *   - channels: per output row the constants of mcc_fully_connected_fast_s8 {2 * (b +
 *     input_offset * sum(w)), multiplier, round, shift}: the input offset is folded away, the
 *     value requantized is channels[0] + 2 * dot, so the requantization is that kernel's.
 *
 * DSP: a weight word unpacks into four int16 pairs without a shift per value: masking the high
 * nibbles in place (w & 0xF0F0F0F0) and the low ones moved up ((w << 4) & 0xF0F0F0F0) leaves
 * every nibble as a byte holding 16 * value; SXTB16 and SXTB16 ROR 8 make the pairs (k0, k4),
 * (k2, k6), (k1, k5), (k3, k7), the order the input row is widened in (scratch). The sums are
 * 16 * dot, exact: |16 * w * x| <= 16384 as for int8, and the exporter checks that
 * 16 * 128 * sum|w| fits int32.
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
#if MCC_HAVE_MVE
#include <arm_mve.h>
#endif

#define I4_ROWS 4 /* output rows per block */

int32_t mcc_fully_connected_int4_s8_get_buffer_size(int32_t k_padded)
{
    /* DSP: the row widened to int16; MVE: the row split by parity in chunks of 32 */
    return k_padded * (int32_t)sizeof(int16_t) + 32;
}

#if MCC_HAVE_MVE
/* The input row split per chunk of 32 values into its 16 even-indexed then its 16 odd-indexed
 * ones, zero padded to whole chunks: what the low and the high nibbles of 16 weight bytes meet. */
static void split_row_int4(const int8_t *x, int32_t k, int8_t *split)
{
    const int32_t chunks = (k + 31) >> 5;
    int32_t i;
    for (i = 0; i < 32 * chunks; ++i) {
        split[(i & ~31) + ((i & 1) << 4) + ((i & 31) >> 1)] = i < k ? x[i] : 0;
    }
}

/* acc + the 32 products of 4 weight words (16 bytes: low nibbles even products, high ones odd)
 * with one split chunk. */
MCC_INLINE int32_t mac32_mve(int32_t acc, uint32x4_t words, const int8_t *chunk)
{
    const int8x16_t packed = vreinterpretq_s8_u32(words);
    acc = vmladavaq_s8(acc, vldrbq_s8(chunk), vshrq_n_s8(vshlq_n_s8(packed, 4), 4));
    return vmladavaq_s8(acc, vldrbq_s8(chunk + 16), vshrq_n_s8(packed, 4));
}

/* 16 times the dot products of a block of n (1-4) rows with the split row: a gather of 4 words
 * brings 32 consecutive weights of a row (its words are n words apart); whole chunks
 * unpredicated, the last chunk's missing words predicated to zero. */
static void dot_mve_int4(const uint32_t *w, const int8_t *split, int32_t words, int32_t n, int32_t acc[I4_ROWS])
{
    const uint32x4_t off0 = vmulq_n_u32(vidupq_n_u32(0, 4), (uint32_t)n);
    const uint32x4_t off1 = vaddq_n_u32(off0, 4), off2 = vaddq_n_u32(off0, 8), off3 = vaddq_n_u32(off0, 12);
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, c;
    for (c = 0; 4 * c + 4 <= words; ++c) {
        const uint32_t *base = w + 4 * c * n;
        const int8_t *chunk = split + 32 * c;
        a0 = mac32_mve(a0, vldrwq_gather_offset_u32(base, off0), chunk);
        if (n > 1) {
            a1 = mac32_mve(a1, vldrwq_gather_offset_u32(base, off1), chunk);
        }
        if (n > 2) {
            a2 = mac32_mve(a2, vldrwq_gather_offset_u32(base, off2), chunk);
        }
        if (n > 3) {
            a3 = mac32_mve(a3, vldrwq_gather_offset_u32(base, off3), chunk);
        }
    }
    if (4 * c < words) {
        const uint32_t *base = w + 4 * c * n;
        const int8_t *chunk = split + 32 * c;
        const mve_pred16_t p32 = vctp32q((uint32_t)(words - 4 * c));
        a0 = mac32_mve(a0, vldrwq_gather_offset_z_u32(base, off0, p32), chunk);
        if (n > 1) {
            a1 = mac32_mve(a1, vldrwq_gather_offset_z_u32(base, off1, p32), chunk);
        }
        if (n > 2) {
            a2 = mac32_mve(a2, vldrwq_gather_offset_z_u32(base, off2, p32), chunk);
        }
        if (n > 3) {
            a3 = mac32_mve(a3, vldrwq_gather_offset_z_u32(base, off3, p32), chunk);
        }
    }
    acc[0] = a0 * 16;
    acc[1] = a1 * 16;
    acc[2] = a2 * 16;
    acc[3] = a3 * 16;
}
#endif

#if MCC_HAVE_DSP && !MCC_HAVE_MVE
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

/* 16 times the dot products of a block of 4 rows with the widened row, `words` groups. */
static void dot4_int4(const uint32_t *w, const uint32_t *col, int32_t words, int32_t acc[I4_ROWS])
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
#if MCC_HAVE_DSP_ASM
    if (words >= 2) {
        /* Per group one LDM brings the 4 widened pairs, each row's word is split by two ANDs
         * and four SXTB16 into the pairs of 4 SMLAD: 93 instructions per 64 products of the
         * 4 rows with the loop test (two groups an iteration, the end on the stack). */
        register int32_t r0 __asm__("r0") = 0;
        register int32_t r1 __asm__("r1") = 0;
        register int32_t r2 __asm__("r2") = 0;
        register int32_t r3 __asm__("r3") = 0;
        register const uint32_t *rc __asm__("ip") = col;
        register const uint32_t *rw __asm__("lr") = w;
        register const uint32_t *re __asm__("r4") = col + 4 * (words & ~1);
#define MCC_I4_ROW(ACC)                                                                      \
        "ldr r8, [%[w]], #4\n\t"                                                            \
        "and r9, r11, r8, lsl #4\n\t"                                                       \
        "and r8, r8, r11\n\t"                                                               \
        "sxtb16 r10, r9\n\t"                                                                \
        "smlad %[" #ACC "], r10, r4, %[" #ACC "]\n\t"                                        \
        "sxtb16 r9, r9, ror #8\n\t"                                                         \
        "smlad %[" #ACC "], r9, r5, %[" #ACC "]\n\t"                                         \
        "sxtb16 r10, r8\n\t"                                                                \
        "smlad %[" #ACC "], r10, r6, %[" #ACC "]\n\t"                                        \
        "sxtb16 r8, r8, ror #8\n\t"                                                         \
        "smlad %[" #ACC "], r8, r7, %[" #ACC "]\n\t"
#define MCC_I4_GROUP                                                                         \
        "ldm %[c]!, {r4, r5, r6, r7}\n\t"                                                   \
        MCC_I4_ROW(a0) MCC_I4_ROW(a1) MCC_I4_ROW(a2) MCC_I4_ROW(a3)
        __asm__ volatile(
            "push {%[e]}\n\t"
            "mov r11, #0xF0F0F0F0\n\t"
            "1:\n\t" MCC_I4_GROUP MCC_I4_GROUP
            "ldr r8, [sp]\n\t"
            "cmp %[c], r8\n\t"
            "bne 1b\n\t"
            "add sp, sp, #4"
            : [a0] "+r"(r0), [a1] "+r"(r1), [a2] "+r"(r2), [a3] "+r"(r3), [c] "+r"(rc), [w] "+r"(rw),
              [e] "+r"(re)
            :
            : "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory");
#undef MCC_I4_GROUP
#undef MCC_I4_ROW
        a0 = r0;
        a1 = r1;
        a2 = r2;
        a3 = r3;
        col = rc;
        w = rw;
        words &= 1;
    }
#endif
    while (words-- > 0) {
        a0 = mac8_int4(w[0], col, a0);
        a1 = mac8_int4(w[1], col, a1);
        a2 = mac8_int4(w[2], col, a2);
        a3 = mac8_int4(w[3], col, a3);
        w += I4_ROWS;
        col += 4;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}
#endif

#if !MCC_HAVE_DSP
/* Value i of a word of 8 nibbles (one SBFX on ARMv7-M). */
#define I4_VALUE(word, i) ((int32_t)((word) << (28 - 4 * (i))) >> 28)
#define I4_MAC4(i)                                                                          \
    do {                                                                                    \
        const int32_t xi = x[i];                                                            \
        a0 += I4_VALUE(w0, i) * xi;                                                         \
        a1 += I4_VALUE(w1, i) * xi;                                                         \
        a2 += I4_VALUE(w2, i) * xi;                                                         \
        a3 += I4_VALUE(w3, i) * xi;                                                         \
    } while (0)

/* 16 times the dot products of a block of 4 rows with the int8 input row of k values: each
 * input value loaded once for the 4 rows. */
static void dot4_portable(const uint32_t *w, const int8_t *x, int32_t k, int32_t acc[I4_ROWS])
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, i;
    const int8_t *end = x + (k & ~7);
    for (; x != end; x += 8, w += I4_ROWS) {
        const uint32_t w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
        I4_MAC4(0);
        I4_MAC4(1);
        I4_MAC4(2);
        I4_MAC4(3);
        I4_MAC4(4);
        I4_MAC4(5);
        I4_MAC4(6);
        I4_MAC4(7);
    }
    for (i = 0; i < (k & 7); ++i) {
        const int32_t xi = x[i];
        a0 += ((int32_t)((w[0] >> (4 * i)) << 28) >> 28) * xi;
        a1 += ((int32_t)((w[1] >> (4 * i)) << 28) >> 28) * xi;
        a2 += ((int32_t)((w[2] >> (4 * i)) << 28) >> 28) * xi;
        a3 += ((int32_t)((w[3] >> (4 * i)) << 28) >> 28) * xi;
    }
    acc[0] = a0 * 16;
    acc[1] = a1 * 16;
    acc[2] = a2 * 16;
    acc[3] = a3 * 16;
}
#undef I4_MAC4
#undef I4_VALUE
#endif

#if !MCC_HAVE_MVE
/* 16 times the dot product of row j of a block of n rows with the input row. */
static int32_t dot_row_int4(const uint32_t *block, int32_t n, int32_t j, const int8_t *x, const void *col,
                            int32_t k, int32_t words)
{
    int32_t acc = 0, g;
#if MCC_HAVE_DSP
    (void)x;
    (void)k;
    for (g = 0; g < words; ++g) {
        acc = mac8_int4(block[g * n + j], (const uint32_t *)col + 4 * g, acc);
    }
    return acc;
#else
    int32_t i;
    (void)col;
    (void)words;
    for (g = 0; g * 8 < k; ++g) {
        const uint32_t word = block[g * n + j];
        for (i = 0; i < 8 && g * 8 + i < k; ++i) {
            acc += ((int32_t)((word >> (4 * i)) << 28) >> 28) * x[g * 8 + i];
        }
    }
    return acc * 16;
#endif
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
        int32_t u;
#if MCC_HAVE_MVE
        split_row_int4(x, k, (int8_t *)scratch);
#elif MCC_HAVE_DSP
        widen_row_int4(x, k, k_padded, (uint32_t *)scratch);
#endif
        for (u = 0; u < units; u += I4_ROWS) {
            const int32_t n = units - u < I4_ROWS ? units - u : I4_ROWS;
            const uint32_t *block = weights + u * words;
            int32_t acc[I4_ROWS], j;
#if MCC_HAVE_MVE
            dot_mve_int4(block, (const int8_t *)scratch, words, n, acc);
#else
            if (n == I4_ROWS) {
#if MCC_HAVE_DSP
                dot4_int4(block, (const uint32_t *)scratch, words, acc);
#else
                dot4_portable(block, x, k, acc);
#endif
            } else {
                for (j = 0; j < n; ++j) {
                    acc[j] = dot_row_int4(block, n, j, x, scratch, k, words);
                }
            }
#endif
            for (j = 0; j < n; ++j) {
                const int32_t *c = ch + 4 * (u + j);
                out[u + j] = mcc_nn_fast_requantize(c[0] + (acc[j] >> 3), c[1], c[2], c[3], lo, hi);
            }
        }
    }
    return MCC_OK;
}

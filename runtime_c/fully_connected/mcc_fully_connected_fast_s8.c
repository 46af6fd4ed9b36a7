/* mcc_fully_connected_fast_s8 - int8 fully connected on weights kept one byte each, laid out
 * at export time (mcucompress/codegen/specialize.py): the same results as
 * mcc_fully_connected_s8 (filter zero point 0, TFLM double rounding), bit for bit.
 *
 * Data laid out by the exporter:
 *   - K = in_features products per output, padded with zero weights to k_padded (multiple of 4).
 *   - weights: int8, output rows in blocks of 4 (the last block holds the 1-3 rows left); inside
 *     a block of r rows, per group of 4 products, one word per row: [row 0: k0-3][row 1: k0-3]
 *     ... so one LDM brings the next 4 weights of every row of the block. Inside a word the
 *     weights stay in order: SXTB16 makes (k0, k2) of it and SXTB16(ROR 8) (k1, k3), which is
 *     what the widened input holds, so no run-time shuffling.
 *   - channels: per output row {2 * (b + input_offset * sum(w)), multiplier,
 *     2^(shift-1) + (output_offset << shift), shift}, the mcc_conv2d_fast_s8 constants.
 * Requantization: the value requantized is 2 * dot + channels[0] (one ADD with a shifted
 * operand), the very integer mcc_conv2d_fast_s8 accumulates on its doubled weights
 * (sum 2w * x + 2 * folded bias), so SMMLAR and the rounding shift give TFLite's double
 * rounding exactly as proved there; the exporter checks 2 * (128 * sum|w| + |folded|) fits
 * int32, which bounds that value and every partial sum.
 *
 * The scratch buffer (mcc_fully_connected_fast_s8_get_buffer_size bytes, word aligned) holds
 * one input row widened to int16 once: per group of 4 values (x0, x2), (x1, x3).
 *
 * MVE reads the int8 input directly (no widening): a gather of 4 words brings 16 consecutive
 * weights of one row (its words are `rows of the block` words apart), VMLADAVA.S8 sums 16
 * products; tails are predicated (zeroed lanes, no read past the input or the weights).
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

#define FC_BLOCK 4 /* output rows per pass */

int32_t mcc_fully_connected_fast_s8_get_buffer_size(int32_t k_padded)
{
    return k_padded * (int32_t)sizeof(int16_t);
}

/* Requantize 2 * dot + doubled bias with the row's {bias, multiplier, round, shift}. */
MCC_INLINE int8_t requantize_row(int32_t dot, const int32_t *ch, int32_t lo, int32_t hi)
{
    return mcc_nn_fast_requantize(ch[0] + (int32_t)((uint32_t)dot << 1), ch[1], ch[2], ch[3], lo, hi);
}

/* Word i of 4 int8 values as (v0, v2) and (v1, v3) int16 pairs. */
MCC_INLINE uint32_t lo_pair(uint32_t v)
{
#if MCC_HAVE_DSP
    return __sxtb16(v);
#else
    return (uint32_t)(uint16_t)(int16_t)(int8_t)(v & 0xFF) |
           ((uint32_t)(uint16_t)(int16_t)(int8_t)((v >> 16) & 0xFF) << 16);
#endif
}

MCC_INLINE uint32_t hi_pair(uint32_t v)
{
#if MCC_HAVE_DSP
    return mcc_nn_sxtb16_ror8(v);
#else
    return lo_pair(v >> 8);
#endif
}

/* sum of the two int16 products of a and b, plus acc (SMLAD). */
MCC_INLINE int32_t dual_mac(uint32_t a, uint32_t b, int32_t acc)
{
#if MCC_HAVE_DSP
    return __smlad(a, b, acc);
#else
    return acc + (int16_t)(a & 0xFFFF) * (int16_t)(b & 0xFFFF) + (int16_t)(a >> 16) * (int16_t)(b >> 16);
#endif
}

/* Widens one input row of k values into (x0, x2), (x1, x3) per group of 4, zero padded. */
MCC_INLINE void widen_row(const int8_t *x, int32_t k, int32_t k_padded, uint32_t *col)
{
    int32_t i;
    for (i = 0; i + 4 <= k; i += 4) {
        uint32_t v;
        memcpy(&v, x + i, 4);
        col[0] = lo_pair(v);
        col[1] = hi_pair(v);
        col += 2;
    }
    if (i < k_padded) {
        uint32_t v = 0;
        int32_t j;
        for (j = 0; i + j < k; ++j) {
            v |= (uint32_t)(uint8_t)x[i + j] << (8 * j);
        }
        col[0] = lo_pair(v);
        col[1] = hi_pair(v);
    }
}

/* Dot products of a block of 4 rows with the widened row over `groups` groups of 4. */
MCC_INLINE void dot4(const uint32_t *w, const uint32_t *col, int32_t groups, int32_t acc[FC_BLOCK])
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    const uint32_t *end = col + 2 * groups;
#if MCC_HAVE_DSP_ASM
    if (groups >= 2) {
        /* The hot loop, registers chosen by hand: per group one LDRD brings the widened input
         * pairs, one LDM the 4 rows' weight words; each word is split by SXTB16 / SXTB16 ROR 8
         * into a scratch register and itself, feeding 2 SMLAD: 38 instructions per 32 products
         * per row block with the loop test (two groups per iteration). */
        register int32_t r0 __asm__("r0") = a0;
        register int32_t r1 __asm__("r1") = a1;
        register int32_t r2 __asm__("r2") = a2;
        register int32_t r3 __asm__("r3") = a3;
        register const uint32_t *rc __asm__("ip") = col;
        register const uint32_t *rw __asm__("lr") = w;
        register const uint32_t *re __asm__("r11") = col + 2 * (groups & ~1);
#define MCC_FC_GROUP                                                                        \
        "ldrd r4, r5, [%[c]], #8\n\t"                                                      \
        "ldm %[w]!, {r6, r7, r8, r9}\n\t"                                                  \
        "sxtb16 r10, r6\n\t"                                                               \
        "sxtb16 r6, r6, ror #8\n\t"                                                        \
        "smlad %[a0], r4, r10, %[a0]\n\t"                                                  \
        "smlad %[a0], r5, r6, %[a0]\n\t"                                                   \
        "sxtb16 r10, r7\n\t"                                                               \
        "sxtb16 r7, r7, ror #8\n\t"                                                        \
        "smlad %[a1], r4, r10, %[a1]\n\t"                                                  \
        "smlad %[a1], r5, r7, %[a1]\n\t"                                                   \
        "sxtb16 r10, r8\n\t"                                                               \
        "sxtb16 r8, r8, ror #8\n\t"                                                        \
        "smlad %[a2], r4, r10, %[a2]\n\t"                                                  \
        "smlad %[a2], r5, r8, %[a2]\n\t"                                                   \
        "sxtb16 r10, r9\n\t"                                                               \
        "sxtb16 r9, r9, ror #8\n\t"                                                        \
        "smlad %[a3], r4, r10, %[a3]\n\t"                                                  \
        "smlad %[a3], r5, r9, %[a3]\n\t"
        __asm__ volatile(
            "1:\n\t" MCC_FC_GROUP MCC_FC_GROUP
            "cmp %[c], %[e]\n\t"
            "bne 1b"
            : [a0] "+r"(r0), [a1] "+r"(r1), [a2] "+r"(r2), [a3] "+r"(r3), [c] "+r"(rc), [w] "+r"(rw)
            : [e] "r"(re)
            : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "cc", "memory");
#undef MCC_FC_GROUP
        a0 = r0;
        a1 = r1;
        a2 = r2;
        a3 = r3;
        col = rc;
        w = rw;
    }
#endif
#if MCC_HAVE_V6M_ASM
    if (groups > 0) {
        /* ARMv6-M: per group the 4 widened inputs are split into x0-x3 once, then each row's
         * weight word gives its 4 bytes sign-extended (SXTB; LSLS+ASRS; ASRS) to 4 MULS: 70
         * instructions per 16 products. MULS needs low registers, so the sums and the column
         * pointer wait in high ones. */
        register int32_t r_a0 __asm__("r8") = a0;
        register int32_t r_a1 __asm__("r9") = a1;
        register int32_t r_a2 __asm__("r10") = a2;
        register int32_t r_a3 __asm__("r11") = a3;
        register const uint32_t *r_col __asm__("ip") = col;
        register const uint32_t *r_end __asm__("lr") = end;
        register const uint32_t *r_w __asm__("r0") = w;
        register uint32_t x0 __asm__("r1");
        register uint32_t x1 __asm__("r2");
        register uint32_t x2 __asm__("r3");
        register uint32_t x3 __asm__("r4");
        register uint32_t t __asm__("r5");
        register uint32_t wv __asm__("r6");
#define MCC_FC_V6M_ROW(OFFSET, ACC)                                                              \
    "ldr %[wv], [%[w], #" #OFFSET "]\n\t"                                                        \
    "sxtb %[t], %[wv]\n\t"                                                                      \
    "muls %[t], %[x0]\n\t"                                                                      \
    "add %[" #ACC "], %[t]\n\t"                                                                 \
    "lsls %[t], %[wv], #16\n\t"                                                                 \
    "asrs %[t], %[t], #24\n\t"                                                                  \
    "muls %[t], %[x1]\n\t"                                                                      \
    "add %[" #ACC "], %[t]\n\t"                                                                 \
    "lsls %[t], %[wv], #8\n\t"                                                                  \
    "asrs %[t], %[t], #24\n\t"                                                                  \
    "muls %[t], %[x2]\n\t"                                                                      \
    "add %[" #ACC "], %[t]\n\t"                                                                 \
    "asrs %[t], %[wv], #24\n\t"                                                                 \
    "muls %[t], %[x3]\n\t"                                                                      \
    "add %[" #ACC "], %[t]\n\t"
        __asm__ volatile(
            ".syntax unified\n\t" /* GCC hands Thumb-1 inline assembly over as divided syntax */
            "1:\n\t"
            "mov %[t], %[col]\n\t"
            "ldr %[wv], [%[t], #0]\n\t"
            "sxth %[x0], %[wv]\n\t"
            "asrs %[x2], %[wv], #16\n\t"
            "ldr %[wv], [%[t], #4]\n\t"
            "sxth %[x1], %[wv]\n\t"
            "asrs %[x3], %[wv], #16\n\t"
            "adds %[t], #8\n\t"
            "mov %[col], %[t]\n\t"
            MCC_FC_V6M_ROW(0, a0) MCC_FC_V6M_ROW(4, a1) MCC_FC_V6M_ROW(8, a2) MCC_FC_V6M_ROW(12, a3)
            "adds %[w], #16\n\t"
            "cmp %[col], %[end]\n\t"
            "bne 1b"
            : [a0] "+r"(r_a0), [a1] "+r"(r_a1), [a2] "+r"(r_a2), [a3] "+r"(r_a3), [col] "+r"(r_col),
              [w] "+r"(r_w), [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2), [x3] "=&r"(x3), [t] "=&r"(t),
              [wv] "=&r"(wv)
            : [end] "r"(r_end)
            : "cc", "memory");
#undef MCC_FC_V6M_ROW
        a0 = r_a0;
        a1 = r_a1;
        a2 = r_a2;
        a3 = r_a3;
        col = r_col;
        w = r_w;
    }
#endif
    while (col != end) {
        const uint32_t x02 = col[0];
        const uint32_t x13 = col[1];
        const uint32_t w0 = w[0];
        const uint32_t w1 = w[1];
        const uint32_t w2 = w[2];
        const uint32_t w3 = w[3];
        a0 = dual_mac(x02, lo_pair(w0), a0);
        a0 = dual_mac(x13, hi_pair(w0), a0);
        a1 = dual_mac(x02, lo_pair(w1), a1);
        a1 = dual_mac(x13, hi_pair(w1), a1);
        a2 = dual_mac(x02, lo_pair(w2), a2);
        a2 = dual_mac(x13, hi_pair(w2), a2);
        a3 = dual_mac(x02, lo_pair(w3), a3);
        a3 = dual_mac(x13, hi_pair(w3), a3);
        col += 2;
        w += 4;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

#if MCC_HAVE_MVE
/* Dot products of a block of n (1-4) rows with the int8 input row x of k values: whole chunks of
 * 16 inputs unpredicated, then one predicated chunk for the rest (GCC 12 moves the predicate
 * through a core register around every predicated load, so the main loop avoids them). */
MCC_INLINE void dot_mve(const uint32_t *w, const int8_t *x, int32_t k, int32_t groups, int32_t n,
                        int32_t acc[FC_BLOCK])
{
    /* Byte offsets of row j's words for 4 consecutive groups: 4j + {0, 4n, 8n, 12n}. */
    const uint32x4_t off0 = vmulq_n_u32(vidupq_n_u32(0, 4), (uint32_t)n);
    const uint32x4_t off1 = vaddq_n_u32(off0, 4);
    const uint32x4_t off2 = vaddq_n_u32(off0, 8);
    const uint32x4_t off3 = vaddq_n_u32(off0, 12);
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    int32_t g;
    for (g = 0; 4 * g + 16 <= k; g += 4) {
        const int8x16_t xv = vldrbq_s8(x + 4 * g);
        const uint32_t *base = w + g * n;
        a0 = vmladavaq_s8(a0, xv, vreinterpretq_s8_u32(vldrwq_gather_offset_u32(base, off0)));
        if (n > 1) {
            a1 = vmladavaq_s8(a1, xv, vreinterpretq_s8_u32(vldrwq_gather_offset_u32(base, off1)));
        }
        if (n > 2) {
            a2 = vmladavaq_s8(a2, xv, vreinterpretq_s8_u32(vldrwq_gather_offset_u32(base, off2)));
        }
        if (n > 3) {
            a3 = vmladavaq_s8(a3, xv, vreinterpretq_s8_u32(vldrwq_gather_offset_u32(base, off3)));
        }
    }
    if (g < groups) {
        const mve_pred16_t p32 = vctp32q((uint32_t)(groups - g));
        const int8x16_t xv = vldrbq_z_s8(x + 4 * g, vctp8q((uint32_t)(k - 4 * g)));
        const uint32_t *base = w + g * n;
        a0 = vmladavaq_s8(a0, xv, vreinterpretq_s8_u32(vldrwq_gather_offset_z_u32(base, off0, p32)));
        if (n > 1) {
            a1 = vmladavaq_s8(a1, xv, vreinterpretq_s8_u32(vldrwq_gather_offset_z_u32(base, off1, p32)));
        }
        if (n > 2) {
            a2 = vmladavaq_s8(a2, xv, vreinterpretq_s8_u32(vldrwq_gather_offset_z_u32(base, off2, p32)));
        }
        if (n > 3) {
            a3 = vmladavaq_s8(a3, xv, vreinterpretq_s8_u32(vldrwq_gather_offset_z_u32(base, off3, p32)));
        }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}
#endif

/* Dot products of a block of n (1-3) rows: per group n consecutive words. */
MCC_INLINE void dot_tail(const uint32_t *w, const uint32_t *col, int32_t groups, int32_t n,
                         int32_t acc[FC_BLOCK])
{
    int32_t g, r;
    for (r = 0; r < n; ++r) {
        acc[r] = 0;
    }
    for (g = 0; g < groups; ++g) {
        for (r = 0; r < n; ++r) {
            acc[r] = dual_mac(col[0], lo_pair(w[r]), acc[r]);
            acc[r] = dual_mac(col[1], hi_pair(w[r]), acc[r]);
        }
        col += 2;
        w += n;
    }
}

/* Requantizes a block of n rows' dot products into out (row constants 4 words apart); a whole
 * block unrolled. */
MCC_INLINE void requantize_rows(const int32_t *acc, int32_t n, const int32_t *ch, int32_t lo, int32_t hi,
                                int8_t *out)
{
    int32_t r;
    if (n == FC_BLOCK) {
        out[0] = requantize_row(acc[0], ch, lo, hi);
        out[1] = requantize_row(acc[1], ch + 4, lo, hi);
        out[2] = requantize_row(acc[2], ch + 8, lo, hi);
        out[3] = requantize_row(acc[3], ch + 12, lo, hi);
        return;
    }
    for (r = 0; r < n; ++r) {
        out[r] = requantize_row(acc[r], ch + 4 * r, lo, hi);
    }
}

/* Dot products of a block of n (1-4) rows of int16 weights (mcc_fully_connected_fast_w16_s8) with
 * the widened row: per group of 4 inputs, per row, the words (w0, w2) and (w1, w3). */
MCC_INLINE void dot_w16(const uint32_t *w, const uint32_t *col, int32_t groups, int32_t n,
                        int32_t acc[FC_BLOCK])
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    const uint32_t *end = col + 2 * groups;
#if MCC_HAVE_DSP_ASM
    if (n == FC_BLOCK && groups >= 2) {
        /* Per group one LDRD brings the widened inputs, two LDMs the 4 rows' 8 weight words,
         * 8 SMLAD: 24 instructions per 32 products of each row with the loop test (two groups
         * an iteration; an odd last group is left to the loop below). */
        register int32_t r0 __asm__("r0") = 0;
        register int32_t r1 __asm__("r1") = 0;
        register int32_t r2 __asm__("r2") = 0;
        register int32_t r3 __asm__("r3") = 0;
        register const uint32_t *rc __asm__("ip") = col;
        register const uint32_t *rw __asm__("lr") = w;
        register const uint32_t *re __asm__("r10") = col + 2 * (groups & ~1);
#define MCC_FC_W16_GROUP                                                                    \
        "ldrd r4, r5, [%[c]], #8\n\t"                                                      \
        "ldm %[w]!, {r6, r7, r8, r9}\n\t"                                                  \
        "smlad %[a0], r4, r6, %[a0]\n\t"                                                   \
        "smlad %[a0], r5, r7, %[a0]\n\t"                                                   \
        "smlad %[a1], r4, r8, %[a1]\n\t"                                                   \
        "smlad %[a1], r5, r9, %[a1]\n\t"                                                   \
        "ldm %[w]!, {r6, r7, r8, r9}\n\t"                                                  \
        "smlad %[a2], r4, r6, %[a2]\n\t"                                                   \
        "smlad %[a2], r5, r7, %[a2]\n\t"                                                   \
        "smlad %[a3], r4, r8, %[a3]\n\t"                                                   \
        "smlad %[a3], r5, r9, %[a3]\n\t"
        __asm__ volatile(
            "1:\n\t" MCC_FC_W16_GROUP MCC_FC_W16_GROUP
            "cmp %[c], %[e]\n\t"
            "bne 1b"
            : [a0] "+r"(r0), [a1] "+r"(r1), [a2] "+r"(r2), [a3] "+r"(r3), [c] "+r"(rc), [w] "+r"(rw)
            : [e] "r"(re)
            : "r4", "r5", "r6", "r7", "r8", "r9", "cc", "memory");
#undef MCC_FC_W16_GROUP
        a0 = r0;
        a1 = r1;
        a2 = r2;
        a3 = r3;
        col = rc;
        w = rw;
    }
#endif
    for (; col != end; col += 2) {
        const uint32_t x02 = col[0];
        const uint32_t x13 = col[1];
        a0 = dual_mac(x13, w[1], dual_mac(x02, w[0], a0));
        if (n > 1) {
            a1 = dual_mac(x13, w[3], dual_mac(x02, w[2], a1));
        }
        if (n > 2) {
            a2 = dual_mac(x13, w[5], dual_mac(x02, w[4], a2));
        }
        if (n > 3) {
            a3 = dual_mac(x13, w[7], dual_mac(x02, w[6], a3));
        }
        w += 2 * n;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* mcc_fully_connected_fast_w16_s8's body (runtime_c/fully_connected/
 * mcc_fully_connected_fast_w16_s8.c): the int8 kernel's loops on int16 weights, so a group of 4
 * products of a row is two SMLAD on words read as they are (no SXTB16). */
mcc_status mcc_nn_fully_connected_fast_w16(const mcc_fc_fast_params *params, int32_t rows,
                                           const int8_t *input, int8_t *output, void *scratch)
{
    const int32_t k = params->in_features;
    const int32_t units = params->out_features;
    const int32_t groups = params->k_padded >> 2;
    const int32_t lo = params->activation.min;
    const int32_t hi = params->activation.max;
    uint32_t *col = (uint32_t *)scratch;
    int32_t row;

    if ((params->k_padded & 3) != 0 || params->k_padded < k || k <= 0 || units <= 0 || rows < 0) {
        return MCC_ERROR_ARGUMENT;
    }
    for (row = 0; row < rows; ++row) {
        const uint32_t *w = (const uint32_t *)(const void *)params->weights;
        const int32_t *ch = params->channels;
        int32_t u;
        widen_row(input + row * k, k, params->k_padded, col);
        for (u = 0; u + FC_BLOCK <= units; u += FC_BLOCK) {
            int32_t acc[FC_BLOCK];
            dot_w16(w, col, groups, FC_BLOCK, acc);
            requantize_rows(acc, FC_BLOCK, ch, lo, hi, output + u);
            w += 2 * FC_BLOCK * groups;
            ch += 4 * FC_BLOCK;
        }
        if (u < units) {
            int32_t acc[FC_BLOCK];
            dot_w16(w, col, groups, units - u, acc);
            requantize_rows(acc, units - u, ch, lo, hi, output + u);
        }
        output += units;
    }
    return MCC_OK;
}

mcc_status mcc_fully_connected_fast_s8(const mcc_fc_fast_params *params, int32_t rows,
                                       const int8_t *input, int8_t *output, void *scratch)
{
    const int32_t k = params->in_features;
    const int32_t units = params->out_features;
    const int32_t groups = params->k_padded >> 2;
    const int32_t lo = params->activation.min;
    const int32_t hi = params->activation.max;
    uint32_t *col = (uint32_t *)scratch;
    int32_t row;

    if ((params->k_padded & 3) != 0 || params->k_padded < k || k <= 0 || units <= 0 || rows < 0) {
        return MCC_ERROR_ARGUMENT;
    }
    for (row = 0; row < rows; ++row) {
        const uint32_t *w = (const uint32_t *)(const void *)params->weights;
        const int32_t *ch = params->channels;
        int32_t u;
#if MCC_HAVE_MVE
        const int8_t *x = input + row * k;
        (void)col;
#else
        widen_row(input + row * k, k, params->k_padded, col);
#endif
        for (u = 0; u + FC_BLOCK <= units; u += FC_BLOCK) {
            int32_t acc[FC_BLOCK];
#if MCC_HAVE_MVE
            dot_mve(w, x, k, groups, FC_BLOCK, acc);
#else
            dot4(w, col, groups, acc);
#endif
            output[u] = requantize_row(acc[0], ch, lo, hi);
            output[u + 1] = requantize_row(acc[1], ch + 4, lo, hi);
            output[u + 2] = requantize_row(acc[2], ch + 8, lo, hi);
            output[u + 3] = requantize_row(acc[3], ch + 12, lo, hi);
            w += FC_BLOCK * groups;
            ch += 4 * FC_BLOCK;
        }
        if (u < units) {
            const int32_t n = units - u;
            int32_t acc[FC_BLOCK];
            int32_t r;
#if MCC_HAVE_MVE
            dot_mve(w, x, k, groups, n, acc);
#else
            dot_tail(w, col, groups, n, acc);
#endif
            for (r = 0; r < n; ++r) {
                output[u + r] = requantize_row(acc[r], ch + 4 * r, lo, hi);
            }
        }
        output += units;
    }
    return MCC_OK;
}

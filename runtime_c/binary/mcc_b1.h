/* mcc_b1.h - internal helpers of the binary (XNOR-popcount) kernels; not public API.
 *
 * Packed bits sit in the int8 arena as little-endian 32-bit words (see mcc.h); they are read and
 * written through memcpy, which compiles to one LDR/STR on Cortex-M3/M4/M7/M55 and keeps the
 * code free of aliasing assumptions about the arena.
 *
 * Cortex-M has no popcount instruction, so three plain-C row routines are offered, chosen at
 * export (params->popcount): SWAR bit slicing, a 256-entry byte table, and Harley-Seal carry-save
 * accumulation that compresses 8 words into one popcount. On cores with MVE (Cortex-M55) the
 * row routines use a vectorized SWAR count instead, whichever routine was chosen. Binary fully
 * connected layers usually skip row popcounts altogether: see mcc_fully_connected_vertical_b1.c.
 */
#ifndef MCC_B1_H
#define MCC_B1_H

#include <string.h>

#include "mcc.h"

#if MCC_HAVE_MVE
#include <arm_mve.h>
#endif

MCC_INLINE uint32_t mcc_b1_load(const int8_t *bytes)
{
    uint32_t word;
    memcpy(&word, bytes, sizeof word);
    return word;
}

MCC_INLINE void mcc_b1_store(int8_t *bytes, uint32_t word)
{
    memcpy(bytes, &word, sizeof word);
}

/* Bit-sliced popcount: 2-bit, then 4-bit, then 8-bit partial sums, bytes summed by a multiply. */
MCC_INLINE int32_t mcc_b1_popcount_swar(uint32_t x)
{
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    x = (x + (x >> 4)) & 0x0F0F0F0Fu;
    return (int32_t)((x * 0x01010101u) >> 24);
}

static const uint8_t mcc_b1_byte_bits[256] = {
#define MCC_B1_B2(n) n, n + 1, n + 1, n + 2
#define MCC_B1_B4(n) MCC_B1_B2(n), MCC_B1_B2(n + 1), MCC_B1_B2(n + 1), MCC_B1_B2(n + 2)
#define MCC_B1_B6(n) MCC_B1_B4(n), MCC_B1_B4(n + 1), MCC_B1_B4(n + 1), MCC_B1_B4(n + 2)
    MCC_B1_B6(0), MCC_B1_B6(1), MCC_B1_B6(1), MCC_B1_B6(2)
#undef MCC_B1_B6
#undef MCC_B1_B4
#undef MCC_B1_B2
};

MCC_INLINE int32_t mcc_b1_popcount_table(uint32_t x)
{
    return (int32_t)mcc_b1_byte_bits[x & 0xFFu] + mcc_b1_byte_bits[(x >> 8) & 0xFFu] +
           mcc_b1_byte_bits[(x >> 16) & 0xFFu] + mcc_b1_byte_bits[x >> 24];
}

/* Carry-save adder: adds three bit vectors into a sum and a carry vector, bit by bit. */
#define MCC_B1_CSA(carry, sum, a, b, c)            \
    do {                                           \
        const uint32_t mcc_u_ = (a) ^ (b);         \
        (carry) = ((a) & (b)) | (mcc_u_ & (c));    \
        (sum) = mcc_u_ ^ (c);                      \
    } while (0)

/* One packed word of a XOR w (masked by m for ternary weights). */
#define MCC_B1_WORD(k) (m != 0 ? (mcc_b1_load(a + 4 * (k)) ^ w[k]) & m[k] : mcc_b1_load(a + 4 * (k)) ^ w[k])

/* Harley-Seal: popcount of (a[k] ^ w[k]) & m[k] over `words` words (m == NULL: no mask). A tree
 * of carry-save adders turns 8 words into bit vectors of weight 1, 2, 4 and 8, so only the
 * eights vector is counted per block; the others are counted once at the end. */
MCC_INLINE int32_t mcc_b1_row_csa(const int8_t *a, const uint32_t *w, const uint32_t *m,
                                  int32_t words)
{
    uint32_t ones = 0, twos = 0, fours = 0, twos_a, twos_b, fours_a, fours_b, eights;
    int32_t total = 0;
    int32_t k = 0;
    for (; k + 8 <= words; k += 8) {
        MCC_B1_CSA(twos_a, ones, ones, MCC_B1_WORD(k), MCC_B1_WORD(k + 1));
        MCC_B1_CSA(twos_b, ones, ones, MCC_B1_WORD(k + 2), MCC_B1_WORD(k + 3));
        MCC_B1_CSA(fours_a, twos, twos, twos_a, twos_b);
        MCC_B1_CSA(twos_a, ones, ones, MCC_B1_WORD(k + 4), MCC_B1_WORD(k + 5));
        MCC_B1_CSA(twos_b, ones, ones, MCC_B1_WORD(k + 6), MCC_B1_WORD(k + 7));
        MCC_B1_CSA(fours_b, twos, twos, twos_a, twos_b);
        MCC_B1_CSA(eights, fours, fours, fours_a, fours_b);
        total += mcc_b1_popcount_swar(eights);
    }
    total = 8 * total + 4 * mcc_b1_popcount_swar(fours) + 2 * mcc_b1_popcount_swar(twos) +
            mcc_b1_popcount_swar(ones);
    for (; k < words; ++k) {
        total += mcc_b1_popcount_swar(MCC_B1_WORD(k));
    }
    return total;
}

/* SWAR with the byte sums deferred: per word only the 2- and 4-bit stages run, byte counts
 * (at most 8 each) accumulate for up to 31 words before one horizontal sum. */
MCC_INLINE int32_t mcc_b1_row_swar(const int8_t *a, const uint32_t *w, const uint32_t *m,
                                   int32_t words)
{
    int32_t total = 0;
    int32_t k = 0;
    while (k < words) {
        const int32_t end = words - k > 31 ? k + 31 : words;
        uint32_t bytes = 0;
        for (; k < end; ++k) {
            uint32_t x = MCC_B1_WORD(k);
            x = x - ((x >> 1) & 0x55555555u);
            x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
            bytes += (x + (x >> 4)) & 0x0F0F0F0Fu;
        }
        bytes = (bytes & 0x00FF00FFu) + ((bytes >> 8) & 0x00FF00FFu);
        total += (int32_t)((bytes + (bytes >> 16)) & 0xFFFFu);
    }
    return total;
}

#if MCC_HAVE_MVE
/* 16 bytes at a time: per-byte SWAR counts, summed across the vector into the total. */
MCC_INLINE int32_t mcc_b1_row_mve(const int8_t *a, const uint32_t *w, const uint32_t *m,
                                  int32_t words)
{
    uint32_t total = 0;
    int32_t k = 0;
    for (; k + 4 <= words; k += 4) {
        uint8x16_t v = veorq_u8(vldrbq_u8((const uint8_t *)(const void *)(a + 4 * k)),
                                vreinterpretq_u8_u32(vldrwq_u32(w + k)));
        if (m != 0) {
            v = vandq_u8(v, vreinterpretq_u8_u32(vldrwq_u32(m + k)));
        }
        v = vsubq_u8(v, vandq_u8(vshrq_n_u8(v, 1), vdupq_n_u8(0x55)));
        v = vaddq_u8(vandq_u8(v, vdupq_n_u8(0x33)), vandq_u8(vshrq_n_u8(v, 2), vdupq_n_u8(0x33)));
        v = vandq_u8(vaddq_u8(v, vshrq_n_u8(v, 4)), vdupq_n_u8(0x0F));
        total = vaddvaq_u8(total, v);
    }
    for (; k < words; ++k) {
        total += (uint32_t)mcc_b1_popcount_swar(MCC_B1_WORD(k));
    }
    return (int32_t)total;
}
#endif

/* Sum over k < words of popcount((a[k] ^ w[k]) & m[k]) (m NULL: no mask), with the chosen routine. */
MCC_INLINE int32_t mcc_b1_row(const int8_t *a, const uint32_t *w, const uint32_t *m, int32_t words,
                              int32_t method)
{
    int32_t total = 0;
    int32_t k;
#if MCC_HAVE_MVE
    (void)method;
    (void)k;
    total = mcc_b1_row_mve(a, w, m, words);
#else
    if (method == MCC_POPCOUNT_CSA) {
        return mcc_b1_row_csa(a, w, m, words);
    }
    if (method == MCC_POPCOUNT_TABLE) {
        for (k = 0; k < words; ++k) {
            total += mcc_b1_popcount_table(MCC_B1_WORD(k));
        }
        return total;
    }
    (void)k;
    total = mcc_b1_row_swar(a, w, m, words);
#endif
    return total;
}

/* Index of the lowest set bit of x (x != 0). */
MCC_INLINE int32_t mcc_b1_lowest_bit(uint32_t x)
{
#if defined(__GNUC__)
    return __builtin_ctz(x); /* RBIT + CLZ on Armv7-M */
#else
    /* de Bruijn sequence 0x077CB531: the top 5 bits of (lowest bit * sequence) are unique */
    static const uint8_t position[32] = {0,  1,  28, 2,  29, 14, 24, 3,  30, 22, 20,
                                         15, 25, 17, 4,  8,  31, 27, 13, 23, 21, 19,
                                         16, 7,  26, 12, 18, 6,  11, 5,  10, 9};
    return position[((x & (0u - x)) * 0x077CB531u) >> 27];
#endif
}

/* Popcount of a constant word array (the mask plane of ternary weights). */
MCC_INLINE int32_t mcc_b1_count(const uint32_t *m, int32_t words)
{
    int32_t total = 0;
    int32_t k;
    for (k = 0; k < words; ++k) {
        total += mcc_b1_popcount_swar(m[k]);
    }
    return total;
}

/* The dot product of `words` packed words of +-1 activations (n valid bits) with binary weights
 * (planes = 1), k-bit weights as `planes` sign planes (plane b weighing 2^b), or ternary weights
 * as a sign plane w and a mask plane w + words. */
MCC_INLINE int32_t mcc_b1_dot(const int8_t *a, const uint32_t *w, int32_t words, int32_t n,
                              int32_t ternary, int32_t planes, int32_t method)
{
    int32_t dot = 0;
    int32_t b;
    if (ternary) {
        return mcc_b1_count(w + words, words) - 2 * mcc_b1_row(a, w, w + words, words, method);
    }
    if (planes == 1) {
        return n - 2 * mcc_b1_row(a, w, 0, words, method);
    }
    for (b = planes - 1; b >= 0; --b) { /* Horner: highest plane first */
        dot = 2 * dot + n - 2 * mcc_b1_row(a, w + b * words, 0, words, method);
    }
    return dot;
}

#endif /* MCC_B1_H */

/* mcc_nn.h - internal fixed-point helpers shared by the kernels (not public API).
 *
 * Mirrors mcucompress/quantize/fixedpoint.py line by line: both must change together.
 */
#ifndef MCC_NN_H
#define MCC_NN_H

#include <stdint.h>

#include "mcc.h"

#define MCC_NN_INT32_MIN (-2147483647 - 1)
#define MCC_NN_INT32_MAX 2147483647

/* Index arithmetic of the portable kernels: 64-bit, so that no product of dimensions overflows on
 * a host; 32-bit on ARMv6-M, where every 64-bit product is a library call (an MCU's tensors are
 * far below 2^31 bytes). */
#if MCC_HAVE_V6M
typedef int32_t mcc_nn_index;
#else
typedef int64_t mcc_nn_index;
#endif

/* mcc_conv2d_fast_w8_s8's body, beside mcc_conv2d_fast_s8 in conv/mcc_conv2d_fast_s8.c, whose
 * im2col and requantization it shares. */
mcc_status mcc_nn_conv2d_fast_w8(const mcc_conv_fast_params *params, const mcc_dims *input_dims,
                                 const int8_t *input, const mcc_dims *output_dims, int8_t *output,
                                 void *scratch);

/* mcc_fully_connected_fast_w16_s8's body, beside mcc_fully_connected_fast_s8 in
 * fully_connected/mcc_fully_connected_fast_s8.c, whose input widening and requantization it shares. */
mcc_status mcc_nn_fully_connected_fast_w16(const mcc_fc_fast_params *params, int32_t rows,
                                           const int8_t *input, int8_t *output, void *scratch);

MCC_INLINE int32_t mcc_nn_clamp(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* The largest of the n values of row (-128 when n <= 0). */
MCC_INLINE int32_t mcc_nn_row_max(const int8_t *row, int32_t n)
{
    int32_t c;
    int32_t max_value = -128;
    for (c = 0; c < n; ++c) {
        max_value = row[c] > max_value ? row[c] : max_value;
    }
    return max_value;
}

/* gemmlowp SaturatingRoundingDoublingHighMul. */
/* The input rows (or columns) [*start, *end) a pooling window at output index o covers, with the
 * padding cut off; the window is empty when *end <= *start. */
MCC_INLINE void mcc_nn_window(int32_t o, int32_t stride, int32_t padding, int32_t window, int32_t size,
                              int32_t *start, int32_t *end)
{
    const int32_t first = o * stride - padding;
    *start = first < 0 ? 0 : first;
    *end = first + window > size ? size : first + window;
}

#if MCC_HAVE_V6M
/* The four 16x16 partial products of a * b, each exact in 32 bits: a = ah * 2^16 + al and
 * b = bh * 2^16 + bl with al, bl unsigned, so a * b = hh * 2^32 + (lh + hl) * 2^16 + ll.
 * ARMv6-M has no 32x32->64 multiply and GCC would call a 64x64 library multiply instead. */
typedef struct {
    int32_t hh, lh, hl;
    uint32_t ll;
} mcc_nn_partials;

MCC_INLINE mcc_nn_partials mcc_nn_partial_products(int32_t a, int32_t b)
{
    const uint32_t al = (uint32_t)a & 0xFFFFu;
    const uint32_t bl = (uint32_t)b & 0xFFFFu;
    const int32_t ah = a >> 16;
    const int32_t bh = b >> 16;
    mcc_nn_partials p;
    p.hh = ah * bh;
    p.lh = (int32_t)al * bh;
    p.hl = ah * (int32_t)bl;
    p.ll = al * bl;
    return p;
}

/* floor((a * b + round_high * 2^16) / 2^32) for 0 <= round_high < 2^16, from the partial
 * products: the low word only contributes its carry into the middle sum. */
MCC_INLINE int32_t mcc_nn_mul_high(int32_t a, int32_t b, uint32_t round_high)
{
    const mcc_nn_partials p = mcc_nn_partial_products(a, b);
    const uint32_t mid = (p.ll >> 16) + round_high + ((uint32_t)p.lh & 0xFFFFu) +
                         ((uint32_t)p.hl & 0xFFFFu);
    return p.hh + (p.lh >> 16) + (p.hl >> 16) + (int32_t)(mid >> 16);
}

/* a * b as a 64-bit value: the high word from the partial products, the low word from one
 * 32-bit multiply. */
MCC_INLINE int64_t mcc_nn_mul_wide(int32_t a, int32_t b)
{
    const uint32_t high = (uint32_t)mcc_nn_mul_high(a, b, 0);
    return (int64_t)(((uint64_t)high << 32) | ((uint32_t)a * (uint32_t)b));
}
#endif

MCC_INLINE int32_t mcc_nn_doubling_high_mul(int32_t a, int32_t b)
{
    int64_t ab;
    int64_t nudge;
    int64_t total;
    if (a == MCC_NN_INT32_MIN && b == MCC_NN_INT32_MIN) {
        return MCC_NN_INT32_MAX;
    }
#if MCC_HAVE_V6M
    ab = mcc_nn_mul_wide(a, b);
#else
    ab = (int64_t)a * (int64_t)b;
#endif
    nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    total = ab + nudge;
    /* Division truncates toward zero, as gemmlowp's does. */
    return (int32_t)(total / ((int64_t)1 << 31));
}

/* gemmlowp RoundingDivideByPOT: x / 2^exponent, halves away from zero. */
MCC_INLINE int32_t mcc_nn_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * multiplier * 2^(shift - 31) with gemmlowp's double rounding (TFLite's
 * MultiplyByQuantizedMultiplier): a rounding doubling high multiply, then a rounding shift. */
MCC_INLINE int32_t mcc_nn_requantize(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
#if MCC_HAVE_V6M
    /* the same saturating left shift without a 64-bit multiply */
    const int32_t limit = left > 0 ? (int32_t)((1u << (31 - left)) - 1u) : MCC_NN_INT32_MAX;
    const int32_t shifted = x > limit ? MCC_NN_INT32_MAX
                            : x < -limit ? (left > 0 ? MCC_NN_INT32_MIN : x)
                                         : (int32_t)((uint32_t)x << left);
    return mcc_nn_divide_by_pot(mcc_nn_doubling_high_mul(shifted, multiplier), right);
#else
    int64_t shifted = (int64_t)x * ((int64_t)1 << left);
    if (shifted > MCC_NN_INT32_MAX) {
        shifted = MCC_NN_INT32_MAX;
    } else if (shifted < MCC_NN_INT32_MIN) {
        shifted = MCC_NN_INT32_MIN;
    }
    return mcc_nn_divide_by_pot(mcc_nn_doubling_high_mul((int32_t)shifted, multiplier), right);
#endif
}

#if MCC_SINGLE_ROUNDING
/* Nearest integer, halves to even (lrintf in the default rounding mode), without libm.
 * Exact: v - (float)q is representable for every float v. */
MCC_INLINE int32_t mcc_nn_round_half_even(float v)
{
    int32_t q = (int32_t)v; /* truncates toward zero */
    const float frac = v - (float)q;
    if (frac > 0.5f || (frac == 0.5f && (q & 1))) {
        ++q;
    } else if (frac < -0.5f || (frac == -0.5f && (q & 1))) {
        --q;
    }
    return q;
}
#endif

#if MCC_SINGLE_ROUNDING
/* LiteRT's XNNPACK requantization: the int32 accumulator as float32 times a float32 scale,
 * rounded once, halves to even, plus the output offset, clamped. Clamping before rounding gives
 * the same result (the bounds are integers) and keeps the conversion in range. */
MCC_INLINE int32_t mcc_nn_requantize_float(int32_t acc, float scale, int32_t output_offset,
                                           const mcc_activation *act)
{
    const float lo = (float)(act->min - output_offset);
    const float hi = (float)(act->max - output_offset);
    float v = (float)acc * scale;
    v = v < lo ? lo : (v > hi ? hi : v);
    return mcc_nn_round_half_even(v) + output_offset;
}
#endif

/* Final value of a conv / depthwise / fully connected output: requantize the accumulator of
 * channel `ch`, add the output offset and clamp.
 *   MCC_SINGLE_ROUNDING=0 (TFLM): gemmlowp double rounding with (multiplier, shift).
 *   MCC_SINGLE_ROUNDING=1 (LiteRT, whose XNNPACK delegate runs these ops): float32 scale, one
 *   rounding. The only floating point in the int8 kernels, compiled in only for models
 *   exported with --rounding litert. */
MCC_INLINE int32_t mcc_nn_requantize_output(int32_t acc, const mcc_quant *quant, int32_t ch,
                                            int32_t output_offset, const mcc_activation *act)
{
#if MCC_SINGLE_ROUNDING
    return mcc_nn_requantize_float(acc, quant->scale[ch], output_offset, act);
#else
    return mcc_nn_clamp(mcc_nn_requantize(acc, quant->multiplier[ch], quant->shift[ch]) +
                            output_offset,
                        act->min, act->max);
#endif
}

/* gemmlowp SaturatingRoundingMultiplyByPOT for a positive exponent (saturating left shift). */
MCC_INLINE int32_t mcc_nn_saturating_shift_left(int32_t x, int32_t exponent)
{
    const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
    if (x > threshold) {
        return MCC_NN_INT32_MAX;
    }
    if (x < -threshold) {
        return MCC_NN_INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

#if defined(__GNUC__) && defined(__ARM_ARCH)
/* Two words into two registers in one instruction (LDRD) from word-aligned data at a constant
 * byte offset; the "m" operand tells the compiler which memory is read. */
typedef struct {
    uint32_t word[2];
} mcc_nn_pair;
#define MCC_NN_LDRD(p, off, lo, hi)                                                  \
    __asm__("ldrd %0, %1, [%2, #%c3]"                                                \
            : "=&r"(lo), "=&r"(hi)                                                   \
            : "r"(p), "n"(off), "m"(*(const mcc_nn_pair *)(const void *)((const char *)(p) + (off))))
/* The same, then p advances by `step` bytes (LDRD with post-increment). */
#define MCC_NN_LDRD_POST(p, step, lo, hi)                                            \
    __asm__("ldrd %0, %1, [%2], #%c4"                                                \
            : "=&r"(lo), "=&r"(hi), "+r"(p)                                          \
            : "m"(*(const mcc_nn_pair *)(const void *)(p)), "n"(step))
#endif

#if defined(__GNUC__) && defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
/* SXTB16 of the word rotated right by 8 (bytes 1 and 3), one instruction; GCC 12 does not fold
 * the rotation into SXTB16 by itself. */
MCC_INLINE uint32_t mcc_nn_sxtb16_ror8(uint32_t v)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}
#endif

#if defined(__GNUC__) && defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
/* word with its byte at bit `pos` (a constant) replaced by v's low byte: one BFI. */
#define MCC_NN_BFI8(word, v, pos) __asm__("bfi %0, %1, #" #pos ", #8" : "+r"(word) : "r"(v))

/* The four int8 lanes of word clamped to [lo, hi] given as bytes repeated in lo4 and hi4:
 * SSUB8 sets a lane's GE flag where it is not below the bound, SEL keeps it there. */
MCC_INLINE uint32_t mcc_nn_clamp4_s8(uint32_t word, uint32_t lo4, uint32_t hi4)
{
    uint32_t t, r;
    __asm__("ssub8 %0, %2, %1\n\tsel %0, %2, %1" : "=&r"(t) : "r"(lo4), "r"(word) : "cc");
    __asm__("ssub8 %0, %1, %2\n\tsel %0, %2, %1" : "=&r"(r) : "r"(hi4), "r"(t) : "cc");
    return r;
}
#endif

/* (acc * 2^32 + a * b + 2^31) >> 32: Arm's SMMLAR. With a = 2x it is the rounding doubling high
 * multiply of x and b plus acc, exactly (no saturation case when b > 0). */
MCC_INLINE int32_t mcc_nn_smmlar(int32_t a, int32_t b, int32_t acc)
{
#if defined(__GNUC__) && defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
#elif MCC_HAVE_V6M
    return acc + mcc_nn_mul_high(a, b, 0x8000u); /* + 2^31 */
#else
    return (int32_t)(((int64_t)acc * 4294967296LL + (int64_t)a * b + 0x80000000LL) >> 32);
#endif
}

/* One Add input rescaled: RoundingDivideByPOT(DoublingHighMul(v << left, m), right), as SMMLAR of
 * the doubled value plus the rounding half, the sign of the value (sign = -1 when right >= 1, 0
 * when right = 0: no rounding then), a shift. Exact when the doubled value 2 * (x + offset) << left
 * stays inside int32 and m >= 0 (the caller checks). */
MCC_INLINE int32_t mcc_nn_add_rescale(int32_t doubled, int32_t multiplier, int32_t half, int32_t sign,
                                      int32_t right)
{
    return (mcc_nn_smmlar(doubled, multiplier, half) + ((doubled >> 31) & sign)) >> right;
}

/* Rotate right by 8 bits (GCC folds it into SXTB16's rotation). */
MCC_INLINE uint32_t mcc_nn_ror8(uint32_t v)
{
    return (v >> 8) | (v << 24);
}

/* Walks an output of TFLite-broadcast element-wise op in NHWC order, keeping the matching index
 * of each input: a dimension of size 1 in an input is read with stride 0. */
typedef struct {
    int32_t size;               /* output elements */
    int32_t index1, index2;     /* current input indices */
    int32_t out[4], pos[4];     /* output extents and position (n, h, w, c) */
    int32_t step1[4], step2[4]; /* input strides per dimension, 0 where broadcast */
} mcc_nn_broadcast;

MCC_INLINE void mcc_nn_broadcast_strides(const mcc_dims *d, int32_t step[4])
{
    const int32_t extent[4] = {d->n, d->h, d->w, d->c};
    int32_t stride = 1;
    int32_t k;
    for (k = 3; k >= 0; --k) {
        step[k] = extent[k] == 1 ? 0 : stride;
        stride *= extent[k];
    }
}

MCC_INLINE void mcc_nn_broadcast_start(mcc_nn_broadcast *walk, const mcc_dims *input1,
                                       const mcc_dims *input2, const mcc_dims *output)
{
    int32_t k;
    walk->out[0] = output->n;
    walk->out[1] = output->h;
    walk->out[2] = output->w;
    walk->out[3] = output->c;
    walk->size = output->n * output->h * output->w * output->c;
    walk->index1 = 0;
    walk->index2 = 0;
    for (k = 0; k < 4; ++k) {
        walk->pos[k] = 0;
    }
    mcc_nn_broadcast_strides(input1, walk->step1);
    mcc_nn_broadcast_strides(input2, walk->step2);
}

/* Advances to the next output element (the last dimension fastest). */
MCC_INLINE void mcc_nn_broadcast_next(mcc_nn_broadcast *walk)
{
    int32_t k;
    for (k = 3; k >= 0; --k) {
        walk->index1 += walk->step1[k];
        walk->index2 += walk->step2[k];
        if (++walk->pos[k] < walk->out[k]) {
            return;
        }
        walk->index1 -= walk->step1[k] * walk->out[k];
        walk->index2 -= walk->step2[k] * walk->out[k];
        walk->pos[k] = 0;
    }
}

/* Element-wise maximum (take_max != 0) or minimum of two broadcast int8 tensors. */
MCC_INLINE void mcc_nn_broadcast_select(const mcc_dims *input1_dims, const int8_t *input1,
                                        const mcc_dims *input2_dims, const int8_t *input2,
                                        const mcc_dims *output_dims, int8_t *output, int32_t take_max)
{
    mcc_nn_broadcast walk;
    int32_t i;
    mcc_nn_broadcast_start(&walk, input1_dims, input2_dims, output_dims);
    for (i = 0; i < walk.size; ++i) {
        const int8_t a = input1[walk.index1];
        const int8_t b = input2[walk.index2];
        output[i] = (a > b) == (take_max != 0) ? a : b;
        mcc_nn_broadcast_next(&walk);
    }
}

/* Codebook weights of the fast codebook kernels: the table of every pair field's two weights,
 * doubled, as one SMLAD operand: table[a | b << bits] = (2 * codebook[a], 2 * codebook[b]) as
 * int16 halves, the first in the low half. 1 << (2 * bits) words. */
MCC_INLINE void mcc_nn_codebook_pair_table(const int8_t *codebook, int32_t bits, uint32_t *table)
{
    const int32_t n = 1 << bits;
    const uint32_t high0 = (uint32_t)(uint16_t)(int16_t)(2 * codebook[0]) << 16;
    int32_t a, b;
    for (a = 0; a < n; ++a) {
        table[a] = high0 | (uint16_t)(int16_t)(2 * codebook[a]);
    }
    /* every other row is the first with another high half: one add a word (the carry out of
     * bit 31 is dropped, the low half stays) */
    for (b = 1; b < n; ++b) {
        const uint32_t delta = (uint32_t)(2 * (codebook[b] - codebook[0])) << 16;
        uint32_t *row = table + (b << bits);
#if MCC_HAVE_DSP_ASM
        const uint32_t *first = table;
#define MCC_NN_ADD4 /* 4 words a load and a store multiple */                                       \
        "ldm %[s]!, {r4, r5, r6, r7}\n\t"                                                           \
        "add r4, r4, %[d]\n\t"                                                                     \
        "add r5, r5, %[d]\n\t"                                                                     \
        "add r6, r6, %[d]\n\t"                                                                     \
        "add r7, r7, %[d]\n\t"                                                                     \
        "stm %[r]!, {r4, r5, r6, r7}\n\t"
        if (n == 16) {
            __asm__ volatile(MCC_NN_ADD4 MCC_NN_ADD4 MCC_NN_ADD4 MCC_NN_ADD4
                             : [s] "+r"(first), [r] "+r"(row) : [d] "r"(delta) : "r4", "r5", "r6", "r7", "memory");
        } else {
            __asm__ volatile(MCC_NN_ADD4
                             : [s] "+r"(first), [r] "+r"(row) : [d] "r"(delta) : "r4", "r5", "r6", "r7", "memory");
        }
#undef MCC_NN_ADD4
#else
        for (a = 0; a < n; a += 4) {
            row[a] = table[a] + delta;
            row[a + 1] = table[a + 1] + delta;
            row[a + 2] = table[a + 2] + delta;
            row[a + 3] = table[a + 3] + delta;
        }
#endif
    }
}

/* The 2-bit table of pair pairs (DSP paths of the fast codebook kernels): entry b, a byte of two
 * 4-bit fields, holds the pair table's entries of its low and its high field (two words), so
 * one byte load and one LDRD give 4 weights. 512 words. */
MCC_INLINE void mcc_nn_codebook_quad_table(const uint32_t *pairs, uint32_t *quad)
{
    int32_t hi, lo;
    for (hi = 0; hi < 16; ++hi) {
        const uint32_t high = pairs[hi];
        for (lo = 0; lo < 16; ++lo) {
            quad[0] = pairs[lo];
            quad[1] = high;
            quad += 2;
        }
    }
}

/* Codebook weights looked up a byte of packed indices at a time (the MVE paths of the fast
 * codebook kernels gather one table entry per byte lane): `count` tables of 256 int8 entries,
 * table t holding for every byte b the weight of the index field at bit shifts[t] of b
 * (mask 2^bits - 1). A table is 16 runs of 16 bytes: one pattern repeated when the field lies
 * in the low nibble, one value per run when it lies in the high nibble. */
MCC_INLINE void mcc_nn_codebook_byte_tables(const int8_t *codebook, int32_t bits, const int32_t *shifts,
                                            int32_t count, uint32_t *tables)
{
    const uint32_t mask = (1u << bits) - 1u;
    int32_t t, i;
    for (t = 0; t < count; ++t) {
        const int32_t shift = shifts[t];
        uint32_t run[4];
        if (shift < 4) {
            uint8_t *bytes = (uint8_t *)run;
            for (i = 0; i < 16; ++i) {
                bytes[i] = (uint8_t)codebook[((uint32_t)i >> shift) & mask];
            }
        }
        for (i = 0; i < 16; ++i) {
            if (shift >= 4) {
                const uint32_t v = (uint32_t)(uint8_t)codebook[((uint32_t)(i << 4) >> shift) & mask] * 0x01010101u;
                run[0] = run[1] = run[2] = run[3] = v;
            }
            tables[0] = run[0];
            tables[1] = run[1];
            tables[2] = run[2];
            tables[3] = run[3];
            tables += 4;
        }
    }
}

/* Requantizes a doubled accumulator with one channel's multiplier, round and shift of the
 * fast kernels (TFLite's double rounding, see mcc_conv2d_fast_s8.c) and clamps it. */
MCC_INLINE int8_t mcc_nn_fast_requantize(int32_t acc, int32_t multiplier, int32_t round, int32_t shift,
                                         int32_t lo, int32_t hi)
{
    int32_t v = mcc_nn_smmlar(acc, multiplier, round);
    v = (v + (acc >> 31)) >> shift;
    v = v < lo ? lo : v;
    return (int8_t)(v > hi ? hi : v);
}

/* Sum of the two int16 products of a and b, plus acc (SMLAD). */
MCC_INLINE int32_t mcc_nn_smlad(uint32_t a, uint32_t b, int32_t acc)
{
#if defined(__GNUC__) && defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    return __builtin_arm_smlad(a, b, acc);
#else
    return acc + (int16_t)(a & 0xFFFFu) * (int16_t)(b & 0xFFFFu) + (int16_t)(a >> 16) * (int16_t)(b >> 16);
#endif
}

/* (lo's low half | hi << 16): two int16 lanes in one word (PKHBT). */
MCC_INLINE uint32_t mcc_nn_pack16(int32_t lo, int32_t hi)
{
#if defined(__GNUC__) && MCC_HAVE_DSP
    uint32_t r;   /* GCC 12 writes the C below as UXTH and ORR */
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
#else
    return ((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16);
#endif
}

/* One int16 half of a times one of b, plus acc: SMLABB, SMLABT, SMLATB, SMLATT (the first
 * letter names a's half, the second b's). */
#if defined(__GNUC__) && MCC_HAVE_DSP
/* GCC has no SMLABT builtin: it is SMLATB with the operands swapped. */
#define MCC_NN_SMLAXY(XY, BUILTIN, A, B, LO_A, LO_B)                                        \
    MCC_INLINE int32_t mcc_nn_smla##XY(uint32_t a, uint32_t b, int32_t acc)                 \
    {                                                                                       \
        return BUILTIN((int32_t)(A), (int32_t)(B), acc);                                    \
    }
#else
#define MCC_NN_SMLAXY(XY, BUILTIN, A, B, LO_A, LO_B)                                        \
    MCC_INLINE int32_t mcc_nn_smla##XY(uint32_t a, uint32_t b, int32_t acc)                 \
    {                                                                                       \
        const int16_t x = (int16_t)(LO_A ? (a & 0xFFFFu) : (a >> 16));                      \
        const int16_t y = (int16_t)(LO_B ? (b & 0xFFFFu) : (b >> 16));                      \
        return (int32_t)((uint32_t)acc + (uint32_t)((int32_t)x * y));                       \
    }
#endif
MCC_NN_SMLAXY(bb, __builtin_arm_smlabb, a, b, 1, 1)
MCC_NN_SMLAXY(bt, __builtin_arm_smlatb, b, a, 1, 0)
MCC_NN_SMLAXY(tb, __builtin_arm_smlatb, a, b, 0, 1)
MCC_NN_SMLAXY(tt, __builtin_arm_smlatt, a, b, 0, 0)

/* acc + floor(a * b / 2^32) (SMMLA, no rounding). */
MCC_INLINE int32_t mcc_nn_smmla(int32_t a, int32_t b, int32_t acc)
{
#if defined(__GNUC__) && MCC_HAVE_DSP
    int32_t r;
    __asm__("smmla %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
#else
    return (int32_t)((uint32_t)acc + (uint32_t)(int32_t)(((int64_t)a * b) >> 32));
#endif
}

MCC_INLINE int32_t mcc_nn_max(int32_t a, int32_t b)
{
    return a > b ? a : b;
}

MCC_INLINE int32_t mcc_nn_min(int32_t a, int32_t b)
{
    return a < b ? a : b;
}

/* The two-instruction requantization of a channel clamped at or above its zero point
 * (mcucompress/codegen/relu_requant.py): SMMLA with the channel's round, SSAT of it shifted
 * right by the layer's shift (a constant); the caller clamps when narrower than int8. */
MCC_INLINE int32_t mcc_nn_relu_requantize(int32_t acc, int32_t multiplier, int32_t round, int32_t shift)
{
    const int32_t v = mcc_nn_smmla(acc, multiplier, round) >> shift;
#if defined(__GNUC__) && MCC_HAVE_DSP
    return __builtin_arm_ssat(v, 8);
#else
    return v < -128 ? -128 : (v > 127 ? 127 : v);
#endif
}

/* Four int8 values (one word) as (v0, v2) and (v1, v3) int16 pairs (SXTB16, SXTB16 ROR 8). */
MCC_INLINE void mcc_nn_widen4(uint32_t v, uint32_t *even, uint32_t *odd)
{
#if defined(__GNUC__) && defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    *even = __builtin_arm_sxtb16(v);
    *odd = mcc_nn_sxtb16_ror8(v);
#else
    *even = (uint32_t)(uint16_t)(int16_t)(int8_t)(v & 0xFFu) |
            ((uint32_t)(uint16_t)(int16_t)(int8_t)((v >> 16) & 0xFFu) << 16);
    *odd = (uint32_t)(uint16_t)(int16_t)(int8_t)((v >> 8) & 0xFFu) |
           ((uint32_t)(uint16_t)(int16_t)(int8_t)(v >> 24) << 16);
#endif
}

/* TFLite's integer Add (subtract == 0) or Sub of two broadcast int8 tensors: both inputs shifted
 * left, rescaled to a common scale, summed (or the second subtracted) and rescaled to the output. */
MCC_INLINE void mcc_nn_broadcast_add(const mcc_add_params *params, const mcc_dims *input1_dims,
                                     const int8_t *input1, const mcc_dims *input2_dims, const int8_t *input2,
                                     const mcc_dims *output_dims, int8_t *output, int32_t subtract)
{
    mcc_nn_broadcast walk;
    int32_t i;
    mcc_nn_broadcast_start(&walk, input1_dims, input2_dims, output_dims);
    for (i = 0; i < walk.size; ++i) {
        const int32_t a = (input1[walk.index1] + params->input1_offset) * (1 << params->left_shift);
        const int32_t b = (input2[walk.index2] + params->input2_offset) * (1 << params->left_shift);
        const int32_t scaled_a = mcc_nn_requantize(a, params->input1_multiplier, params->input1_shift);
        const int32_t scaled_b = mcc_nn_requantize(b, params->input2_multiplier, params->input2_shift);
        const int32_t raw = subtract != 0 ? scaled_a - scaled_b : scaled_a + scaled_b;
        const int32_t value = mcc_nn_requantize(raw, params->output_multiplier, params->output_shift) +
                              params->output_offset;
        output[i] = (int8_t)mcc_nn_clamp(value, params->activation.min, params->activation.max);
        mcc_nn_broadcast_next(&walk);
    }
}

#endif /* MCC_NN_H */

/* mcc_depthwise_conv2d_fast_s8 - int8 depthwise convolution (depth multiplier 1) on weights
 * specialised at export time (mcucompress/codegen/specialize.py); bit-exact with
 * mcc_depthwise_conv2d_s8 under TFLM rounding.
 *
 * Weights: the window's taps in pairs (t, t + 1) (an odd last tap is paired with a zero weight),
 * the channels in blocks of 8 (the last block 4 when the count is not a multiple of 8). Block by
 * block, pair by pair, one word per channel of the block holds its two doubled int16 weights
 * (tap t in the low half): word[block_start * pairs + pair * block_width + j]. A DSP core feeds
 * a pair of taps of one channel to SMLAD; an MVE core de-interleaves a block's pair with VLD2
 * into two vectors of 8 channels.
 * channels: {bias, multiplier, round, shift} per channel as in mcc_conv2d_fast_s8 (input offset
 * folded into the bias). Padded taps read a row of input zero points kept in the scratch buffer,
 * which contribute nothing once the offset is folded.
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

/* Taps rounded up to a whole number of pairs. */
MCC_INLINE int32_t dw_slots(int32_t taps)
{
    return (taps + 1) & ~1;
}

/* Scratch: the zero row (rounded up to 8 bytes: pointers follow), then the input pointer of
 * every tap slot of two output pixels. */
int32_t mcc_depthwise_conv2d_fast_s8_get_buffer_size(int32_t channels, int32_t taps)
{
    return ((channels + 7) & ~7) + 2 * dw_slots(taps) * (int32_t)sizeof(const int8_t *);
}

MCC_INLINE int32_t dw_requantize(int32_t acc, const int32_t *ch, int32_t lo, int32_t hi)
{
    int32_t v = mcc_nn_smmlar(acc, ch[1], ch[2]);
    v = (v + (acc >> 31)) >> ch[3];
#if MCC_HAVE_DSP
    if (lo == -128 && hi == 127) {
        return __ssat(v, 8);
    }
#endif
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

#if MCC_HAVE_MVE_ASM
/* Four lanes of accumulators -> requantized values (not yet clamped): VRMULH is SMMLAR without
 * the accumulate. consts: the {bias, multiplier, round, shift} rows of the lanes' channels. */
MCC_INLINE int32x4_t dw_requantize_mve(int32x4_t acc, int32x4_t mult, int32x4_t round,
                                       int32x4_t neg_shift)
{
    int32x4_t v = vaddq_s32(vrmulhq_s32(acc, mult), round);
    v = vaddq_s32(v, vshrq_n_s32(acc, 31));
    return vshlq_s32(v, neg_shift);
}

/* What the assembly block below reads besides its loop registers (offsets fixed by it). */
typedef struct {
    const int32_t *ch;         /*  0: the block's channel constants */
    const int32_t *lanes;      /*  4: dw_lanes */
    int8_t *out_a;             /*  8 */
    int8_t *out_b;             /* 12: out_a again for a single pixel (same values stored twice) */
    int32_t odd;               /* 16: the window has an odd tap count */
} dw_mve_block;

/* Byte offsets of channels 0 2 4 6 and 1 3 5 7 in the constants, then the clamp as int16 x 8. */
typedef struct {
    uint32_t even[4];
    uint32_t odd[4];
    int16_t lo[8];
    int16_t hi[8];
} dw_lanes;

/* One block of 8 channels of two output pixels (tap slots ta, tb), requantized and stored. Per
 * pair of taps one VLD2 of the block's weights (tap t and t + 1, 8 channels each), per pixel and
 * tap a widening load of 8 activations and VMULLB / VMULLT into the even and odd channels' sums
 * (q0 q1 pixel a, q2 q3 pixel b); an odd last tap uses the first half of its pair. Then, on 4
 * lanes at a time, VRMULH (SMMLAR without the accumulate) and the shift; narrowing with int16
 * saturation puts the channels back in order and keeps every value the int8 clamp would change
 * out of range, so the clamp runs once on 8 lanes. Written in assembly: the loop needs all
 * eight Q registers, and GCC 12 spills when it allocates them. */
MCC_INLINE void dw_block_mve(const int8_t *const *ta, const int8_t *const *tb, int32_t full,
                             int32_t c, const int16_t *w, const dw_mve_block *blk)
{
    const int8_t *pa, *pb, *qa, *qb;
    __asm__ volatile(
        "ldr %[pa], [%[blk]]\n\t"
        "ldr %[pb], [%[blk], #4]\n\t"
        "vldrw.u32 q7, [%[pb]]\n\t"
        "vadd.i32 q6, q7, %[pa]\n\t"
        "vldrw.u32 q0, [q6]\n\t"
        "vldrw.u32 q7, [%[pb], #16]\n\t"
        "vadd.i32 q6, q7, %[pa]\n\t"
        "vldrw.u32 q1, [q6]\n\t"
        "vmov q2, q0\n\t"
        "vmov q3, q1\n\t"
        "cmp %[full], #0\n\t"
        "beq 2f\n"
        "1:\n\t"
        "ldrd %[pa], %[qa], [%[ta]], #8\n\t"
        "ldrd %[pb], %[qb], [%[tb]], #8\n\t"
        "vld20.16 {q4, q5}, [%[w]]\n\t"
        "add %[pa], %[pa], %[c]\n\t"
        "vld21.16 {q4, q5}, [%[w]]!\n\t"
        "add %[qa], %[qa], %[c]\n\t"
        "vldrb.s16 q6, [%[pa]]\n\t"
        "add %[pb], %[pb], %[c]\n\t"
        "vmullb.s16 q7, q6, q4\n\t"
        "add %[qb], %[qb], %[c]\n\t"
        "vadd.i32 q0, q0, q7\n\t"
        "vmullt.s16 q7, q6, q4\n\t"
        "vldrb.s16 q6, [%[qa]]\n\t"
        "vadd.i32 q1, q1, q7\n\t"
        "vmullb.s16 q7, q6, q5\n\t"
        "vadd.i32 q0, q0, q7\n\t"
        "vmullt.s16 q7, q6, q5\n\t"
        "vldrb.s16 q6, [%[pb]]\n\t"
        "vadd.i32 q1, q1, q7\n\t"
        "vmullb.s16 q7, q6, q4\n\t"
        "vadd.i32 q2, q2, q7\n\t"
        "vmullt.s16 q7, q6, q4\n\t"
        "vldrb.s16 q6, [%[qb]]\n\t"
        "vadd.i32 q3, q3, q7\n\t"
        "vmullb.s16 q7, q6, q5\n\t"
        "vadd.i32 q2, q2, q7\n\t"
        "vmullt.s16 q7, q6, q5\n\t"
        "subs %[full], %[full], #1\n\t"
        "vadd.i32 q3, q3, q7\n\t"
        "bne 1b\n"
        "2:\n\t"
        "ldr %[pa], [%[blk], #16]\n\t"
        "cbz %[pa], 3f\n\t"
        "ldr %[pa], [%[ta]]\n\t"
        "ldr %[pb], [%[tb]]\n\t"
        "vld20.16 {q4, q5}, [%[w]]\n\t"
        "add %[pa], %[pa], %[c]\n\t"
        "vld21.16 {q4, q5}, [%[w]]\n\t"
        "add %[pb], %[pb], %[c]\n\t"
        "vldrb.s16 q6, [%[pa]]\n\t"
        "vmullb.s16 q7, q6, q4\n\t"
        "vadd.i32 q0, q0, q7\n\t"
        "vmullt.s16 q7, q6, q4\n\t"
        "vldrb.s16 q6, [%[pb]]\n\t"
        "vadd.i32 q1, q1, q7\n\t"
        "vmullb.s16 q7, q6, q4\n\t"
        "vadd.i32 q2, q2, q7\n\t"
        "vmullt.s16 q7, q6, q4\n\t"
        "vadd.i32 q3, q3, q7\n"
        "3:\n\t"
        "ldr %[pa], [%[blk]]\n\t"
        "ldr %[pb], [%[blk], #4]\n\t"
        "vldrw.u32 q7, [%[pb]]\n\t"
        "vadd.i32 q7, q7, %[pa]\n\t"
        "vldrw.u32 q4, [q7, #4]\n\t"
        "vldrw.u32 q5, [q7, #8]\n\t"
        "vldrw.u32 q6, [q7, #12]\n\t"
        "vneg.s32 q6, q6\n\t"
        "vrmulh.s32 q7, q0, q4\n\t"
        "vshr.s32 q0, q0, #31\n\t"
        "vadd.i32 q7, q7, q5\n\t"
        "vadd.i32 q7, q7, q0\n\t"
        "vshl.s32 q0, q7, q6\n\t"
        "vrmulh.s32 q7, q2, q4\n\t"
        "vshr.s32 q2, q2, #31\n\t"
        "vadd.i32 q7, q7, q5\n\t"
        "vadd.i32 q7, q7, q2\n\t"
        "vshl.s32 q2, q7, q6\n\t"
        "vldrw.u32 q7, [%[pb], #16]\n\t"
        "vadd.i32 q7, q7, %[pa]\n\t"
        "vldrw.u32 q4, [q7, #4]\n\t"
        "vldrw.u32 q5, [q7, #8]\n\t"
        "vldrw.u32 q6, [q7, #12]\n\t"
        "vneg.s32 q6, q6\n\t"
        "vrmulh.s32 q7, q1, q4\n\t"
        "vshr.s32 q1, q1, #31\n\t"
        "vadd.i32 q7, q7, q5\n\t"
        "vadd.i32 q7, q7, q1\n\t"
        "vshl.s32 q1, q7, q6\n\t"
        "vrmulh.s32 q7, q3, q4\n\t"
        "vshr.s32 q3, q3, #31\n\t"
        "vadd.i32 q7, q7, q5\n\t"
        "vadd.i32 q7, q7, q3\n\t"
        "vshl.s32 q3, q7, q6\n\t"
        "vqmovnb.s32 q4, q0\n\t"
        "vqmovnt.s32 q4, q1\n\t"
        "vqmovnb.s32 q5, q2\n\t"
        "vqmovnt.s32 q5, q3\n\t"
        "vldrh.u16 q6, [%[pb], #32]\n\t"
        "vldrh.u16 q7, [%[pb], #48]\n\t"
        "vmax.s16 q4, q4, q6\n\t"
        "vmax.s16 q5, q5, q6\n\t"
        "vmin.s16 q4, q4, q7\n\t"
        "vmin.s16 q5, q5, q7\n\t"
        "ldrd %[pa], %[pb], [%[blk], #8]\n\t"
        "add %[pa], %[pa], %[c]\n\t"
        "add %[pb], %[pb], %[c]\n\t"
        "vstrb.16 q5, [%[pb]]\n\t"
        "vstrb.16 q4, [%[pa]]\n\t"
        : [pa] "=&l"(pa), [qa] "=&l"(qa), [pb] "=&l"(pb), [qb] "=&l"(qb), [ta] "+r"(ta),
          [tb] "+r"(tb), [w] "+r"(w), [full] "+r"(full)
        : [c] "r"(c), [blk] "r"(blk)
        : "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12", "d13",
          "d14", "d15", "cc", "memory");
}

/* Blocks of 8 channels of two output pixels (pixel b = pixel a for a single one). */
static void dw_blocks_mve(const int8_t *const *tap_a, const int8_t *const *tap_b, int32_t pairs,
                          int32_t odd, int32_t n8, const int32_t *weights, const int32_t *ch,
                          int8_t *out_a, int8_t *out_b, const dw_lanes *lanes)
{
    dw_mve_block blk;
    int32_t c;
    blk.lanes = (const int32_t *)(const void *)lanes;
    blk.out_a = out_a;
    blk.out_b = out_b;
    blk.odd = odd;
    for (c = 0; c < n8; c += 8) {
        blk.ch = ch + 4 * c;
        dw_block_mve(tap_a, tap_b, pairs - odd, c, (const int16_t *)(const void *)(weights + c * pairs),
                     &blk);
    }
}

/* The last block of 4 channels of one pixel: the pair's two taps interleaved per channel (VSLI)
 * against the block's words, VMULLB / VMULLT into channel-ordered accumulators. */
static void dw_tail_mve(const int8_t *const *tap, int32_t pairs, int32_t c, const int32_t *weights,
                        const int32_t *ch, int8_t *output, int32_t lo, int32_t hi)
{
    static const uint32_t rows[4] = {0, 16, 32, 48};
    const uint32x4_t off = vld1q_u32(rows);
    const int16_t *w = (const int16_t *)(const void *)(weights + c * pairs);
    int32x4_t acc = vldrwq_gather_offset_s32(ch, off);
    int32x4_t v;
    int32_t p;
    for (p = 0; p < pairs; ++p) {
        const int16x8_t wv = vldrhq_s16(w);
        const int32x4_t x = vsliq_n_s32(vldrbq_s32(tap[2 * p] + c), vldrbq_s32(tap[2 * p + 1] + c), 16);
        acc = vaddq_s32(acc, vmullbq_int_s16(vreinterpretq_s16_s32(x), wv));
        acc = vaddq_s32(acc, vmulltq_int_s16(vreinterpretq_s16_s32(x), wv));
        w += 8;
    }
    v = dw_requantize_mve(acc, vldrwq_gather_offset_s32(ch + 1, off), vldrwq_gather_offset_s32(ch + 2, off),
                          vnegq_s32(vldrwq_gather_offset_s32(ch + 3, off)));
    v = vminq_s32(vmaxq_s32(v, vdupq_n_s32(lo)), vdupq_n_s32(hi));
    vstrbq_s32(output + c, v);
}
#endif

#if MCC_HAVE_DSP_ASM
/* One pair of taps of 4 channels: the two taps' activation words (tap pointers at byte TOFF of
 * the slots) merged by PKHBT / PKHTB into a0 a1 b0 b1 and a2 a3 b2 b3, SXTB16 of those is one
 * (tap t, tap t + 1) pair per channel for SMLAD against the weight words at byte WOFF. 15
 * instructions for 8 products; the words' order puts channel 2 and 3 first. */
#define MCC_DW_PAIR_ASM(TOFF, WLO, WHI)                         \
    "ldrd %[pa], %[pb], [%[taps], #" #TOFF "]\n\t"              \
    "ldr %[pa], [%[pa], %[c]]\n\t"                              \
    "ldr %[pb], [%[pb], %[c]]\n\t"                              \
    "pkhtb %[e], %[pb], %[pa], asr #16\n\t"                     \
    "pkhbt %[pa], %[pa], %[pb], lsl #16\n\t"                    \
    "ldrd %[w0], %[w1], [%[w], #" #WHI "]\n\t"                  \
    "sxtb16 %[pb], %[e]\n\t"                                    \
    "smlad %[a2], %[pb], %[w0], %[a2]\n\t"                      \
    "sxtb16 %[pb], %[e], ror #8\n\t"                            \
    "smlad %[a3], %[pb], %[w1], %[a3]\n\t"                      \
    "ldrd %[w0], %[w1], [%[w], #" #WLO "]\n\t"                  \
    "sxtb16 %[pb], %[pa]\n\t"                                   \
    "smlad %[a0], %[pb], %[w0], %[a0]\n\t"                      \
    "sxtb16 %[pb], %[pa], ror #8\n\t"                           \
    "smlad %[a1], %[pb], %[w1], %[a1]\n\t"

#define MCC_DW_OPERANDS                                                                   \
    : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [pa] "=&r"(pa),          \
      [pb] "=&r"(pb), [e] "=&r"(e), [w0] "=&r"(w0), [w1] "=&r"(w1), [w] "+r"(w),          \
      [taps] "+r"(tap), [n] "+r"(n)                                                     \
    : [c] "r"(c)                                                                        \
    : "cc", "memory"

/* 3x3 windows (5 pairs) written out, for a block of 8 (S = 32 bytes of words per pair). */
#define MCC_DW_3X3_ASM(S)                                                                 \
    MCC_DW_PAIR_ASM(0, 0, 8) MCC_DW_PAIR_ASM(8, S, S + 8)                                 \
    MCC_DW_PAIR_ASM(16, 2 * S, 2 * S + 8) MCC_DW_PAIR_ASM(24, 3 * S, 3 * S + 8)           \
    MCC_DW_PAIR_ASM(32, 4 * S, 4 * S + 8)

/* Any window: one pair per iteration, the slots and the words post-incremented. */
#define MCC_DW_LOOP_ASM(S)                                      \
    "1:\n\t"                                                    \
    MCC_DW_PAIR_ASM(0, 0, 8)                                    \
    "adds %[taps], %[taps], #8\n\t"                             \
    "adds %[w], %[w], #" #S "\n\t"                              \
    "subs %[n], %[n], #1\n\t"                                   \
    "bne 1b\n\t"

#endif

/* Four channels c..c+3 of one output pixel, one accumulator per channel over the pairs of taps;
 * w: the channels' first words, block: words per pair. */
MCC_INLINE void dw_group(const int8_t *const *tap, int32_t pairs, int32_t c, const int32_t *w,
                         int32_t block, const int32_t *ch, int8_t *output, int32_t lo, int32_t hi)
{
    int32_t a0 = ch[0], a1 = ch[4], a2 = ch[8], a3 = ch[12];
    int32_t p;
    for (p = 0; p < pairs; ++p) {
        const int8_t *s0 = tap[2 * p] + c;
        const int8_t *s1 = tap[2 * p + 1] + c;
#if MCC_HAVE_DSP
        /* bytes a0 a1 b0 b1 and a2 a3 b2 b3: SXTB16 of them is (a0, b0) ... (a3, b3) */
        uint32_t a, b, lo2, hi2;
        memcpy(&a, s0, 4);
        memcpy(&b, s1, 4);
        lo2 = (a & 0xFFFFu) | (b << 16);
        hi2 = (b & 0xFFFF0000u) | (a >> 16);
        a0 = __smlad(__sxtb16(lo2), (uint32_t)w[0], a0);
        a1 = __smlad(mcc_nn_sxtb16_ror8(lo2), (uint32_t)w[1], a1);
        a2 = __smlad(__sxtb16(hi2), (uint32_t)w[2], a2);
        a3 = __smlad(mcc_nn_sxtb16_ror8(hi2), (uint32_t)w[3], a3);
#else
        a0 += s0[0] * (int16_t)(w[0] & 0xFFFF) + s1[0] * (w[0] >> 16);
        a1 += s0[1] * (int16_t)(w[1] & 0xFFFF) + s1[1] * (w[1] >> 16);
        a2 += s0[2] * (int16_t)(w[2] & 0xFFFF) + s1[2] * (w[2] >> 16);
        a3 += s0[3] * (int16_t)(w[3] & 0xFFFF) + s1[3] * (w[3] >> 16);
#endif
        w += block;
    }
    output[c] = (int8_t)dw_requantize(a0, ch, lo, hi);
    output[c + 1] = (int8_t)dw_requantize(a1, ch + 4, lo, hi);
    output[c + 2] = (int8_t)dw_requantize(a2, ch + 8, lo, hi);
    output[c + 3] = (int8_t)dw_requantize(a3, ch + 12, lo, hi);
}

#if MCC_HAVE_V6M
/* ARMv6-M: one channel at a time (one sum: the loop fits the eight low registers). */
MCC_INLINE void v6m_dw_group(const int8_t *const *tap, int32_t pairs, int32_t c, const int32_t *w,
                             int32_t block, const int32_t *ch, int8_t *output, int32_t lo, int32_t hi)
{
    int32_t j, p;
    for (j = 0; j < 4; ++j) {
        const int32_t *wj = w + j;
        int32_t acc = ch[4 * j];
        for (p = 0; p < pairs; ++p, wj += block) {
            const int32_t wv = *wj;
            acc += tap[2 * p][c + j] * (int16_t)(wv & 0xFFFF) + tap[2 * p + 1][c + j] * (wv >> 16);
        }
        output[c + j] = (int8_t)dw_requantize(acc, ch + 4 * j, lo, hi);
    }
}
#endif

#if MCC_HAVE_DSP_ASM
/* Channels c..c+3 (constants ch) of one output pixel from the block's words w. */
MCC_INLINE void dw_group_dsp(const int8_t *const *tap, int32_t pairs, int32_t c, const int32_t *w,
                             int32_t block, const int32_t *ch, int8_t *output, int32_t lo,
                             int32_t hi)
{
    int32_t a0 = ch[0], a1 = ch[4], a2 = ch[8], a3 = ch[12];
    int32_t n = pairs;
    uint32_t pa, pb, e, w0, w1;
    if (block == 8) {
        __asm__(MCC_DW_LOOP_ASM(32) MCC_DW_OPERANDS);
    } else {
        __asm__(MCC_DW_LOOP_ASM(16) MCC_DW_OPERANDS);
    }
    output[c] = (int8_t)dw_requantize(a0, ch, lo, hi);
    output[c + 1] = (int8_t)dw_requantize(a1, ch + 4, lo, hi);
    output[c + 2] = (int8_t)dw_requantize(a2, ch + 8, lo, hi);
    output[c + 3] = (int8_t)dw_requantize(a3, ch + 12, lo, hi);
}

/* One channel's requantization inside the 3x3 loop below (full int8 clamp): SMMLAR with the
 * doubled sum, the rounding fix-up for negative sums, the shift, SSAT; stored post-incremented. */
#define MCC_DW_OUT_ASM(A, OFF)                                  \
    "ldrd %[w0], %[w1], [%[ch], #" #OFF " + 4]\n\t"             \
    "ldr %[e], [%[ch], #" #OFF " + 12]\n\t"                     \
    "smmlar %[w0], %[" #A "], %[w0], %[w1]\n\t"                 \
    "add %[w0], %[w0], %[" #A "], asr #31\n\t"                  \
    "asr %[w0], %[w0], %[e]\n\t"                                \
    "ssat %[w0], #8, %[w0]\n\t"                                 \
    "strb %[w0], [%[out]], #1\n\t"

/* The blocks of 8 channels of one output pixel of a 3x3 window with the full int8 clamp, one
 * loop in assembly over the groups of 4 (sums, requantization, stores): between the groups
 * GCC would otherwise move the thirteen registers the tap pairs need through the stack. */
MCC_INLINE void dw_pixel_3x3_dsp(const int8_t *const *tap, int32_t n8, const int32_t *w,
                                 const int32_t *ch, int8_t *out)
{
    int32_t a0, a1, a2, a3, c = 0;
    uint32_t pa, pb, e, w0, w1;
    __asm__ volatile(
        "1:\n\t"
        "ldr %[a0], [%[ch]]\n\t"
        "ldr %[a1], [%[ch], #16]\n\t"
        "ldr %[a2], [%[ch], #32]\n\t"
        "ldr %[a3], [%[ch], #48]\n\t"
        MCC_DW_3X3_ASM(32)
        MCC_DW_OUT_ASM(a0, 0) MCC_DW_OUT_ASM(a1, 16) MCC_DW_OUT_ASM(a2, 32) MCC_DW_OUT_ASM(a3, 48)
        "adds %[ch], %[ch], #64\n\t"
        "tst %[c], #4\n\t"
        "ite eq\n\t"
        "addeq %[w], %[w], #16\n\t"
        "addne %[w], %[w], #144\n\t"
        "adds %[c], %[c], #4\n\t"
        "ldr %[pa], %[n8]\n\t"
        "cmp %[c], %[pa]\n\t"
        "blt 1b\n\t"
        : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [pa] "=&r"(pa),
          [pb] "=&r"(pb), [e] "=&r"(e), [w0] "=&r"(w0), [w1] "=&r"(w1), [w] "+r"(w),
          [ch] "+r"(ch), [out] "+r"(out), [c] "+r"(c)
        : [taps] "r"(tap), [n8] "m"(n8)
        : "cc", "memory");
}
#undef MCC_DW_OUT_ASM

/* All fast channels of one output pixel: blocks of 8 (two groups of 4), then a block of 4. */
static void dw_pixel_dsp(const int8_t *const *tap, int32_t pairs, int32_t n4,
                         const int32_t *weights, const int32_t *ch, int8_t *output, int32_t lo,
                         int32_t hi)
{
    const int full_range = lo == -128 && hi == 127;
    int32_t n8 = n4 & ~7;
    const int32_t *w = weights;
    int32_t c;
    if (full_range && pairs == 5 && n8 > 0) {
        dw_pixel_3x3_dsp(tap, n8, w, ch, output);
        w += n8 * pairs;
        ch += 4 * n8;
        n8 = 0;
    }
    for (c = 0; c < n8; c += 4) {
        dw_group_dsp(tap, pairs, c, w, 8, ch, output, lo, hi);
        w += (c & 4) ? 8 * pairs - 4 : 4;
        ch += 16;
    }
    if (n4 & 4) {
        dw_group_dsp(tap, pairs, n4 & ~7, w, 4, ch, output, lo, hi);
    }
}
#undef MCC_DW_PAIR_ASM
#undef MCC_DW_OPERANDS
#undef MCC_DW_3X3_ASM
#undef MCC_DW_LOOP_ASM
#endif

/* All fast channels (n4, a multiple of 4) of one output pixel. */
MCC_INLINE void dw_pixel(const int8_t *const *tap, int32_t pairs, int32_t n4, const int32_t *weights,
                         const int32_t *ch, int8_t *output, int32_t lo, int32_t hi)
{
#if MCC_HAVE_DSP_ASM
    dw_pixel_dsp(tap, pairs, n4, weights, ch, output, lo, hi);
#else
    int32_t c;
    for (c = 0; c < n4; c += 4) {
        const int32_t start = c & ~7;
        const int32_t block = n4 - start >= 8 ? 8 : 4;
        const int32_t *w = weights + start * pairs + (c & 4);
#if MCC_HAVE_V6M
        v6m_dw_group(tap, pairs, c, w, block, ch + 4 * c, output, lo, hi);
#else
        dw_group(tap, pairs, c, w, block, ch + 4 * c, output, lo, hi);
#endif
    }
#endif
}

/* Where the taps of one layer's output pixels read. */
typedef struct {
    const mcc_dw_conv_fast_params *params;
    const int8_t *in_batch;
    const int8_t *zero_row;
    int32_t row_step, tap_step; /* bytes between the window's rows and its columns */
    int32_t in_h, in_w, n_ch, taps;
    int32_t span_h, span_w;  /* rows and columns the window covers */
} dw_window;

/* The input pixel of every tap of output pixel (oy, ox), the zero row for padded taps and the
 * slot that completes the last pair. Windows inside the input (most) step from their corner. */
MCC_INLINE void dw_taps(const dw_window *win, int32_t oy, int32_t ox, const int8_t **tap)
{
    const mcc_dw_conv_fast_params *params = win->params;
    const int32_t y0 = oy * params->stride.h - params->padding.h;
    const int32_t x0 = ox * params->stride.w - params->padding.w;
    int32_t t;
    if (y0 >= 0 && x0 >= 0 && y0 + win->span_h <= win->in_h && x0 + win->span_w <= win->in_w) {
        const int8_t *row = win->in_batch + (y0 * win->in_w + x0) * win->n_ch;
        const int8_t **end = tap + win->taps;
        const int8_t **slot = tap;
        while (slot != end) {
            const int8_t *src = row;
            const int8_t **row_end = slot + params->kernel.w;
            for (; slot != row_end; ++slot, src += win->tap_step) {
                *slot = src;
            }
            row += win->row_step;
        }
        t = win->taps;
    } else {
        int32_t ky, kx;
        t = 0;
        for (ky = 0; ky < params->kernel.h; ++ky) {
            const int32_t y = y0 + ky * params->dilation.h;
            if ((uint32_t)y >= (uint32_t)win->in_h) {
                for (kx = 0; kx < params->kernel.w; ++kx) {
                    tap[t++] = win->zero_row;
                }
                continue;
            }
            for (kx = 0; kx < params->kernel.w; ++kx) {
                const int32_t x = x0 + kx * params->dilation.w;
                tap[t++] = (uint32_t)x < (uint32_t)win->in_w
                               ? win->in_batch + (y * win->in_w + x) * win->n_ch : win->zero_row;
            }
        }
    }
    if (t & 1) {
        tap[t] = win->zero_row;
    }
}

mcc_status mcc_depthwise_conv2d_fast_s8(const mcc_dw_conv_fast_params *params,
                                        const mcc_dims *input_dims, const int8_t *input,
                                        const mcc_dims *output_dims, int8_t *output,
                                        void *scratch)
{
    const int32_t n_ch = params->channels_n; /* by 4: the last 1-3 are mcc_conv2d_channels_s8's */
    const int32_t n4 = n_ch & ~3;
    const int32_t taps = params->kernel.h * params->kernel.w;
    const int32_t slots = dw_slots(taps);
    const int32_t pairs = slots / 2;
    const int32_t pixels = output_dims->h * output_dims->w;
    const int32_t lo = params->activation.min;
    const int32_t hi = params->activation.max;
    int8_t *zero_row = (int8_t *)scratch;
    const int8_t **tap_a = (const int8_t **)(void *)(zero_row + ((n_ch + 7) & ~7));
    const int8_t **tap_b = tap_a + slots;
    dw_window win;
    int32_t b, i;
#if MCC_HAVE_MVE_ASM
    dw_lanes lanes;
    for (i = 0; i < 4; ++i) {
        lanes.even[i] = (uint32_t)(32 * i);
        lanes.odd[i] = (uint32_t)(32 * i + 16);
    }
    for (i = 0; i < 8; ++i) {
        lanes.lo[i] = (int16_t)lo;
        lanes.hi[i] = (int16_t)hi;
    }
#endif

    if (input_dims->c != n_ch || output_dims->c != n_ch || input_dims->n != output_dims->n) {
        return MCC_ERROR_ARGUMENT;
    }
    memset(zero_row, params->input_zero_point, (size_t)n_ch);
    win.params = params;
    win.zero_row = zero_row;
    win.row_step = params->dilation.h * input_dims->w * n_ch;
    win.tap_step = params->dilation.w * n_ch;
    win.in_h = input_dims->h;
    win.in_w = input_dims->w;
    win.n_ch = n_ch;
    win.taps = taps;
    win.span_h = (params->kernel.h - 1) * params->dilation.h + 1;
    win.span_w = (params->kernel.w - 1) * params->dilation.w + 1;
    for (b = 0; b < input_dims->n; ++b) {
        int32_t oy = 0, ox = 0;
        win.in_batch = input + b * win.in_h * win.in_w * n_ch;
#if MCC_HAVE_MVE_ASM
        /* Two output pixels at a time share each load of the weights. */
        for (i = 0; i < pixels; i += 2) {
            const int two = i + 1 < pixels;
            dw_taps(&win, oy, ox, tap_a);
            if (++ox == output_dims->w) {
                ox = 0;
                ++oy;
            }
            if (two) {
                dw_taps(&win, oy, ox, tap_b);
                if (++ox == output_dims->w) {
                    ox = 0;
                    ++oy;
                }
            }
            dw_blocks_mve(tap_a, two ? tap_b : tap_a, pairs, taps & 1, n4 & ~7, params->weights,
                          params->channels, output, two ? output + n_ch : output, &lanes);
            if (n4 & 4) {
                dw_tail_mve(tap_a, pairs, n4 - 4, params->weights, params->channels + 4 * (n4 - 4),
                            output, lo, hi);
                if (two) {
                    dw_tail_mve(tap_b, pairs, n4 - 4, params->weights,
                                params->channels + 4 * (n4 - 4), output + n_ch, lo, hi);
                }
            }
            output += (two ? 2 : 1) * n_ch;
        }
#else
        (void)tap_b;
        for (i = 0; i < pixels; ++i) {
            dw_taps(&win, oy, ox, tap_a);
            if (++ox == output_dims->w) {
                ox = 0;
                ++oy;
            }
            dw_pixel(tap_a, pairs, n4, params->weights, params->channels, output, lo, hi);
            output += n_ch;
        }
#endif
    }
    return MCC_OK;
}

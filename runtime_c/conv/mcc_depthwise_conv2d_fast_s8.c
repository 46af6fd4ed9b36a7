/* mcc_depthwise_conv2d_fast_s8 - int8 depthwise convolution (depth multiplier 1) on weights
 * specialised at export time (mcucompress/codegen/specialize.py); bit-exact with
 * mcc_depthwise_conv2d_s8 under TFLM rounding.
 *
 * Weights: int8, one byte each, the channels in blocks of 8 (the last block 4 when the count is
 * not a multiple of 8); block by block, tap by tap, the block's channels in order:
 * byte[block_start * taps + tap * block_width + j]. An MVE core widens a block's tap into one
 * vector of 8 channels, or (3x3, stride 1 or 2) runs a channel at a time on a plane of its input
 * with one VMLADAV per output; a DSP core pairs taps per channel with PKH + SXTB16, or (3x3,
 * stride 1 or 2) runs a channel at a time on a plane of its input whose words hold two
 * vertically adjacent values, or builds a channel's window once and runs it along strips of
 * widened activations.
 * channels: {bias, multiplier, round, shift} per channel as in mcc_conv2d_fast_s8 (input offset
 * folded into the doubled bias; the kernels double the sum of products). Padded taps read the
 * input zero point, which contributes nothing once the offset is folded.
 */
#include <stddef.h>
#include <string.h>

#include "mcc.h"
#include "mcc_nn.h"

#if MCC_HAVE_DSP
#include <arm_acle.h>
#endif

/* Set by the export for a model with a 3x3 depthwise layer at stride 2 (codegen/render.py): only
 * then is the strided strip code built, so other models' flash does not carry it. */
#ifndef MCC_DW_STRIDE2_STRIPS
#define MCC_DW_STRIDE2_STRIPS 0
#endif
/* Set by the export for MVE cores: MCC_DW_MVE_LINES when a layer runs in lines of one channel
 * (3x3, stride 1, MCC_DW_MVE_LINE_MIN outputs or more along the output's longer side), and
 * MCC_DW_MVE_TAPS 0 when every layer does: the taps path's MVE code then stays out of flash. */
#ifndef MCC_DW_MVE_LINES
#define MCC_DW_MVE_LINES 0
#endif
#ifndef MCC_DW_MVE_TAPS
#define MCC_DW_MVE_TAPS 1
#endif
#define MCC_DW_MVE_LINE_MIN 16
#define MCC_DW_MVE_LINES_ON (MCC_HAVE_MVE_ASM && MCC_DW_MVE_LINES)
/* Set by the export for MVE cores when a layer runs on channel planes (3x3, stride 1 or 2, see
 * dw_flat_fits): only then is that code built. */
#ifndef MCC_DW_MVE_FLAT
#define MCC_DW_MVE_FLAT 0
#endif
#define MCC_DW_MVE_FLAT_ON (MCC_HAVE_MVE_ASM && MCC_DW_MVE_FLAT)
/* The planes' working memory: at most this, and at most half the layer's input and output bytes
 * (so the scratch never outgrows the tensors around it by much). */
#define MCC_DW_FLAT_MAX_BYTES 16384
/* 16 outputs or more in lines of 6 or more, at stride 2 of 7 or more: shorter lines spend more on
 * interleaving whole groups of 16 columns and on each line's set-up than they save (DS-CNN's lines
 * of 5 would gain 1.8% for 124 B more RAM; stride 2 lines of 6 lose to the taps path by 2-7%, lines
 * of 7 win by a quarter on 32 channels) */
#define MCC_DW_FLAT_MIN_OUTPUTS 16
#define MCC_DW_TAPS_ON (!MCC_HAVE_MVE_ASM || MCC_DW_MVE_TAPS)
/* Set by the export for DSP cores when a layer runs on channel planes of row pairs (3x3, stride
 * 1, see dw_pairs_bytes): only then is that code built. Its plane takes at most
 * MCC_DW_PAIRS_MAX_BYTES and half the layer's input and output bytes; outputs of fewer than
 * MCC_DW_PAIRS_MIN_SIDE rows or columns stay on the taps or strips path (a 3x3 output: one pair
 * of columns and a lone one per pair of rows, one of them alone, loses to the taps path), and so
 * do outputs more than twice as tall as wide (DS-CNN's 25x5: strips down the long columns beat
 * quads along rows of 5, 199k against 270k instructions a layer). */
#ifndef MCC_DW_DSP_PLANES
#define MCC_DW_DSP_PLANES 0
#endif
#define MCC_DW_PAIRS_ON (MCC_HAVE_DSP && !MCC_HAVE_MVE_ASM && MCC_DW_DSP_PLANES)
#define MCC_DW_PAIRS_MAX_BYTES 16384
#define MCC_DW_PAIRS_MIN_SIDE 4
/* Shorter strips lose to the taps path: per channel and line their set-up outweighs the outputs
 * (at stride 2 each output also widens 4 entries). */
#define MCC_DW_STRIP_MIN_LEN 4
#define MCC_DW_STRIDE2_MIN_LEN 8
#if MCC_HAVE_MVE
#include <arm_mve.h>
#endif

/* Taps rounded up to a whole number of pairs. */
MCC_INLINE int32_t dw_slots(int32_t taps)
{
    return (taps + 1) & ~1;
}

/* Entries of one widened line of the strip path: the input positions a strip covers (its span,
 * (outputs - 1) * stride + 3), plus one read past them, rounded up to whole words. */
MCC_INLINE int32_t dw_strip_entries(int32_t span)
{
    return (span + 2) & ~1;
}

/* A layer's strips (kept in the scratch after the lines): lengths in entries, steps in bytes. */
typedef struct {
    int32_t len, out_lines;           /* outputs per strip, strips */
    int32_t in_len, in_lines, before, first;
    int32_t elem_step, line_step, out_step, out_line_step;
    int32_t lo, hi;
    int32_t along_y;
    int32_t zero_slots;               /* bit s: slot s holds zero points only */
    int32_t entries;                  /* of each widened line */
    int16_t zero;
    int16_t stride, line_stride;      /* along the strips and from one strip to the next */
} dw_strip_layer;

/* Scratch: the zero row (rounded up to 8 bytes: pointers follow), then the input pixel of every
 * tap slot of two output pixels; or, when the layer runs in strips (strip_span > 0: the input
 * positions a strip of a 3x3 layer's output covers along its longer side), three widened lines
 * and the layer's strip state if they need more. */
int32_t mcc_depthwise_conv2d_fast_s8_get_buffer_size(int32_t channels, int32_t taps, int32_t strip_span)
{
    const int32_t taps_bytes = ((channels + 7) & ~7) + 2 * dw_slots(taps) * (int32_t)sizeof(const int8_t *);
    const int32_t strip_bytes =
        strip_span > 0 ? ((3 * dw_strip_entries(strip_span) * 2 + (int32_t)sizeof(dw_strip_layer) + 7) & ~7) : 0;
    return strip_bytes > taps_bytes ? strip_bytes : taps_bytes;
}

/* Set by the export for DSP cores (codegen/specialize.py) when channels of a layer on the row-pair
 * planes clamp at or above the output zero point: such a channel's shift word is -(j - 1) < 0,
 * its weights and bias are scaled by 2^j instead of doubled, and TFLite's double rounding is
 * SMMLA with the channel's round, then an arithmetic shift by this (the same for every such
 * channel of the model: an immediate of SSAT), exact on every accumulator (codegen/relu_requant.py). */
#ifdef MCC_DW_RELU_SHIFT
#define MCC_DW_RELU_STR2(X) #X
#define MCC_DW_RELU_STR(X) MCC_DW_RELU_STR2(X)
#define MCC_DW_RELU_SHIFT_ASM "#" MCC_DW_RELU_STR(MCC_DW_RELU_SHIFT)
MCC_INLINE int32_t dw_relu_requant(int32_t scaled, int32_t multiplier, int32_t round)
{
    return (int32_t)(round + (int32_t)(((int64_t)scaled * multiplier) >> 32)) >> MCC_DW_RELU_SHIFT;
}
#endif
/* Such channels reach the taps path (and would reach the strips, which double their weights)
 * only where the row-pair planes are not built (a build without DSP, or MCC_DW_DSP_PLANES 0): the
 * export gives them only to layers that run on the planes. Elsewhere those paths check nothing. */
#if defined(MCC_DW_RELU_SHIFT) && !MCC_DW_PAIRS_ON
#define MCC_DW_RELU_TAPS 1
#else
#define MCC_DW_RELU_TAPS 0
#endif

MCC_INLINE int32_t dw_requantize(int32_t acc, const int32_t *ch, int32_t lo, int32_t hi)
{
    int32_t v;
#if MCC_DW_RELU_TAPS
    if (ch[3] < 0) {  /* acc: the doubled sum, 2^(j - 1) times smaller than the scaled one */
        v = dw_relu_requant(acc * ((int32_t)1 << -ch[3]), ch[1], ch[2]);
    } else
#endif
    {
        v = mcc_nn_smmlar(acc, ch[1], ch[2]);
        v = (v + (acc >> 31)) >> ch[3];
    }
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
 * tap a widening load of the block's 8 weights, per pixel and tap a widening load of 8
 * activations and VQDMULLB / VQDMULLT (doubled products, never saturating for int8 values) into
 * the even and odd channels' sums (q0 q1 pixel a, q2 q3 pixel b). Then, on 4 lanes at a time, VRMULH (SMMLAR without the accumulate) and the shift; narrowing with int16
 * saturation puts the channels back in order and keeps every value the int8 clamp would change
 * out of range, so the clamp runs once on 8 lanes. Written in assembly: the loop needs all
 * eight Q registers, and GCC 12 spills when it allocates them. */
MCC_INLINE void dw_block_mve(const int8_t *const *ta, const int8_t *const *tb, int32_t full,
                             int32_t c, const int8_t *w, const dw_mve_block *blk)
{
    const int8_t *pa, *qa;
    __asm__ volatile(
        "ldr %[pa], [%[blk]]\n\t"
        "ldr %[qa], [%[blk], #4]\n\t"
        "vldrw.u32 q7, [%[qa]]\n\t"
        "vadd.i32 q6, q7, %[pa]\n\t"
        "vldrw.u32 q0, [q6]\n\t"
        "vldrw.u32 q7, [%[qa], #16]\n\t"
        "vadd.i32 q6, q7, %[pa]\n\t"
        "vldrw.u32 q1, [q6]\n\t"
        "vmov q2, q0\n\t"
        "vmov q3, q1\n\t"
        "cmp %[full], #0\n\t"
        "beq 2f\n"
        "1:\n\t"
        "ldrd %[pa], %[qa], [%[ta]], #8\n\t"
        "vldrb.s16 q4, [%[w]], #16\n\t"
        "add %[pa], %[pa], %[c]\n\t"
        "vldrb.s16 q5, [%[w], #-8]\n\t"
        "add %[qa], %[qa], %[c]\n\t"
        "vldrb.s16 q6, [%[pa]]\n\t"
        "vqdmullb.s16 q7, q6, q4\n\t"
        "vadd.i32 q0, q0, q7\n\t"
        "vqdmullt.s16 q7, q6, q4\n\t"
        "vldrb.s16 q6, [%[qa]]\n\t"
        "ldrd %[pa], %[qa], [%[tb]], #8\n\t"
        "vadd.i32 q1, q1, q7\n\t"
        "vqdmullb.s16 q7, q6, q5\n\t"
        "add %[pa], %[pa], %[c]\n\t"
        "vadd.i32 q0, q0, q7\n\t"
        "vqdmullt.s16 q7, q6, q5\n\t"
        "add %[qa], %[qa], %[c]\n\t"
        "vldrb.s16 q6, [%[pa]]\n\t"
        "vadd.i32 q1, q1, q7\n\t"
        "vqdmullb.s16 q7, q6, q4\n\t"
        "vadd.i32 q2, q2, q7\n\t"
        "vqdmullt.s16 q7, q6, q4\n\t"
        "vldrb.s16 q6, [%[qa]]\n\t"
        "vadd.i32 q3, q3, q7\n\t"
        "vqdmullb.s16 q7, q6, q5\n\t"
        "vadd.i32 q2, q2, q7\n\t"
        "vqdmullt.s16 q7, q6, q5\n\t"
        "subs %[full], %[full], #1\n\t"
        "vadd.i32 q3, q3, q7\n\t"
        "bne 1b\n"
        "2:\n\t"
        "ldr %[pa], [%[blk], #16]\n\t"
        "cbz %[pa], 3f\n\t"
        "ldr %[pa], [%[ta]]\n\t"
        "ldr %[qa], [%[tb]]\n\t"
        "vldrb.s16 q4, [%[w]]\n\t"
        "add %[pa], %[pa], %[c]\n\t"
        "add %[qa], %[qa], %[c]\n\t"
        "vldrb.s16 q6, [%[pa]]\n\t"
        "vqdmullb.s16 q7, q6, q4\n\t"
        "vadd.i32 q0, q0, q7\n\t"
        "vqdmullt.s16 q7, q6, q4\n\t"
        "vldrb.s16 q6, [%[qa]]\n\t"
        "vadd.i32 q1, q1, q7\n\t"
        "vqdmullb.s16 q7, q6, q4\n\t"
        "vadd.i32 q2, q2, q7\n\t"
        "vqdmullt.s16 q7, q6, q4\n\t"
        "vadd.i32 q3, q3, q7\n"
        "3:\n\t"
        "ldr %[pa], [%[blk]]\n\t"
        "ldr %[qa], [%[blk], #4]\n\t"
        "vldrw.u32 q7, [%[qa]]\n\t"
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
        "vldrw.u32 q7, [%[qa], #16]\n\t"
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
        "vldrh.u16 q6, [%[qa], #32]\n\t"
        "vldrh.u16 q7, [%[qa], #48]\n\t"
        "vmax.s16 q4, q4, q6\n\t"
        "vmax.s16 q5, q5, q6\n\t"
        "vmin.s16 q4, q4, q7\n\t"
        "vmin.s16 q5, q5, q7\n\t"
        "ldrd %[pa], %[qa], [%[blk], #8]\n\t"
        "add %[pa], %[pa], %[c]\n\t"
        "add %[qa], %[qa], %[c]\n\t"
        "vstrb.16 q5, [%[qa]]\n\t"
        "vstrb.16 q4, [%[pa]]\n\t"
        : [pa] "=&l"(pa), [qa] "=&l"(qa), [ta] "+r"(ta),
          [tb] "+r"(tb), [w] "+l"(w), [full] "+r"(full)
        : [c] "r"(c), [blk] "r"(blk)
        : "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12", "d13",
          "d14", "d15", "cc", "memory");
}

/* Blocks of 8 channels of two output pixels (pixel b = pixel a for a single one). */
#if MCC_DW_TAPS_ON
static void dw_blocks_mve(const int8_t *const *tap_a, const int8_t *const *tap_b, int32_t taps,
                          int32_t n8, const int32_t *weights, const int32_t *ch,
                          int8_t *out_a, int8_t *out_b, const dw_lanes *lanes)
{
    dw_mve_block blk;
    int32_t c;
    blk.lanes = (const int32_t *)(const void *)lanes;
    blk.out_a = out_a;
    blk.out_b = out_b;
    blk.odd = taps & 1;
    for (c = 0; c < n8; c += 8) {
        blk.ch = ch + 4 * c;
        dw_block_mve(tap_a, tap_b, taps >> 1, c, (const int8_t *)(const void *)weights + c * taps,
                     &blk);
    }
}

/* The last block of 4 channels of one pixel: per tap a widening load of its 4 weights and of
 * the pixel's 4 activations, multiplied in 32-bit lanes. */
static void dw_tail_mve(const int8_t *const *tap, int32_t taps, int32_t c, const int32_t *weights,
                        const int32_t *ch, int8_t *output, int32_t lo, int32_t hi)
{
    static const uint32_t rows[4] = {0, 16, 32, 48};
    const uint32x4_t off = vld1q_u32(rows);
    const int8_t *w = (const int8_t *)(const void *)weights + c * taps;
    int32x4_t sum = vdupq_n_s32(0);
    int32x4_t acc, v;
    int32_t t;
    for (t = 0; t < taps; ++t) {
        sum = vaddq_s32(sum, vmulq_s32(vldrbq_s32(tap[t] + c), vldrbq_s32(w + 4 * t)));
    }
    acc = vaddq_s32(vldrwq_gather_offset_s32(ch, off), vaddq_s32(sum, sum));
    v = dw_requantize_mve(acc, vldrwq_gather_offset_s32(ch + 1, off), vldrwq_gather_offset_s32(ch + 2, off),
                          vnegq_s32(vldrwq_gather_offset_s32(ch + 3, off)));
    v = vminq_s32(vmaxq_s32(v, vdupq_n_s32(lo)), vdupq_n_s32(hi));
    vstrbq_s32(output + c, v);
}
#endif
#endif

#if MCC_HAVE_DSP_ASM
/* dw_group's pairs of taps (below) with the weights' tap step BLOCK: per pair the two tap
 * pointers (LDRD, post-increment), their 4 channels and the 4 weights of each tap, PKHBT/PKHTB
 * into (tap t, tap t + 1) byte pairs, SXTB16 and 4 SMLAD. */
#define MCC_DW_PAIRS_ASM(BLOCK)                                                                  \
    __asm__ volatile("1:\n\t"                                                                    \
                     "ldrd %[x], %[y], [%[tap]], #8\n\t"                                          \
                     "ldr %[v], [%[w], #" #BLOCK "]\n\t"                                          \
                     "ldr %[u], [%[w]], #2 * " #BLOCK "\n\t"                                      \
                     "ldr %[x], [%[x], %[c]]\n\t"                                                 \
                     "ldr %[y], [%[y], %[c]]\n\t"                                                 \
                     "pkhbt %[lo], %[x], %[y], lsl #16\n\t"                                       \
                     "pkhtb %[y], %[y], %[x], asr #16\n\t"                                        \
                     "pkhbt %[x], %[u], %[v], lsl #16\n\t"                                        \
                     "pkhtb %[v], %[v], %[u], asr #16\n\t"                                        \
                     "sxtb16 %[u], %[lo]\n\t"                                                     \
                     "sxtb16 %[tmp], %[x]\n\t"                                                    \
                     "smlad %[a0], %[u], %[tmp], %[a0]\n\t"                                       \
                     "sxtb16 %[u], %[lo], ror #8\n\t"                                             \
                     "sxtb16 %[tmp], %[x], ror #8\n\t"                                            \
                     "smlad %[a1], %[u], %[tmp], %[a1]\n\t"                                       \
                     "sxtb16 %[u], %[y]\n\t"                                                      \
                     "sxtb16 %[tmp], %[v]\n\t"                                                    \
                     "smlad %[a2], %[u], %[tmp], %[a2]\n\t"                                       \
                     "sxtb16 %[u], %[y], ror #8\n\t"                                              \
                     "sxtb16 %[tmp], %[v], ror #8\n\t"                                            \
                     "smlad %[a3], %[u], %[tmp], %[a3]\n\t"                                       \
                     "subs %[n], %[n], #1\n\t"                                                    \
                     "bne 1b\n\t"                                                                 \
                     : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [tap] "+r"(pair), \
                       [w] "+r"(w), [n] "+r"(pairs), [x] "=&r"(x), [y] "=&r"(y), [u] "=&r"(u),      \
                       [v] "=&r"(v), [lo] "=&r"(lo_pair), [tmp] "=&r"(tmp)                          \
                     : [c] "r"(c)                                                                 \
                     : "cc", "memory")
#endif

#if MCC_HAVE_DSP_ASM
/* Channel J of a group: its sum A doubled, requantized with the constants at ch + 16 J, saturated
 * to int8 and stored at out + J. */
#define MCC_DW_GROUP_OUT_ASM(A, J)                              \
    "ldrd %[m], %[r], [%[ch], #16 * " #J " + 4]\n\t"             \
    "ldr %[s], [%[ch], #16 * " #J " + 12]\n\t"                   \
    "lsl %[" #A "], %[" #A "], #1\n\t"                           \
    "smmlar %[m], %[" #A "], %[m], %[r]\n\t"                     \
    "add %[m], %[m], %[" #A "], asr #31\n\t"                     \
    "asr %[m], %[m], %[s]\n\t"                                   \
    "ssat %[m], #8, %[m]\n\t"                                    \
    "strb %[m], [%[out], #" #J "]\n\t"
#endif

#if MCC_DW_RELU_TAPS && !MCC_HAVE_MVE_ASM
/* Whether a channel of the layer takes the two-instruction requantization (see dw_requantize). */
static int dw_relu_layer(const mcc_dw_conv_fast_params *params)
{
    const int32_t n4 = params->channels_n & ~3;
    int32_t c;
    for (c = 0; c < n4; ++c) {
        if (params->channels[4 * c + 3] < 0) {
            return 1;
        }
    }
    return 0;
}
#endif

/* A layer on tap pairs with channels of the two-instruction requantization (dw_relu_layer, see
 * MCC_DW_RELU_TAPS) requantizes in C; the argument is there only then. */
#if MCC_DW_RELU_TAPS
#define MCC_DW_RELU_PARAM , int relu
#define MCC_DW_RELU_PASS , relu
#else
#define MCC_DW_RELU_PARAM
#define MCC_DW_RELU_PASS
#endif

/* Four channels c..c+3 of one output pixel, one sum per channel over the taps; w: the
 * channels' weights of tap 0, block: bytes per tap (the block's width). The sums start at half
 * the doubled bias and are doubled before the requantization. */
MCC_INLINE void dw_group(const int8_t *const *tap, int32_t taps, int32_t c, const int8_t *w,
                         int32_t block, const int32_t *ch, int8_t *output, int32_t lo, int32_t hi MCC_DW_RELU_PARAM)
{
    int32_t a0 = ch[0] >> 1, a1 = ch[4] >> 1, a2 = ch[8] >> 1, a3 = ch[12] >> 1;
    int32_t t = 0;
#if MCC_DW_RELU_TAPS && !MCC_HAVE_DSP_ASM
    (void)relu;
#endif
#if MCC_HAVE_DSP
    /* a pair of taps: the bytes of both words merged into a0 a1 b0 b1 and a2 a3 b2 b3 (PKH),
     * SXTB16 of those is one (tap t, tap t + 1) pair per channel, activations and weights alike */
#if MCC_HAVE_DSP_ASM
    if (taps >= 2) {  /* 23 instructions per pair of taps; the block width is an immediate */
        const int8_t *const *pair = tap;
        int32_t pairs = taps >> 1;
        uint32_t x, y, u, v, lo_pair, tmp;
        if (block == 8) {
            MCC_DW_PAIRS_ASM(8);
        } else {
            MCC_DW_PAIRS_ASM(4);
        }
        t = taps & ~1;
    }
#else
    for (; t + 1 < taps; t += 2, w += 2 * block) {
        uint32_t a, b, u, v, x_lo, x_hi, w_lo, w_hi;
        memcpy(&a, tap[t] + c, 4);
        memcpy(&b, tap[t + 1] + c, 4);
        memcpy(&u, w, 4);
        memcpy(&v, w + block, 4);
        x_lo = (a & 0xFFFFu) | (b << 16);
        x_hi = (b & 0xFFFF0000u) | (a >> 16);
        w_lo = (u & 0xFFFFu) | (v << 16);
        w_hi = (v & 0xFFFF0000u) | (u >> 16);
        a0 = __smlad(__sxtb16(x_lo), __sxtb16(w_lo), a0);
        a1 = __smlad(mcc_nn_sxtb16_ror8(x_lo), mcc_nn_sxtb16_ror8(w_lo), a1);
        a2 = __smlad(__sxtb16(x_hi), __sxtb16(w_hi), a2);
        a3 = __smlad(mcc_nn_sxtb16_ror8(x_hi), mcc_nn_sxtb16_ror8(w_hi), a3);
    }
#endif
    if (t < taps) {
        uint32_t a, u, x_ev, x_od, w_ev, w_od;
        memcpy(&a, tap[t] + c, 4);
        memcpy(&u, w, 4);
        x_ev = __sxtb16(a);
        x_od = mcc_nn_sxtb16_ror8(a);
        w_ev = __sxtb16(u);
        w_od = mcc_nn_sxtb16_ror8(u);
        a0 = __smlabb(x_ev, w_ev, a0);
        a2 = __smlatt(x_ev, w_ev, a2);
        a1 = __smlabb(x_od, w_od, a1);
        a3 = __smlatt(x_od, w_od, a3);
    }
#if MCC_HAVE_DSP_ASM
#if MCC_DW_RELU_TAPS
    if (lo == -128 && hi == 127 && !relu) {
#else
    if (lo == -128 && hi == 127) {  /* the whole int8 range: requantized and stored in assembly */
#endif
        uint32_t m, r, s;
        __asm__ volatile(MCC_DW_GROUP_OUT_ASM(a0, 0) MCC_DW_GROUP_OUT_ASM(a1, 1) MCC_DW_GROUP_OUT_ASM(a2, 2)
                         MCC_DW_GROUP_OUT_ASM(a3, 3)
                         : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [m] "=&r"(m), [r] "=&r"(r),
                           [s] "=&r"(s)
                         : [ch] "r"(ch), [out] "r"(output + c), "m"(*(const int32_t(*)[16])(const void *)ch)
                         : "memory");
        return;
    }
#endif
#else
    for (; t < taps; ++t, w += block) {
        const int8_t *s = tap[t] + c;
        a0 += s[0] * w[0];
        a1 += s[1] * w[1];
        a2 += s[2] * w[2];
        a3 += s[3] * w[3];
    }
#endif
    output[c] = (int8_t)dw_requantize(2 * a0, ch, lo, hi);
    output[c + 1] = (int8_t)dw_requantize(2 * a1, ch + 4, lo, hi);
    output[c + 2] = (int8_t)dw_requantize(2 * a2, ch + 8, lo, hi);
    output[c + 3] = (int8_t)dw_requantize(2 * a3, ch + 12, lo, hi);
}

#if MCC_HAVE_V6M
/* ARMv6-M: one channel at a time (one sum: the loop fits the eight low registers). */
MCC_INLINE void v6m_dw_group(const int8_t *const *tap, int32_t taps, int32_t c, const int8_t *w,
                             int32_t block, const int32_t *ch, int8_t *output, int32_t lo, int32_t hi)
{
    int32_t j, t;
    for (j = 0; j < 4; ++j) {
        const int8_t *wj = w + j;
        int32_t acc = ch[4 * j] >> 1;
        for (t = 0; t < taps; ++t, wj += block) {
            acc += tap[t][c + j] * *wj;
        }
        output[c + j] = (int8_t)dw_requantize(2 * acc, ch + 4 * j, lo, hi);
    }
}
#endif

/* All fast channels (n4, a multiple of 4) of one output pixel. */
MCC_INLINE void dw_pixel(const int8_t *const *tap, int32_t taps, int32_t n4, const int32_t *weights,
                         const int32_t *ch, int8_t *output, int32_t lo, int32_t hi MCC_DW_RELU_PARAM)
{
    const int8_t *bytes = (const int8_t *)(const void *)weights;
    int32_t c;
    for (c = 0; c < n4; c += 4) {
        const int32_t start = c & ~7;
        const int32_t block = n4 - start >= 8 ? 8 : 4;
        const int8_t *w = bytes + start * taps + (c & 4);
#if MCC_HAVE_V6M
        v6m_dw_group(tap, taps, c, w, block, ch + 4 * c, output, lo, hi);
#if MCC_DW_RELU_TAPS
        (void)relu;  /* requantized in C (dw_requantize) */
#endif
#else
        dw_group(tap, taps, c, w, block, ch + 4 * c, output, lo, hi MCC_DW_RELU_PASS);
#endif
    }
}

#if defined(__GNUC__)
#define MCC_DW_NOINLINE __attribute__((noinline))
#else
#define MCC_DW_NOINLINE
#endif

#if MCC_HAVE_DSP && !MCC_HAVE_MVE_ASM
/* 3x3 windows, stride 1, on a DSP core: channel by channel, the input's lines (rows, or columns
 * when the output is taller than wide) are widened to int16 once each into three slots, and the
 * channel's window is held as two words per window line, (w0, w1) and (w1, w2) doubled. One word
 * (e[i], e[i+1]) of a widened line then serves two neighbouring outputs: output i takes
 * SMLAD((e[i], e[i+1]), (w0, w1)) + e[i+2] * w2 and output i + 1 takes e[i+1] * w0 +
 * SMLAD((e[i+2], e[i+3]), (w1, w2)), so four outputs cost 3 loads and 8 multiplies a line.
 * The slots are interleaved word by word (word j of slot s at word 3 * j + s), so one pointer
 * with fixed offsets reaches all three; output line o finds window line l in slot (o + l) % 3,
 * and the weights are put in slot order for each output line instead of moving the lines. */
typedef struct {
    uint32_t slot[3][2];      /* (w0, w1), (w1, w2) of the window line in each slot */
    int32_t bias, multiplier, round, shift;
    int32_t lo, hi;           /* the clamp */
} dw_strip_channel;

/* One sum of a channel-at-a-time DSP path requantized and clamped (SSAT for the whole int8 range). */
MCC_INLINE int8_t dw_channel_out(int32_t acc, int32_t multiplier, int32_t round, int32_t shift, int32_t lo,
                                 int32_t hi, int full_range)
{
    int32_t v = mcc_nn_smmlar(acc, multiplier, round);
    v = (v + (acc >> 31)) >> shift;
    if (full_range) {
        return (int8_t)__ssat(v, 8);
    }
    v = v < lo ? lo : v;
    return (int8_t)(v > hi ? hi : v);
}

MCC_INLINE int8_t dw_strip_out(int32_t acc, const dw_strip_channel *k, int32_t lo, int32_t hi,
                               int full_range)
{
    return dw_channel_out(acc, k->multiplier, k->round, k->shift, lo, hi, full_range);
}

#if MCC_HAVE_DSP_ASM
/* One slot's line of 4 outputs: words j, j + 1, j + 2 (byte offsets 0, 12, 24 from the group,
 * plus 4 per slot) against the slot's two weight words. */
#define MCC_DW_STRIP_SLOT_ASM(S)                                \
    "ldr %[x0], [%[p], #4 * " #S "]\n\t"                        \
    "ldr %[x1], [%[p], #12 + 4 * " #S "]\n\t"                   \
    "ldr %[x2], [%[p], #24 + 4 * " #S "]\n\t"                   \
    "ldrd %[wa], %[wb], [%[k], #8 * " #S "]\n\t"                \
    "smlad %[a0], %[x0], %[wa], %[a0]\n\t"                      \
    "smlabt %[a0], %[x1], %[wb], %[a0]\n\t"                     \
    "smlatb %[a1], %[x0], %[wa], %[a1]\n\t"                     \
    "smlad %[a1], %[x1], %[wb], %[a1]\n\t"                      \
    "smlad %[a2], %[x1], %[wa], %[a2]\n\t"                      \
    "smlabt %[a2], %[x2], %[wb], %[a2]\n\t"                     \
    "smlatb %[a3], %[x1], %[wa], %[a3]\n\t"                     \
    "smlad %[a3], %[x2], %[wb], %[a3]\n\t"
/* Slot 0 of 4 outputs, the sums starting from the bias in a3. */
#define MCC_DW_STRIP_FIRST_ASM                                  \
    "ldr %[a3], [%[k], #24]\n\t"                                \
    "ldr %[x0], [%[p]]\n\t"                                     \
    "ldr %[x1], [%[p], #12]\n\t"                                \
    "ldr %[x2], [%[p], #24]\n\t"                                \
    "ldrd %[wa], %[wb], [%[k]]\n\t"                             \
    "smlad %[a0], %[x0], %[wa], %[a3]\n\t"                      \
    "smlatb %[a1], %[x0], %[wa], %[a3]\n\t"                     \
    "smlad %[a2], %[x1], %[wa], %[a3]\n\t"                      \
    "smlatb %[a3], %[x1], %[wa], %[a3]\n\t"                     \
    "smlabt %[a0], %[x1], %[wb], %[a0]\n\t"                     \
    "smlad %[a1], %[x1], %[wb], %[a1]\n\t"                      \
    "smlabt %[a2], %[x2], %[wb], %[a2]\n\t"                     \
    "smlad %[a3], %[x2], %[wb], %[a3]\n\t"
/* One slot of 2 outputs (words at byte offsets 0 and 12, plus 4 per slot). */
#define MCC_DW_STRIP_PAIR_ASM(S)                                \
    "ldr %[x0], [%[p], #4 * " #S "]\n\t"                        \
    "ldr %[x1], [%[p], #12 + 4 * " #S "]\n\t"                   \
    "ldrd %[wa], %[wb], [%[k], #8 * " #S "]\n\t"                \
    "smlad %[a0], %[x0], %[wa], %[a0]\n\t"                      \
    "smlabt %[a0], %[x1], %[wb], %[a0]\n\t"                     \
    "smlatb %[a1], %[x0], %[wa], %[a1]\n\t"                     \
    "smlad %[a1], %[x1], %[wb], %[a1]\n\t"
/* One slot of 1 output: SMLAD of word j with (w0, w1), SMLABT of word j + 1 with (w1, w2); at
 * stride 2 every output is one of these, on words j .. j + 4 for 4 outputs. */
#define MCC_DW_STRIP_ONE_ASM(S)                                 \
    "ldr %[x0], [%[p], #4 * " #S "]\n\t"                        \
    "ldr %[x1], [%[p], #12 + 4 * " #S "]\n\t"                   \
    "ldrd %[wa], %[wb], [%[k], #8 * " #S "]\n\t"                \
    "smlad %[a0], %[x0], %[wa], %[a0]\n\t"                      \
    "smlabt %[a0], %[x1], %[wb], %[a0]\n\t"
/* The requantization constants: multiplier wa, round wb, shift x2; a clamp's bounds x1 and k. */
#define MCC_DW_STRIP_CONSTS_ASM                                 \
    "ldrd %[wa], %[wb], [%[k], #28]\n\t"                        \
    "ldr %[x2], [%[k], #36]\n\t"
#define MCC_DW_STRIP_BOUNDS_ASM                                 \
    "ldr %[x1], [%[k], #40]\n\t"                                \
    "ldr %[k], [%[k], #44]\n\t"
/* One output requantized into x0, saturated to int8 (the full clamp) or clamped to x1 .. k. */
#define MCC_DW_STRIP_OUT_ASM(A)                                 \
    "smmlar %[x0], %[" #A "], %[wa], %[wb]\n\t"                 \
    "add %[x0], %[x0], %[" #A "], asr #31\n\t"                  \
    "asr %[x0], %[x0], %[x2]\n\t"                               \
    "ssat %[x0], #8, %[x0]\n\t"
#define MCC_DW_STRIP_CLAMP_ASM(A)                               \
    "smmlar %[x0], %[" #A "], %[wa], %[wb]\n\t"                 \
    "add %[x0], %[x0], %[" #A "], asr #31\n\t"                  \
    "asr %[x0], %[x0], %[x2]\n\t"                               \
    "cmp %[x0], %[x1]\n\t"                                      \
    "it lt\n\t"                                                 \
    "movlt %[x0], %[x1]\n\t"                                    \
    "cmp %[x0], %[k]\n\t"                                       \
    "it gt\n\t"                                                 \
    "movgt %[x0], %[k]\n\t"
/* Outputs a0 .. a3 (a0 a1; a0) requantized by OUT and stored `step` apart. */
#define MCC_DW_STRIP_STORE4_ASM(OUT)                            \
    OUT(a0) "strb %[x0], [%[out]]\n\t"                          \
    OUT(a1) "strb %[x0], [%[out], %[step]]\n\t"                 \
    "add %[out], %[out], %[step], lsl #1\n\t"                   \
    OUT(a2) "strb %[x0], [%[out]]\n\t"                          \
    OUT(a3) "strb %[x0], [%[out], %[step]]\n\t"                 \
    "add %[out], %[out], %[step], lsl #1\n\t"
#define MCC_DW_STRIP_STORE2_ASM(OUT)                            \
    OUT(a0) "strb %[x0], [%[out]]\n\t"                          \
    OUT(a1) "strb %[x0], [%[out], %[step]]\n\t"                 \
    "add %[out], %[out], %[step], lsl #1\n\t"
#define MCC_DW_STRIP_STORE1_ASM(OUT) OUT(a0) "strb %[x0], [%[out]]\n\t"
/* The sums start from the bias. */
#define MCC_DW_STRIP_BIAS2_ASM "ldr %[a0], [%[k], #24]\n\tmov %[a1], %[a0]\n\t"
#define MCC_DW_STRIP_BIAS1_ASM "ldr %[a0], [%[k], #24]\n\t"
/* One block of outputs (TEXT: sums, requantization and stores) reading WORDS words of the ring;
 * a clamped block overwrites its copy of k with a bound. */
#define MCC_DW_STRIP_OUTPUTS                                                                           \
    [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [x0] "=&r"(x0), [x1] "=&r"(x1),    \
        [x2] "=&r"(x2), [wa] "=&r"(wa), [wb] "=&r"(wb), [out] "+r"(out)
#define MCC_DW_STRIP_INPUTS(WORDS)                                                                     \
    [p] "r"(p), [step] "r"(step), "m"(*(const uint32_t(*)[WORDS])(const void *)p), "m"(*k)
#define MCC_DW_STRIP_BLOCK_ASM(TEXT, WORDS)                                                            \
    __asm__ volatile(TEXT : MCC_DW_STRIP_OUTPUTS : [k] "r"(k), MCC_DW_STRIP_INPUTS(WORDS) : "memory")
#define MCC_DW_STRIP_CLAMP_BLOCK_ASM(TEXT, WORDS)                                                      \
    kk = k;                                                                                            \
    __asm__ volatile(TEXT : MCC_DW_STRIP_OUTPUTS, [k] "+r"(kk) : MCC_DW_STRIP_INPUTS(WORDS) : "memory")
#define MCC_DW_STRIP_DECLS                                      \
    int32_t a0, a1, a2, a3;                                     \
    uint32_t x0, x1, x2, wa, wb;                                \
    const dw_strip_channel *kk
/* The last output of a strip (a line of it: words j and j + 1), at either stride (`step`: an
 * operand of the block, not used by it). */
MCC_INLINE void dw_strip_last(const uint32_t *p, const dw_strip_channel *k, int8_t *out, int32_t step,
                              int full_range)
{
    MCC_DW_STRIP_DECLS;
    if (full_range) {
        MCC_DW_STRIP_BLOCK_ASM(MCC_DW_STRIP_BIAS1_ASM MCC_DW_STRIP_ONE_ASM(0) MCC_DW_STRIP_ONE_ASM(1)
                               MCC_DW_STRIP_ONE_ASM(2) MCC_DW_STRIP_CONSTS_ASM
                               MCC_DW_STRIP_STORE1_ASM(MCC_DW_STRIP_OUT_ASM), 6);
    } else {
        MCC_DW_STRIP_CLAMP_BLOCK_ASM(MCC_DW_STRIP_BIAS1_ASM MCC_DW_STRIP_ONE_ASM(0) MCC_DW_STRIP_ONE_ASM(1)
                                     MCC_DW_STRIP_ONE_ASM(2) MCC_DW_STRIP_CONSTS_ASM MCC_DW_STRIP_BOUNDS_ASM
                                     MCC_DW_STRIP_STORE1_ASM(MCC_DW_STRIP_CLAMP_ASM), 6);
    }
}
#endif

/* The outputs of one strip of one channel at stride 1 (ring: the interleaved slots); out steps
 * by `step`. */
MCC_INLINE void dw_strip_run(const int16_t *ring, int32_t len, const dw_strip_channel *k, int8_t *out,
                             int32_t step, int32_t lo, int32_t hi, int full_range)
{
    const uint32_t *p = (const uint32_t *)(const void *)ring;
    int32_t i = 0;
#if MCC_HAVE_DSP_ASM
    MCC_DW_STRIP_DECLS;
    (void)lo;
    (void)hi;
    for (i = len >> 2; i > 0; --i, p += 6) {
        if (full_range) {
            MCC_DW_STRIP_BLOCK_ASM(MCC_DW_STRIP_FIRST_ASM MCC_DW_STRIP_SLOT_ASM(1) MCC_DW_STRIP_SLOT_ASM(2)
                                   MCC_DW_STRIP_CONSTS_ASM MCC_DW_STRIP_STORE4_ASM(MCC_DW_STRIP_OUT_ASM), 18);
        } else {
            MCC_DW_STRIP_CLAMP_BLOCK_ASM(MCC_DW_STRIP_FIRST_ASM MCC_DW_STRIP_SLOT_ASM(1) MCC_DW_STRIP_SLOT_ASM(2)
                                   MCC_DW_STRIP_CONSTS_ASM MCC_DW_STRIP_BOUNDS_ASM
                                   MCC_DW_STRIP_STORE4_ASM(MCC_DW_STRIP_CLAMP_ASM), 18);
        }
    }
    if (len & 2) {  /* at most one pair and one single output after the fours */
        if (full_range) {
            MCC_DW_STRIP_BLOCK_ASM(MCC_DW_STRIP_BIAS2_ASM MCC_DW_STRIP_PAIR_ASM(0) MCC_DW_STRIP_PAIR_ASM(1)
                                   MCC_DW_STRIP_PAIR_ASM(2) MCC_DW_STRIP_CONSTS_ASM
                                   MCC_DW_STRIP_STORE2_ASM(MCC_DW_STRIP_OUT_ASM), 6);
        } else {
            MCC_DW_STRIP_CLAMP_BLOCK_ASM(MCC_DW_STRIP_BIAS2_ASM MCC_DW_STRIP_PAIR_ASM(0) MCC_DW_STRIP_PAIR_ASM(1)
                                   MCC_DW_STRIP_PAIR_ASM(2) MCC_DW_STRIP_CONSTS_ASM MCC_DW_STRIP_BOUNDS_ASM
                                   MCC_DW_STRIP_STORE2_ASM(MCC_DW_STRIP_CLAMP_ASM), 6);
        }
        p += 3;
    }
    if (len & 1) {
        dw_strip_last(p, k, out, step, full_range);
    }
#else
    for (; i + 4 <= len; i += 4, p += 6) {
        int32_t a0, a1, a2, a3, s;
        a0 = a1 = a2 = a3 = k->bias;
        for (s = 0; s < 3; ++s) {
            const uint32_t x0 = p[s], x1 = p[3 + s], x2 = p[6 + s];
            a0 = __smlabt(x1, k->slot[s][1], __smlad(x0, k->slot[s][0], a0));
            a1 = __smlad(x1, k->slot[s][1], __smlatb(x0, k->slot[s][0], a1));
            a2 = __smlabt(x2, k->slot[s][1], __smlad(x1, k->slot[s][0], a2));
            a3 = __smlad(x2, k->slot[s][1], __smlatb(x1, k->slot[s][0], a3));
        }
        out[0] = dw_strip_out(a0, k, lo, hi, full_range);
        out[step] = dw_strip_out(a1, k, lo, hi, full_range);
        out[2 * step] = dw_strip_out(a2, k, lo, hi, full_range);
        out[3 * step] = dw_strip_out(a3, k, lo, hi, full_range);
        out += 4 * step;
    }
    for (; i + 2 <= len; i += 2, p += 3) {
        int32_t a0 = k->bias, a1 = k->bias, s;
        for (s = 0; s < 3; ++s) {
            const uint32_t x0 = p[s], x1 = p[3 + s];
            a0 = __smlabt(x1, k->slot[s][1], __smlad(x0, k->slot[s][0], a0));
            a1 = __smlad(x1, k->slot[s][1], __smlatb(x0, k->slot[s][0], a1));
        }
        out[0] = dw_strip_out(a0, k, lo, hi, full_range);
        out[step] = dw_strip_out(a1, k, lo, hi, full_range);
        out += 2 * step;
    }
    if (i < len) {
        int32_t a0 = k->bias, s;
        for (s = 0; s < 3; ++s) {
            a0 = __smlabt(p[3 + s], k->slot[s][1], __smlad(p[s], k->slot[s][0], a0));
        }
        out[0] = dw_strip_out(a0, k, lo, hi, full_range);
    }
#endif
}

#if MCC_DW_STRIDE2_STRIPS
#if MCC_HAVE_DSP_ASM
/* One slot's line of 4 outputs at stride 2: output i takes words j + i and j + i + 1 (byte
 * offsets 0, 12, .. 48 from the group, plus 4 per slot); three data registers in turn. */
#define MCC_DW_STRIP2_SLOT_ASM(S)                               \
    "ldr %[x0], [%[p], #4 * " #S "]\n\t"                        \
    "ldr %[x1], [%[p], #12 + 4 * " #S "]\n\t"                   \
    "ldrd %[wa], %[wb], [%[k], #8 * " #S "]\n\t"                \
    "smlad %[a0], %[x0], %[wa], %[a0]\n\t"                      \
    "smlabt %[a0], %[x1], %[wb], %[a0]\n\t"                     \
    "ldr %[x2], [%[p], #24 + 4 * " #S "]\n\t"                   \
    "smlad %[a1], %[x1], %[wa], %[a1]\n\t"                      \
    "smlabt %[a1], %[x2], %[wb], %[a1]\n\t"                     \
    "ldr %[x0], [%[p], #36 + 4 * " #S "]\n\t"                   \
    "smlad %[a2], %[x2], %[wa], %[a2]\n\t"                      \
    "smlabt %[a2], %[x0], %[wb], %[a2]\n\t"                     \
    "ldr %[x1], [%[p], #48 + 4 * " #S "]\n\t"                   \
    "smlad %[a3], %[x0], %[wa], %[a3]\n\t"                      \
    "smlabt %[a3], %[x1], %[wb], %[a3]\n\t"
/* Slot 0 of 4 outputs, the sums starting from the bias in a3 (written last). */
#define MCC_DW_STRIP2_FIRST_ASM                                 \
    "ldr %[a3], [%[k], #24]\n\t"                                \
    "ldr %[x0], [%[p]]\n\t"                                     \
    "ldr %[x1], [%[p], #12]\n\t"                                \
    "ldrd %[wa], %[wb], [%[k]]\n\t"                             \
    "smlad %[a0], %[x0], %[wa], %[a3]\n\t"                      \
    "smlabt %[a0], %[x1], %[wb], %[a0]\n\t"                     \
    "ldr %[x2], [%[p], #24]\n\t"                                \
    "smlad %[a1], %[x1], %[wa], %[a3]\n\t"                      \
    "smlabt %[a1], %[x2], %[wb], %[a1]\n\t"                     \
    "ldr %[x0], [%[p], #36]\n\t"                                \
    "smlad %[a2], %[x2], %[wa], %[a3]\n\t"                      \
    "smlabt %[a2], %[x0], %[wb], %[a2]\n\t"                     \
    "ldr %[x1], [%[p], #48]\n\t"                                \
    "smlad %[a3], %[x0], %[wa], %[a3]\n\t"                      \
    "smlabt %[a3], %[x1], %[wb], %[a3]\n\t"
/* One slot of 2 outputs at stride 2 (words j .. j + 2). */
#define MCC_DW_STRIP2_PAIR_ASM(S)                               \
    "ldr %[x0], [%[p], #4 * " #S "]\n\t"                        \
    "ldr %[x1], [%[p], #12 + 4 * " #S "]\n\t"                   \
    "ldrd %[wa], %[wb], [%[k], #8 * " #S "]\n\t"                \
    "smlad %[a0], %[x0], %[wa], %[a0]\n\t"                      \
    "smlabt %[a0], %[x1], %[wb], %[a0]\n\t"                     \
    "ldr %[x0], [%[p], #24 + 4 * " #S "]\n\t"                   \
    "smlad %[a1], %[x1], %[wa], %[a1]\n\t"                      \
    "smlabt %[a1], %[x0], %[wb], %[a1]\n\t"
#endif

/* The outputs of one strip at stride 2: output i reads entries 2i .. 2i + 2, words i and i + 1. */
MCC_INLINE void dw_strip_run2(const int16_t *ring, int32_t len, const dw_strip_channel *k, int8_t *out,
                              int32_t step, int32_t lo, int32_t hi, int full_range)
{
    const uint32_t *p = (const uint32_t *)(const void *)ring;
    int32_t i = 0;
#if MCC_HAVE_DSP_ASM
    MCC_DW_STRIP_DECLS;
    (void)lo;
    (void)hi;
    for (i = len >> 2; i > 0; --i, p += 12) {
        if (full_range) {
            MCC_DW_STRIP_BLOCK_ASM(MCC_DW_STRIP2_FIRST_ASM MCC_DW_STRIP2_SLOT_ASM(1) MCC_DW_STRIP2_SLOT_ASM(2)
                                   MCC_DW_STRIP_CONSTS_ASM MCC_DW_STRIP_STORE4_ASM(MCC_DW_STRIP_OUT_ASM), 15);
        } else {
            MCC_DW_STRIP_CLAMP_BLOCK_ASM(MCC_DW_STRIP2_FIRST_ASM MCC_DW_STRIP2_SLOT_ASM(1) MCC_DW_STRIP2_SLOT_ASM(2)
                                   MCC_DW_STRIP_CONSTS_ASM MCC_DW_STRIP_BOUNDS_ASM
                                   MCC_DW_STRIP_STORE4_ASM(MCC_DW_STRIP_CLAMP_ASM), 15);
        }
    }
    if (len & 2) {
        if (full_range) {
            MCC_DW_STRIP_BLOCK_ASM(MCC_DW_STRIP_BIAS2_ASM MCC_DW_STRIP2_PAIR_ASM(0) MCC_DW_STRIP2_PAIR_ASM(1)
                                   MCC_DW_STRIP2_PAIR_ASM(2) MCC_DW_STRIP_CONSTS_ASM
                                   MCC_DW_STRIP_STORE2_ASM(MCC_DW_STRIP_OUT_ASM), 9);
        } else {
            MCC_DW_STRIP_CLAMP_BLOCK_ASM(MCC_DW_STRIP_BIAS2_ASM MCC_DW_STRIP2_PAIR_ASM(0) MCC_DW_STRIP2_PAIR_ASM(1)
                                   MCC_DW_STRIP2_PAIR_ASM(2) MCC_DW_STRIP_CONSTS_ASM MCC_DW_STRIP_BOUNDS_ASM
                                   MCC_DW_STRIP_STORE2_ASM(MCC_DW_STRIP_CLAMP_ASM), 9);
        }
        p += 6;
    }
    if (len & 1) {
        dw_strip_last(p, k, out, step, full_range);
    }
#else
    for (; i < len; ++i, p += 3) {
        int32_t a0 = k->bias, s;
        for (s = 0; s < 3; ++s) {
            a0 = __smlabt(p[3 + s], k->slot[s][1], __smlad(p[s], k->slot[s][0], a0));
        }
        out[0] = dw_strip_out(a0, k, lo, hi, full_range);
        out += step;
    }
#endif
}
#undef MCC_DW_STRIP2_SLOT_ASM
#undef MCC_DW_STRIP2_FIRST_ASM
#undef MCC_DW_STRIP2_PAIR_ASM
#endif
#undef MCC_DW_STRIP_SLOT_ASM
#undef MCC_DW_STRIP_FIRST_ASM
#undef MCC_DW_STRIP_PAIR_ASM
#undef MCC_DW_STRIP_ONE_ASM
#undef MCC_DW_STRIP_CONSTS_ASM
#undef MCC_DW_STRIP_BOUNDS_ASM
#undef MCC_DW_STRIP_OUT_ASM
#undef MCC_DW_STRIP_CLAMP_ASM
#undef MCC_DW_STRIP_STORE4_ASM
#undef MCC_DW_STRIP_STORE2_ASM
#undef MCC_DW_STRIP_STORE1_ASM
#undef MCC_DW_STRIP_BIAS2_ASM
#undef MCC_DW_STRIP_BIAS1_ASM
#undef MCC_DW_STRIP_BLOCK_ASM
#undef MCC_DW_STRIP_CLAMP_BLOCK_ASM
#undef MCC_DW_STRIP_OUTPUTS
#undef MCC_DW_STRIP_INPUTS
#undef MCC_DW_STRIP_DECLS

/* Input line `index` of one channel (src: the channel's first element) widened into the
 * entries before .. before + in_len - 1 of its slot (entry q at e[6 * (q / 2) + q % 2]; the
 * entries around them hold the zero point from the start), or the zero point there when the
 * index is outside the input (nothing to write when the slot holds zero points already). */
MCC_INLINE void dw_strip_widen(dw_strip_layer *g, int16_t *ring, int32_t slot, const int8_t *src, int32_t index)
{
    const int32_t in_len = g->in_len, elem_step = g->elem_step;
    int16_t *e = ring + 2 * slot + 6 * (g->before >> 1);
    int32_t n = in_len, j;
    if ((uint32_t)index >= (uint32_t)g->in_lines) {  /* the whole slot, a word at a time */
        const uint32_t zeros = (uint16_t)g->zero * 0x10001u;
        uint32_t *word = (uint32_t *)(void *)ring + slot;
        if (g->zero_slots & (1 << slot)) {
            return;
        }
        g->zero_slots |= 1 << slot;
        for (j = g->entries >> 1; j > 0; --j, word += 3) {
            *word = zeros;
        }
        return;
    }
    g->zero_slots &= ~(1 << slot);
    src += index * g->line_step;
    if (g->before & 1) {
        e[1] = *src;
        e += 6;
        src += elem_step;
        --n;
    }
#if MCC_HAVE_DSP_ASM
    if (n >= 4) {  /* four entries, two words a pass: PKHBT of sign-extended bytes */
        int32_t passes = n >> 2;
        uint32_t x, y, u, v;
        __asm__ volatile("1:\n\t"
                         "ldrsb %[x], [%[src]]\n\t"
                         "ldrsb %[y], [%[src], %[step]]\n\t"
                         "add %[src], %[src], %[step], lsl #1\n\t"
                         "ldrsb %[u], [%[src]]\n\t"
                         "ldrsb %[v], [%[src], %[step]]\n\t"
                         "add %[src], %[src], %[step], lsl #1\n\t"
                         "pkhbt %[x], %[x], %[y], lsl #16\n\t"
                         "pkhbt %[u], %[u], %[v], lsl #16\n\t"
                         "str %[x], [%[e]], #12\n\t"
                         "str %[u], [%[e]], #12\n\t"
                         "subs %[passes], %[passes], #1\n\t"
                         "bne 1b\n\t"
                         : [x] "=&r"(x), [y] "=&r"(y), [u] "=&r"(u), [v] "=&r"(v), [src] "+r"(src), [e] "+r"(e),
                           [passes] "+r"(passes)
                         : [step] "r"(elem_step)
                         : "cc", "memory");
        n &= 3;
    }
#else
    for (; n >= 4; n -= 4, src += 4 * elem_step, e += 12) {
        e[0] = src[0];
        e[1] = src[elem_step];
        e[6] = src[2 * elem_step];
        e[7] = src[3 * elem_step];
    }
#endif
    for (j = 0; j < n; ++j) {  /* the last 0-3 entries */
        e[6 * (j >> 1) + (j & 1)] = src[j * elem_step];
    }
}

#if MCC_DW_STRIDE2_STRIPS
/* One channel's strips at stride 2 along them (k: its window in slots 0-2, those slots holding
 * input lines 0-2). Input line m of the channel (m = line_stride * o + l for window line l of
 * output line o) lives in slot m % 3: for output line o the window's lines are put in the slots
 * from r = line_stride * o % 3 on. */
static void dw_strip_channel_run2(dw_strip_layer *g, int16_t *ring, dw_strip_channel *k, const int8_t *src,
                                  int8_t *out, int full_range)
{
    const int32_t line_stride = g->line_stride;
    uint32_t window[3][2];
    int32_t l, o, r;
    memcpy(window, k->slot, sizeof(window));
    for (o = 0, r = 0; o < g->out_lines; ++o, out += g->out_line_step) {
        if (o > 0) {
            r = (r + line_stride) % 3;
            for (l = 3 - line_stride; l < 3; ++l) {  /* the lines the window had not reached */
                dw_strip_widen(g, ring, (r + l) % 3, src, g->first + line_stride * o + l);
            }
            for (l = 0; l < 3; ++l) {
                k->slot[(r + l) % 3][0] = window[l][0];
                k->slot[(r + l) % 3][1] = window[l][1];
            }
        }
        if (full_range) {
            dw_strip_run2(ring, g->len, k, out, g->out_step, g->lo, g->hi, 1);
        } else {
            dw_strip_run2(ring, g->len, k, out, g->out_step, g->lo, g->hi, 0);
        }
    }
}
#endif

/* One channel's strips: w its tap 0 weight (taps block bytes apart), ch its constants, src and
 * out its first input and output element. */
MCC_DW_NOINLINE static void dw_strip_channel_run(dw_strip_layer *g, int16_t *ring, const int8_t *w,
                                                 int32_t block, const int32_t *ch, const int8_t *src,
                                                 int8_t *out)
{
    const int full_range = g->lo == -128 && g->hi == 127;
    dw_strip_channel k;
    int32_t l, o, r;
    uint32_t t0, t1;
    for (l = 0; l < 3; ++l) {
        /* window line l: taps (l, 0..2), or (0..2, l) along columns */
        const int32_t t = g->along_y ? l : 3 * l, dt = g->along_y ? 3 : 1;
        const uint32_t w0 = (uint16_t)(2 * w[t * block]), w1 = (uint16_t)(2 * w[(t + dt) * block]);
        const uint32_t w2 = (uint16_t)(2 * w[(t + 2 * dt) * block]);
        k.slot[l][0] = w0 | (w1 << 16);
        k.slot[l][1] = w1 | (w2 << 16);
        dw_strip_widen(g, ring, l, src, g->first + l);
    }
    k.bias = ch[0];
    k.multiplier = ch[1];
    k.round = ch[2];
    k.shift = ch[3];
    k.lo = g->lo;
    k.hi = g->hi;
#if MCC_DW_STRIDE2_STRIPS
    if (g->stride == 2) {
        dw_strip_channel_run2(g, ring, &k, src, out, full_range);
        return;
    }
#endif
    for (o = 0, r = 0; o < g->out_lines; ++o, r = r == 2 ? 0 : r + 1, out += g->out_line_step) {
        if (o > 0) {  /* the line the window left (slot r + 2) takes the next one */
            const int32_t index = g->first + o + 2;
            dw_strip_widen(g, ring, r == 0 ? 2 : r - 1, src, index);
            /* window line l moves from slot r - 1 + l to slot r + l */
            t0 = k.slot[2][0];
            t1 = k.slot[2][1];
            k.slot[2][0] = k.slot[1][0];
            k.slot[2][1] = k.slot[1][1];
            k.slot[1][0] = k.slot[0][0];
            k.slot[1][1] = k.slot[0][1];
            k.slot[0][0] = t0;
            k.slot[0][1] = t1;
        }
        if (full_range) {
            dw_strip_run(ring, g->len, &k, out, g->out_step, g->lo, g->hi, 1);
        } else {
            dw_strip_run(ring, g->len, &k, out, g->out_step, g->lo, g->hi, 0);
        }
    }
}

#if MCC_DW_STRIDE2_STRIPS
/* A strided layer runs in strips when its stride along them is 2 (from one strip to the next 1 or
 * 2; a stride of 1 along strips 2 apart takes the taps path) and they have
 * MCC_DW_STRIDE2_MIN_LEN outputs or more; its widened lines hold its input
 * line and padding: the export sized the scratch for (outputs - 1) * 2 + 3 entries along the
 * output's longer side. */
static int dw_strided_strips_fit(const mcc_dw_conv_fast_params *params, const mcc_dims *in_dims,
                                 const mcc_dims *out_dims)
{
    const int along_y = out_dims->h > out_dims->w;
    const int32_t len = along_y ? out_dims->h : out_dims->w;
    const int32_t stride = along_y ? params->stride.h : params->stride.w;
    const int32_t before = along_y ? params->padding.h : params->padding.w;
    return stride == 2 && len >= MCC_DW_STRIDE2_MIN_LEN &&
           before + (along_y ? in_dims->h : in_dims->w) <= dw_strip_entries((len - 1) * stride + 3);
}
#endif

/* The whole layer in strips (see above); ring: the scratch, three interleaved slots. Kept out
 * of line: its frame and the taps path's are never on the stack together. */
MCC_DW_NOINLINE static mcc_status dw_strips(const mcc_dw_conv_fast_params *params, const mcc_dims *in_dims,
                                      const int8_t *input, const mcc_dims *out_dims, int8_t *output,
                                      int16_t *ring)
{
    const int32_t n_ch = params->channels_n, n4 = n_ch & ~3;
    const int along_y = out_dims->h > out_dims->w;
    const int8_t *bytes = (const int8_t *)(const void *)params->weights;
    const int32_t len = along_y ? out_dims->h : out_dims->w;
#if MCC_DW_STRIDE2_STRIPS
    const int32_t stride = along_y ? params->stride.h : params->stride.w;
#else
    const int32_t stride = 1;
#endif
    const int32_t entries = dw_strip_entries((len - 1) * stride + 3);
    dw_strip_layer *g = (dw_strip_layer *)(void *)(ring + 3 * entries);
    int32_t b, c, i;
    g->along_y = along_y;
    g->len = len;
    g->entries = entries;
#if MCC_DW_STRIDE2_STRIPS
    g->stride = (int16_t)stride;
    g->line_stride = (int16_t)(along_y ? params->stride.w : params->stride.h);
#endif
    g->out_lines = along_y ? out_dims->w : out_dims->h;
    g->in_len = along_y ? in_dims->h : in_dims->w;
    g->in_lines = along_y ? in_dims->w : in_dims->h;
    g->before = along_y ? params->padding.h : params->padding.w;
    g->first = -(along_y ? params->padding.w : params->padding.h);
    g->elem_step = (along_y ? in_dims->w : 1) * n_ch;
    g->line_step = (along_y ? 1 : in_dims->w) * n_ch;
    g->out_step = (along_y ? out_dims->w : 1) * n_ch;
    g->out_line_step = (along_y ? 1 : out_dims->w) * n_ch;
    g->lo = params->activation.min;
    g->hi = params->activation.max;
    g->zero = (int16_t)params->input_zero_point;
    g->zero_slots = 7;
    for (i = 0; i < 3 * entries; ++i) {
        ring[i] = g->zero;
    }
    for (b = 0; b < in_dims->n; ++b) {
        const int8_t *in_batch = input + b * in_dims->h * in_dims->w * n_ch;
        int8_t *out_batch = output + b * out_dims->h * out_dims->w * n_ch;
        for (c = 0; c < n4; ++c) {
            const int32_t start = c & ~7;
            dw_strip_channel_run(g, ring, bytes + start * 9 + (c - start), n4 - start >= 8 ? 8 : 4,
                                 params->channels + 4 * c, in_batch + c, out_batch + c);
        }
    }
    return MCC_OK;
}
#endif

#if MCC_DW_PAIRS_ON
/* 3x3 windows at stride 1 on a DSP core, one channel at a time on a plane of its input padded
 * with the zero point (which the folded input offset turns into zero products: no border
 * checks), its rows in pairs: word (k, x) holds padded rows 2k and 2k + 1 of column x as int16,
 * so one load gives two vertically adjacent inputs and SMLAD multiplies them by a window column's
 * weight pair. Output rows 2k and 2k + 1 go together, from pair rows A = k and B = k + 1; with
 * (w0, w1) and (w1, w2) a window column's two weight words, per window column
 *   out 2k = SMLAD(A, (w0, w1)) + B.lo * w2,   out 2k + 1 = A.hi * w0 + SMLAD(B, (w1, w2)),
 * 6 multiplies an output; two output columns at a time share the loads of the columns between
 * them. Against the strips path (lines widened into a ring of three) the plane is filled once
 * per channel with no per-line set-up, and its padding once per layer. */
typedef struct {
    uint32_t w[3][2];         /* window column j: (w0j, w1j) and (w1j, w2j), doubled */
    int32_t bias, multiplier, round, shift;
    int32_t step, row, diagonal;  /* bytes between output columns, rows, and both (0: a lone one) */
    int32_t lo, hi;               /* the clamp */
    int32_t quads, rows;          /* whole quads a row pair, row pairs left to run */
    int32_t skip_in, skip_out;    /* bytes from a row pair's end to the next one's start: plane, output */
    int32_t back_in, back_out;    /* odd widths: bytes back to the last quad's first column, else 0 */
} dw_pairs_channel;
/* The assembly blocks below read the fields at these byte offsets. */
typedef char dw_pairs_channel_layout[offsetof(dw_pairs_channel, bias) == 24 && offsetof(dw_pairs_channel, lo) == 52 &&
                                     offsetof(dw_pairs_channel, quads) == 60 &&
                                     offsetof(dw_pairs_channel, skip_in) == 68 &&
                                     offsetof(dw_pairs_channel, back_in) == 76 ? 1 : -1];

/* The plane of a layer: pw words a pair row (the padded input columns the outputs read), pairs
 * pair rows; 0 bytes when the layer does not run so. Mirrors depthwise_dsp_pairs_bytes. */
static int32_t dw_pairs_bytes(const mcc_dw_conv_fast_params *params, const mcc_dims *in_dims,
                              const mcc_dims *out_dims, int32_t *pw, int32_t *pairs)
{
    const int32_t stride = params->stride.h, half = (out_dims->h + 1) >> 1;
    int32_t bytes;
    if (params->kernel.h != 3 || params->kernel.w != 3 || params->dilation.h != 1 || params->dilation.w != 1 ||
        (uint32_t)(stride - 1) >= 2u || params->stride.w != stride || params->padding.h < 0 ||
        params->padding.w < 0 || out_dims->h < MCC_DW_PAIRS_MIN_SIDE || out_dims->w < MCC_DW_PAIRS_MIN_SIDE ||
        out_dims->h > 2 * out_dims->w) {
        return 0;
    }
    *pw = (out_dims->w - 1) * stride + 3;
    *pairs = stride == 1 ? half + 1 : 2 * half + 1;
    bytes = 4 * (*pw * *pairs + 2);  /* a lone last column reads up to 2 words past its row */
    if (bytes > MCC_DW_PAIRS_MAX_BYTES ||
        2 * bytes > (in_dims->h * in_dims->w + out_dims->h * out_dims->w) * params->channels_n) {
        return 0;
    }
    return bytes;
}

MCC_INLINE uint32_t dw_pairs_pack(int32_t lo, int32_t hi)
{
#if MCC_HAVE_DSP_ASM
    uint32_t w;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(w) : "r"(lo), "r"(hi));
    return w;
#else
    return (uint32_t)(uint16_t)lo | ((uint32_t)hi << 16);
#endif
}

MCC_INLINE int8_t dw_pairs_out(int32_t acc, const dw_pairs_channel *k, int32_t lo, int32_t hi, const int full)
{
#ifdef MCC_DW_RELU_SHIFT
    if (k->shift < 0) {  /* acc is scaled by 2^j already (the channel's weights and bias) */
        const int32_t v = dw_relu_requant(acc, k->multiplier, k->round);
        if (full) {
            return (int8_t)__ssat(v, 8);
        }
        return (int8_t)(v < lo ? lo : v > hi ? hi : v);
    }
#endif
    return dw_channel_out(acc, k->multiplier, k->round, k->shift, lo, hi, full);
}

#if MCC_HAVE_DSP_ASM
/* Two rows by two columns: words 0-3 of pair rows a and b (two data registers in turn), the
 * window column's weight words loaded as they are needed, the sums starting from the bias (in
 * register B: s11 until its own first product, LOAD putting it there, or c where c is free): 36
 * instructions for 4 outputs' 36 products (35 with the bias in c). */
#define MCC_DW_PAIRS_SUMS_ASM(B, LOAD)                          \
    LOAD "ldrd %[wa], %[wb], [%[k]]\n\t"                        \
    "ldr %[x], [%[a]], #8\n\t"                                  \
    "ldr %[y], [%[b]], #8\n\t"                                  \
    "smlad %[s00], %[x], %[wa], %[" B "]\n\t"                   \
    "smlatb %[s10], %[x], %[wa], %[" B "]\n\t"                  \
    "smlabt %[s00], %[y], %[wb], %[s00]\n\t"                    \
    "smlad %[s10], %[y], %[wb], %[s10]\n\t"                     \
    "ldr %[x], [%[a], #-4]\n\t"                                 \
    "ldr %[y], [%[b], #-4]\n\t"                                 \
    "smlad %[s01], %[x], %[wa], %[" B "]\n\t"                   \
    "smlatb %[s11], %[x], %[wa], %[" B "]\n\t"                  \
    "smlabt %[s01], %[y], %[wb], %[s01]\n\t"                    \
    "smlad %[s11], %[y], %[wb], %[s11]\n\t"                     \
    "ldrd %[wa], %[wb], [%[k], #8]\n\t"                         \
    "smlad %[s00], %[x], %[wa], %[s00]\n\t"                     \
    "smlatb %[s10], %[x], %[wa], %[s10]\n\t"                    \
    "smlabt %[s00], %[y], %[wb], %[s00]\n\t"                    \
    "smlad %[s10], %[y], %[wb], %[s10]\n\t"                     \
    "ldr %[x], [%[a]]\n\t"                                      \
    "ldr %[y], [%[b]]\n\t"                                      \
    "smlad %[s01], %[x], %[wa], %[s01]\n\t"                     \
    "smlatb %[s11], %[x], %[wa], %[s11]\n\t"                    \
    "smlabt %[s01], %[y], %[wb], %[s01]\n\t"                    \
    "smlad %[s11], %[y], %[wb], %[s11]\n\t"                     \
    "ldrd %[wa], %[wb], [%[k], #16]\n\t"                        \
    "smlad %[s00], %[x], %[wa], %[s00]\n\t"                     \
    "smlatb %[s10], %[x], %[wa], %[s10]\n\t"                    \
    "smlabt %[s00], %[y], %[wb], %[s00]\n\t"                    \
    "smlad %[s10], %[y], %[wb], %[s10]\n\t"                     \
    "ldr %[x], [%[a], #4]\n\t"                                  \
    "ldr %[y], [%[b], #4]\n\t"                                  \
    "smlad %[s01], %[x], %[wa], %[s01]\n\t"                     \
    "smlatb %[s11], %[x], %[wa], %[s11]\n\t"                    \
    "smlabt %[s01], %[y], %[wb], %[s01]\n\t"                    \
    "smlad %[s11], %[y], %[wb], %[s11]\n\t"
/* The same at stride 2 from pair rows a, b and c (A, B, C): out r = A.(w0, w1) + B.lo * w2 and
 * out r + 1 = B.(w0, w1) + C.lo * w2 per window column, words 0-4 (the third serves both output
 * columns: its weights are loaded twice), 47 instructions; a, b and c step 4 words. */
#define MCC_DW_PAIRS_SUMS2_ASM                                  \
    "ldr %[s11], [%[k], #24]\n\t"                               \
    "ldrd %[wa], %[wb], [%[k]]\n\t"                             \
    "ldr %[x], [%[a]]\n\t"                                      \
    "ldr %[y], [%[b]]\n\t"                                      \
    "smlad %[s00], %[x], %[wa], %[s11]\n\t"                     \
    "smlabt %[s00], %[y], %[wb], %[s00]\n\t"                    \
    "smlad %[s10], %[y], %[wa], %[s11]\n\t"                     \
    "ldr %[x], [%[c]]\n\t"                                      \
    "smlabt %[s10], %[x], %[wb], %[s10]\n\t"                    \
    "ldr %[x], [%[a], #4]\n\t"                                  \
    "ldr %[y], [%[b], #4]\n\t"                                  \
    "ldrd %[wa], %[wb], [%[k], #8]\n\t"                         \
    "smlad %[s00], %[x], %[wa], %[s00]\n\t"                     \
    "smlabt %[s00], %[y], %[wb], %[s00]\n\t"                    \
    "smlad %[s10], %[y], %[wa], %[s10]\n\t"                     \
    "ldr %[x], [%[c], #4]\n\t"                                  \
    "smlabt %[s10], %[x], %[wb], %[s10]\n\t"                    \
    "ldr %[x], [%[a], #8]\n\t"                                  \
    "ldr %[y], [%[b], #8]\n\t"                                  \
    "ldrd %[wa], %[wb], [%[k], #16]\n\t"                        \
    "smlad %[s00], %[x], %[wa], %[s00]\n\t"                     \
    "smlabt %[s00], %[y], %[wb], %[s00]\n\t"                    \
    "smlad %[s10], %[y], %[wa], %[s10]\n\t"                     \
    "ldrd %[wa], %[wb], [%[k]]\n\t"                             \
    "smlad %[s01], %[x], %[wa], %[s11]\n\t"                     \
    "smlabt %[s01], %[y], %[wb], %[s01]\n\t"                    \
    "smlad %[s11], %[y], %[wa], %[s11]\n\t"                     \
    "ldr %[x], [%[c], #8]\n\t"                                  \
    "smlabt %[s11], %[x], %[wb], %[s11]\n\t"                    \
    "ldr %[wb], [%[k], #20]\n\t"                                \
    "smlabt %[s10], %[x], %[wb], %[s10]\n\t"                    \
    "ldr %[x], [%[a], #12]\n\t"                                 \
    "ldr %[y], [%[b], #12]\n\t"                                 \
    "ldrd %[wa], %[wb], [%[k], #8]\n\t"                         \
    "smlad %[s01], %[x], %[wa], %[s01]\n\t"                     \
    "smlabt %[s01], %[y], %[wb], %[s01]\n\t"                    \
    "smlad %[s11], %[y], %[wa], %[s11]\n\t"                     \
    "ldr %[x], [%[c], #12]\n\t"                                 \
    "smlabt %[s11], %[x], %[wb], %[s11]\n\t"                    \
    "ldr %[x], [%[a], #16]!\n\t"                                \
    "ldr %[y], [%[b], #16]!\n\t"                                \
    "ldrd %[wa], %[wb], [%[k], #16]\n\t"                        \
    "smlad %[s01], %[x], %[wa], %[s01]\n\t"                     \
    "smlabt %[s01], %[y], %[wb], %[s01]\n\t"                    \
    "smlad %[s11], %[y], %[wa], %[s11]\n\t"                     \
    "ldr %[x], [%[c], #16]!\n\t"                                \
    "smlabt %[s11], %[x], %[wb], %[s11]\n\t"
/* The shift of the requantization: in c at stride 1 (which has no third pair row to read), loaded
 * once a call; in x at stride 2, loaded every quad. */
#define MCC_DW_PAIRS_SHIFT1_ASM "ldr %[c], [%[k], #36]\n\t"
/* The bias: into s11 every quad, or (no shift to hold at stride 1) into c once a call. */
#define MCC_DW_PAIRS_BIAS_ASM "ldr %[s11], [%[k], #24]\n\t"
#define MCC_DW_PAIRS_BIAS1_ASM "ldr %[c], [%[k], #24]\n\t"
#define MCC_DW_PAIRS_SHIFT2_ASM "ldr %[x], [%[k], #36]\n\t"
/* The whole int8 range: each sum requantized (multiplier wa, round wb, shift in register SH, which
 * LOAD puts there), saturated and stored, in the order s11, s10, s01, s00: with a row step of 0
 * (a lone last row) the sums of the missing row are stored first and overwritten. 26 instructions
 * at stride 1, 27 at stride 2. */
#define MCC_DW_PAIRS_FULL_ASM(SH, LOAD)                         \
    "ldrd %[wa], %[wb], [%[k], #28]\n\t" LOAD                   \
    "smmlar %[y], %[s11], %[wa], %[wb]\n\t"                     \
    "add %[y], %[y], %[s11], asr #31\n\t"                       \
    "ldr %[s11], [%[k], #48]\n\t"                               \
    "asr %[y], %[y], %[" SH "]\n\t"                                  \
    "ssat %[y], #8, %[y]\n\t"                                   \
    "strb %[y], [%[out], %[s11]]\n\t"                           \
    "smmlar %[y], %[s10], %[wa], %[wb]\n\t"                     \
    "add %[y], %[y], %[s10], asr #31\n\t"                       \
    "ldr %[s10], [%[k], #44]\n\t"                               \
    "asr %[y], %[y], %[" SH "]\n\t"                                  \
    "ssat %[y], #8, %[y]\n\t"                                   \
    "strb %[y], [%[out], %[s10]]\n\t"                           \
    "smmlar %[y], %[s01], %[wa], %[wb]\n\t"                     \
    "add %[y], %[y], %[s01], asr #31\n\t"                       \
    "ldr %[s01], [%[k], #40]\n\t"                               \
    "asr %[y], %[y], %[" SH "]\n\t"                                  \
    "ssat %[y], #8, %[y]\n\t"                                   \
    "strb %[y], [%[out], %[s01]]\n\t"                           \
    "smmlar %[y], %[s00], %[wa], %[wb]\n\t"                     \
    "add %[y], %[y], %[s00], asr #31\n\t"                       \
    "asr %[y], %[y], %[" SH "]\n\t"                                  \
    "ssat %[y], #8, %[y]\n\t"                                   \
    "strb %[y], [%[out]]\n\t"                                   \
    "add %[out], %[out], %[s01], lsl #1\n\t"
/* A narrower clamp (ReLU6): the four sums requantized in place, clamped to the channel's bounds
 * (lo wa, hi wb), stored in the same order. 46 or 47 instructions. */
#define MCC_DW_PAIRS_REQ_ASM(S, SH)                             \
    "smmlar %[y], %[" #S "], %[wa], %[wb]\n\t"                  \
    "add %[y], %[y], %[" #S "], asr #31\n\t"                    \
    "asr %[" #S "], %[y], %[" SH "]\n\t"
#define MCC_DW_PAIRS_CLAMP_ASM(S)                               \
    "cmp %[" #S "], %[wa]\n\t"                                  \
    "it lt\n\t"                                                 \
    "movlt %[" #S "], %[wa]\n\t"                                \
    "cmp %[" #S "], %[wb]\n\t"                                  \
    "it gt\n\t"                                                 \
    "movgt %[" #S "], %[wb]\n\t"
#define MCC_DW_PAIRS_CLAMPED_ASM(SH, LOAD, REQ)                 \
    "ldrd %[wa], %[wb], [%[k], #28]\n\t" LOAD                   \
    REQ(s00, SH) REQ(s01, SH) REQ(s10, SH) REQ(s11, SH)         \
    "ldrd %[wa], %[wb], [%[k], #52]\n\t"                        \
    MCC_DW_PAIRS_CLAMP_ASM(s00) MCC_DW_PAIRS_CLAMP_ASM(s01)     \
    MCC_DW_PAIRS_CLAMP_ASM(s10) MCC_DW_PAIRS_CLAMP_ASM(s11)     \
    "ldrd %[x], %[y], [%[k], #40]\n\t"                          \
    "ldr %[wa], [%[k], #48]\n\t"                                \
    "strb %[s11], [%[out], %[wa]]\n\t"                          \
    "strb %[s10], [%[out], %[y]]\n\t"                           \
    "strb %[s01], [%[out], %[x]]\n\t"                           \
    "strb %[s00], [%[out]]\n\t"                                 \
    "add %[out], %[out], %[x], lsl #1\n\t"
#ifdef MCC_DW_RELU_SHIFT
/* The two-instruction requantization (see dw_relu_requant): the whole int8 range, SMMLA and SSAT
 * with the model's shift a sum, 17 instructions a quad instead of 25; no register holds a shift
 * (at stride 1 c holds the bias instead, loaded once a call). */
#define MCC_DW_PAIRS_RELU_FULL_ASM                              \
    "ldrd %[wa], %[wb], [%[k], #28]\n\t"                       \
    "smmla %[y], %[s11], %[wa], %[wb]\n\t"                     \
    "ldr %[s11], [%[k], #48]\n\t"                              \
    "ssat %[y], #8, %[y], asr " MCC_DW_RELU_SHIFT_ASM "\n\t"   \
    "strb %[y], [%[out], %[s11]]\n\t"                          \
    "smmla %[y], %[s10], %[wa], %[wb]\n\t"                     \
    "ldr %[s10], [%[k], #44]\n\t"                              \
    "ssat %[y], #8, %[y], asr " MCC_DW_RELU_SHIFT_ASM "\n\t"   \
    "strb %[y], [%[out], %[s10]]\n\t"                          \
    "smmla %[y], %[s01], %[wa], %[wb]\n\t"                     \
    "ldr %[s01], [%[k], #40]\n\t"                              \
    "ssat %[y], #8, %[y], asr " MCC_DW_RELU_SHIFT_ASM "\n\t"   \
    "strb %[y], [%[out], %[s01]]\n\t"                          \
    "smmla %[y], %[s00], %[wa], %[wb]\n\t"                     \
    "ssat %[y], #8, %[y], asr " MCC_DW_RELU_SHIFT_ASM "\n\t"   \
    "strb %[y], [%[out]]\n\t"                                  \
    "add %[out], %[out], %[s01], lsl #1\n\t"
/* A narrower clamp: SMMLA and the model's shift, then the clamp as above (SH unused). */
#define MCC_DW_PAIRS_RELU_REQ_ASM(S, SH)                        \
    "smmla %[y], %[" #S "], %[wa], %[wb]\n\t"                  \
    "asr %[" #S "], %[y], " MCC_DW_RELU_SHIFT_ASM "\n\t"
#endif
/* Row pairs of quads in one block: k->rows row pairs of k->quads quads, and at an odd width one
 * more quad one column back (its first column computed twice, the same bytes), the pair-row
 * pointers and out then stepping over the rest of the row pair (skip_in, skip_out), so a
 * channel's rows cost 14 instructions each rather than a loop nest's set-up in C. */
#define MCC_DW_PAIRS_LOOP_ASM(FIRST, SUMS, REQ, C_TOO)                                                    \
    __asm__ volatile(FIRST "1:\n\t"                                                                      \
                     "ldr %[n], [%[k], #60]\n\t"                                                        \
                     "2:\n\t" SUMS REQ                                                                  \
                     "subs %[n], %[n], #1\n\t"                                                          \
                     "bgt 2b\n\t"                                                                       \
                     "bmi 3f\n\t"                                                                       \
                     "ldrd %[x], %[y], [%[k], #76]\n\t"                                                 \
                     "cmp %[x], #0\n\t"                                                                 \
                     "beq 3f\n\t"                                                                       \
                     "add %[a], %[a], %[x]\n\t"                                                         \
                     "add %[b], %[b], %[x]\n\t" C_TOO                                                   \
                     "add %[out], %[out], %[y]\n\t"                                                     \
                     "b 2b\n\t"                                                                         \
                     "3:\n\t"                                                                           \
                     "ldrd %[x], %[y], [%[k], #68]\n\t"                                                 \
                     "add %[a], %[a], %[x]\n\t"                                                         \
                     "add %[b], %[b], %[x]\n\t" C_TOO                                                   \
                     "add %[out], %[out], %[y]\n\t"                                                     \
                     "ldr %[x], [%[k], #64]\n\t"                                                        \
                     "subs %[x], %[x], #1\n\t"                                                          \
                     "str %[x], [%[k], #64]\n\t"                                                        \
                     "bne 1b\n\t"                                                                       \
                     : [s00] "=&r"(s00), [s01] "=&r"(s01), [s10] "=&r"(s10), [s11] "=&r"(s11), [x] "=&r"(x), \
                       [y] "=&r"(y), [wa] "=&r"(wa), [wb] "=&r"(wb), [n] "=&r"(n), [a] "+r"(a), [b] "+r"(b),  \
                       [c] "+r"(c), [out] "+r"(out)                                                     \
                     : [k] "r"(k)                                                                       \
                     : "cc", "memory")

/* k->rows row pairs of quads (blocks of two rows by two columns) of one channel from the row pair
 * whose pair rows start at a, b (and c at stride 2). mode: 1 the whole int8 range, 0 a narrower
 * clamp, plus 2 for the two-instruction requantization (MCC_DW_RELU_SHIFT). */
MCC_DW_NOINLINE static void dw_pairs_quads(const uint32_t *a, const uint32_t *b, const uint32_t *c,
                                           dw_pairs_channel *k, int8_t *out, const int stride, const int mode)
{
    int32_t s00, s01, s10, s11, n;
    uint32_t x, y, wa, wb;
#ifdef MCC_DW_RELU_SHIFT
    if (mode >= 2) {
        if (stride == 1 && mode == 3) {
            MCC_DW_PAIRS_LOOP_ASM(MCC_DW_PAIRS_BIAS1_ASM, MCC_DW_PAIRS_SUMS_ASM("c", ""), MCC_DW_PAIRS_RELU_FULL_ASM,
                                  "");
        } else if (stride == 1) {
            MCC_DW_PAIRS_LOOP_ASM(MCC_DW_PAIRS_BIAS1_ASM, MCC_DW_PAIRS_SUMS_ASM("c", ""),
                                  MCC_DW_PAIRS_CLAMPED_ASM("c", "", MCC_DW_PAIRS_RELU_REQ_ASM), "");
        } else if (mode == 3) {
            MCC_DW_PAIRS_LOOP_ASM("", MCC_DW_PAIRS_SUMS2_ASM, MCC_DW_PAIRS_RELU_FULL_ASM, "add %[c], %[c], %[x]\n\t");
        } else {
            MCC_DW_PAIRS_LOOP_ASM("", MCC_DW_PAIRS_SUMS2_ASM,
                                  MCC_DW_PAIRS_CLAMPED_ASM("x", "", MCC_DW_PAIRS_RELU_REQ_ASM),
                                  "add %[c], %[c], %[x]\n\t");
        }
        return;
    }
#endif
    if (stride == 1 && mode) {
        MCC_DW_PAIRS_LOOP_ASM(MCC_DW_PAIRS_SHIFT1_ASM, MCC_DW_PAIRS_SUMS_ASM("s11", MCC_DW_PAIRS_BIAS_ASM),
                              MCC_DW_PAIRS_FULL_ASM("c", ""), "");
    } else if (stride == 1) {
        MCC_DW_PAIRS_LOOP_ASM(MCC_DW_PAIRS_SHIFT1_ASM, MCC_DW_PAIRS_SUMS_ASM("s11", MCC_DW_PAIRS_BIAS_ASM),
                              MCC_DW_PAIRS_CLAMPED_ASM("c", "", MCC_DW_PAIRS_REQ_ASM), "");
    } else if (mode) {
        MCC_DW_PAIRS_LOOP_ASM("", MCC_DW_PAIRS_SUMS2_ASM, MCC_DW_PAIRS_FULL_ASM("x", MCC_DW_PAIRS_SHIFT2_ASM),
                              "add %[c], %[c], %[x]\n\t");
    } else {
        MCC_DW_PAIRS_LOOP_ASM("", MCC_DW_PAIRS_SUMS2_ASM,
                              MCC_DW_PAIRS_CLAMPED_ASM("x", MCC_DW_PAIRS_SHIFT2_ASM, MCC_DW_PAIRS_REQ_ASM),
                              "add %[c], %[c], %[x]\n\t");
    }
}

/* The row-pair loop's per-layer fields of k (step and row set): quads, skips and the back step. */
MCC_INLINE void dw_pairs_loop_set(dw_pairs_channel *k, int32_t pw, int32_t ow, int32_t stride)
{
    k->diagonal = k->row + k->step;
    k->quads = ow >> 1;
    k->skip_in = 4 * stride * (pw - ow);
    k->skip_out = 2 * k->row - k->step * ow;
    k->back_in = ow & 1 ? -4 * stride : 0;
    k->back_out = ow & 1 ? -k->step : 0;
}

/* All output rows of one channel (out: its first output) from the plane: whole row pairs in one
 * block, a lone last row (odd height) as quads whose second row is stored first and overwritten
 * (row offset 0; k's row and diagonal are the layer's again on exit). */
MCC_INLINE void dw_pairs_channel_rows(const uint32_t *plane, int32_t pw, dw_pairs_channel *k, int8_t *out,
                                      int32_t oh, const int stride, const int mode)
{
    const int32_t row = k->row, whole = oh >> 1;
    if (whole > 0) {
        k->rows = whole;
        dw_pairs_quads(plane, plane + pw, plane + 2 * pw, k, out, stride, mode);
    }
    if (oh & 1) {
        const uint32_t *a = plane + whole * stride * pw;
        k->row = 0;
        k->diagonal = k->step;
        k->rows = 1;
        dw_pairs_quads(a, a + pw, a + 2 * pw, k, out + 2 * whole * row, stride, mode);
        k->row = row;
        k->diagonal = row + k->step;
    }
}
#undef MCC_DW_PAIRS_SUMS_ASM
#undef MCC_DW_PAIRS_SUMS2_ASM
#undef MCC_DW_PAIRS_FULL_ASM
#undef MCC_DW_PAIRS_SHIFT1_ASM
#undef MCC_DW_PAIRS_BIAS_ASM
#undef MCC_DW_PAIRS_BIAS1_ASM
#undef MCC_DW_PAIRS_SHIFT2_ASM
#undef MCC_DW_PAIRS_REQ_ASM
#undef MCC_DW_PAIRS_CLAMP_ASM
#undef MCC_DW_PAIRS_CLAMPED_ASM
#undef MCC_DW_PAIRS_LOOP_ASM
#undef MCC_DW_PAIRS_RELU_FULL_ASM
#undef MCC_DW_PAIRS_RELU_REQ_ASM
#endif

#if !MCC_HAVE_DSP_ASM
/* One pair of output rows (rows 1: the last row alone) of one channel from pair rows a and b
 * (and c at stride 2): cols outputs, out0 / out1 the rows' first outputs, step the bytes between
 * outputs. */
MCC_INLINE void dw_pairs_rows(const uint32_t *a, const uint32_t *b, const uint32_t *c, int32_t cols,
                              dw_pairs_channel *k, int8_t *out0, int8_t *out1, int32_t step, int32_t lo,
                              int32_t hi, const int stride, int rows, const int full)
{
    const int32_t bias = k->bias;
    int32_t i, j;
    for (i = cols; i > 0; i -= 2, a += 2 * stride, b += 2 * stride, c += 2 * stride) {
        const int two = i > 1;
        int32_t s00 = bias, s01 = bias, s10 = bias, s11 = bias;  /* s[row][column] */
        for (j = 0; j < 3; ++j) {
            const uint32_t wa = k->w[j][0], wb = k->w[j][1];
            const uint32_t a0 = a[j], a1 = a[stride + j], b0 = b[j], b1 = b[stride + j];
            s00 = __smlabt(b0, wb, __smlad(a0, wa, s00));
            s01 = __smlabt(b1, wb, __smlad(a1, wa, s01));
            if (rows == 2 && stride == 1) {
                s10 = __smlad(b0, wb, __smlatb(a0, wa, s10));
                s11 = __smlad(b1, wb, __smlatb(a1, wa, s11));
            } else if (rows == 2) {
                s10 = __smlabt(c[j], wb, __smlad(b0, wa, s10));
                s11 = __smlabt(c[stride + j], wb, __smlad(b1, wa, s11));
            }
        }
        out0[0] = dw_pairs_out(s00, k, lo, hi, full);
        if (two) {
            out0[step] = dw_pairs_out(s01, k, lo, hi, full);
        }
        out0 += 2 * step;
        if (rows == 2) {
            out1[0] = dw_pairs_out(s10, k, lo, hi, full);
            if (two) {
                out1[step] = dw_pairs_out(s11, k, lo, hi, full);
            }
            out1 += 2 * step;
        }
    }
}
#endif

/* A fill's pass of four columns of two rows (s, t) begins so (the offsets of the third and fourth
 * columns, then the first two columns of both rows), one channel's or a row of two channels'. */
#define MCC_DW_FILL_PASS_START \
    "add %[c2], %[cs], %[cs]\n\t" \
    "add %[c3], %[c2], %[cs]\n\t" \
    "1:\n\t" \
    "ldrsb %[p], [%[s]]\n\t" \
    "ldrsb %[q], [%[t]]\n\t" \
    "ldrsb %[u], [%[s], %[cs]]\n\t" \
    "ldrsb %[v], [%[t], %[cs]]\n\t"

/* Two channels at a time fill two planes (the second `second` words after the first): one LDRH
 * reads both channels' inputs at a position, and SXTB16 (its bytes 0 and 2, or 1 and 3 rotated)
 * splits the two rows' halfword pairs into one word of each plane: 7 instructions for 4 inputs in
 * the passes against 9 a channel, and each row's set-up once for both channels. */

/* The columns a fill takes one at a time: the leftover 1-3 before the assembly's passes of four,
 * or all of them without it. */
#if MCC_HAVE_DSP_ASM
#define MCC_DW_PAIRS_LEFT(cols) ((cols) & 3)
#else
#define MCC_DW_PAIRS_LEFT(cols) (cols)
#endif

#if !MCC_HAVE_DSP_ASM
/* Two input rows of two channels (s0: the upper row's element of the first) into one pair row of
 * each plane (the assembly build runs all such pair rows in dw_pairs_fill_twos). */
MCC_INLINE void dw_pairs_fill_two(uint32_t *dst, int32_t second, const int8_t *s0, int32_t cols, int32_t col_step,
                                  int32_t row_step)
{
    int32_t x;
    for (x = cols; x > 0; --x, ++dst, s0 += col_step) {
        dst[0] = dw_pairs_pack(s0[0], s0[row_step]);
        dst[second] = dw_pairs_pack(s0[1], s0[row_step + 1]);
    }
}
#endif

/* The fill's assembly temporaries: four values and the offsets of the third and fourth columns. */
#define MCC_DW_FILL_TEMPS \
    [p] "=&r"(p), [q] "=&r"(q), [u] "=&r"(u), [v] "=&r"(v), [c2] "=&r"(c2), [c3] "=&r"(c3)

/* One input row of two channels into one half of a pair row of each plane (half: the first
 * plane's first int16), the other half a padding row's zero points. */
MCC_INLINE void dw_pairs_fill_half(int16_t *half, int32_t second, const int8_t *s, int32_t cols, int32_t col_step)
{
    int32_t x;
    for (x = MCC_DW_PAIRS_LEFT(cols); x > 0; --x, half += 2, s += col_step) {
        half[0] = s[0];
        half[2 * second] = s[1];
    }
#if MCC_HAVE_DSP_ASM
    if (cols >= 4) {  /* four columns a pass: 20 instructions for 8 values */
        int32_t passes = cols >> 2, p, q, u, v, c2, c3;
        int16_t *half2 = half + 2 * second;
        const int8_t *t = s + 1;
        __asm__ volatile(MCC_DW_FILL_PASS_START
                         "strh %[u], [%[d], #4]\n\t"
                         "strh %[v], [%[e], #4]\n\t"
                         "ldrsb %[u], [%[s], %[c2]]\n\t"
                         "ldrsb %[v], [%[t], %[c2]]\n\t"
                         "strh %[u], [%[d], #8]\n\t"
                         "strh %[v], [%[e], #8]\n\t"
                         "ldrsb %[u], [%[s], %[c3]]\n\t"
                         "ldrsb %[v], [%[t], %[c3]]\n\t"
                         "add %[s], %[s], %[cs], lsl #2\n\t"
                         "add %[t], %[t], %[cs], lsl #2\n\t"
                         "strh %[u], [%[d], #12]\n\t"
                         "strh %[v], [%[e], #12]\n\t"
                         "strh %[p], [%[d]], #16\n\t"
                         "strh %[q], [%[e]], #16\n\t"
                         "subs %[n], %[n], #1\n\t"
                         "bne 1b\n\t"
                         : MCC_DW_FILL_TEMPS,
                           [s] "+r"(s), [t] "+r"(t), [d] "+r"(half), [e] "+r"(half2), [n] "+r"(passes)
                         : [cs] "r"(col_step)
                         : "cc", "memory");
    }
#endif
}

#undef MCC_DW_PAIRS_LEFT

/* Where a layer's plane takes its input rows: the first pair row holding any (word offset, with
 * the padding columns on its left), whether its upper half is a padding row, whether a last pair
 * row holds an input row above a padding row, the pair rows of two input rows between; second:
 * the words from the first channel's plane to the second's (0: one plane). 32 bytes, as with one
 * plane: the stack the layer and its fill take stays what it was. */
typedef struct {
    int32_t first;
    int16_t top_half, bottom_half;
    int32_t twos, pw, cols, col_step, row_step, second;
} dw_pairs_fill_plan;

/* The pair rows of two input rows in one assembly loop: a row's columns (its leftover columns,
 * cols & 3, and passes of four, cols >> 2), bytes from a row's end to the next one's start (input
 * and plane), pair rows left. In the two-channel fill's own frame, 16 bytes: the stack the layer
 * and its fill take is what it is with one plane. */
typedef struct {
    int32_t cols, src_skip, dst_skip, count;
} dw_pairs_twos;
/* dw_pairs_fill_twos reads the fields at these byte offsets. */
typedef char dw_pairs_twos_layout[offsetof(dw_pairs_twos, src_skip) == 4 &&
                                  offsetof(dw_pairs_twos, count) == 12 ? 1 : -1];

MCC_INLINE void dw_pairs_fill_plan_set(dw_pairs_fill_plan *f, int32_t pw, int32_t pairs, int32_t top, int32_t left,
                                       int32_t in_h, int32_t cols, int32_t col_step, int32_t row_step)
{
    /* the input rows the plane holds: padded rows 0 .. 2 pairs - 1 */
    const int32_t rows = in_h < 2 * pairs - top ? in_h : 2 * pairs - top;
    f->first = (top >> 1) * pw + left;
    f->top_half = (int16_t)(rows > 0 ? top & 1 : 0);
    f->twos = rows > f->top_half ? (rows - f->top_half) >> 1 : 0;
    f->bottom_half = (int16_t)(rows > f->top_half ? (rows - f->top_half) & 1 : 0);
    f->pw = pw;
    f->cols = cols;
    f->col_step = col_step;
    f->row_step = row_step;
}

#if MCC_HAVE_DSP_ASM
/* The pair rows of two input rows of two channels (src: the upper row's element of the first)
 * into both planes from dst, all in one loop: a row's leftover 1-3 columns one at a time (11
 * instructions for 4 values), then its passes of four columns (28 for 16), then 10 to step to the
 * next pair row. One LDRH reads both channels' inputs at a position; two rows' halfwords ORed
 * into one word, SXTB16 (bytes 0 and 2) and SXTB16 with ROR #8 (bytes 1 and 3) give one word of
 * each plane. */
static void dw_pairs_fill_twos(const dw_pairs_fill_plan *f, uint32_t *dst, uint32_t *dst2, const int8_t *src)
{
    uint32_t p, q, u, v;
    int32_t n, c2, c3;
    const int8_t *s1 = src + f->row_step;
    dw_pairs_twos rows;
    rows.cols = f->cols;
    rows.src_skip = 2 * f->row_step - f->cols * f->col_step;
    rows.dst_skip = 4 * (f->pw - f->cols);
    rows.count = f->twos;
    __asm__ volatile("add %[c2], %[cs], %[cs]\n\t"
                     "add %[c3], %[c2], %[cs]\n\t"
                     "1:\n\t"
                     "ldr %[n], [%[f]]\n\t"
                     "ands %[n], %[n], #3\n\t"
                     "beq 3f\n\t"
                     "2:\n\t"
                     "ldrh %[p], [%[s]]\n\t"
                     "ldrh %[q], [%[t]]\n\t"
                     "add %[s], %[s], %[cs]\n\t"
                     "add %[t], %[t], %[cs]\n\t"
                     "orr %[p], %[p], %[q], lsl #16\n\t"
                     "sxtb16 %[q], %[p]\n\t"
                     "sxtb16 %[p], %[p], ror #8\n\t"
                     "str %[q], [%[d]], #4\n\t"
                     "str %[p], [%[e]], #4\n\t"
                     "subs %[n], %[n], #1\n\t"
                     "bne 2b\n\t"
                     "3:\n\t"
                     "ldr %[n], [%[f]]\n\t"
                     "lsrs %[n], %[n], #2\n\t"
                     "beq 5f\n\t"
                     "4:\n\t"
                     "ldrh %[p], [%[s]]\n\t"
                     "ldrh %[q], [%[t]]\n\t"
                     "ldrh %[u], [%[s], %[cs]]\n\t"
                     "ldrh %[v], [%[t], %[cs]]\n\t"
                     "orr %[p], %[p], %[q], lsl #16\n\t"
                     "orr %[u], %[u], %[v], lsl #16\n\t"
                     "sxtb16 %[q], %[p]\n\t"
                     "sxtb16 %[v], %[u]\n\t"
                     "strd %[q], %[v], [%[d]], #16\n\t"
                     "sxtb16 %[p], %[p], ror #8\n\t"
                     "sxtb16 %[u], %[u], ror #8\n\t"
                     "strd %[p], %[u], [%[e]], #16\n\t"
                     "ldrh %[p], [%[s], %[c2]]\n\t"
                     "ldrh %[q], [%[t], %[c2]]\n\t"
                     "ldrh %[u], [%[s], %[c3]]\n\t"
                     "ldrh %[v], [%[t], %[c3]]\n\t"
                     "add %[s], %[s], %[cs], lsl #2\n\t"
                     "add %[t], %[t], %[cs], lsl #2\n\t"
                     "orr %[p], %[p], %[q], lsl #16\n\t"
                     "orr %[u], %[u], %[v], lsl #16\n\t"
                     "sxtb16 %[q], %[p]\n\t"
                     "sxtb16 %[v], %[u]\n\t"
                     "strd %[q], %[v], [%[d], #-8]\n\t"
                     "sxtb16 %[p], %[p], ror #8\n\t"
                     "sxtb16 %[u], %[u], ror #8\n\t"
                     "strd %[p], %[u], [%[e], #-8]\n\t"
                     "subs %[n], %[n], #1\n\t"
                     "bne 4b\n\t"
                     "5:\n\t"
                     "ldrd %[p], %[q], [%[f], #4]\n\t"
                     "add %[s], %[s], %[p]\n\t"
                     "add %[t], %[t], %[p]\n\t"
                     "add %[d], %[d], %[q]\n\t"
                     "add %[e], %[e], %[q]\n\t"
                     "ldr %[n], [%[f], #12]\n\t"
                     "subs %[n], %[n], #1\n\t"
                     "str %[n], [%[f], #12]\n\t"
                     "bne 1b\n\t"
                     : MCC_DW_FILL_TEMPS,
                       [n] "=&r"(n), [s] "+r"(src), [t] "+r"(s1), [d] "+r"(dst), [e] "+r"(dst2)
                     : [cs] "r"(f->col_step), [f] "r"(&rows)
                     : "cc", "memory");
}
#endif
#undef MCC_DW_FILL_TEMPS

/* One plane (a layer the export gave no room for a second, see dw_pairs_layer): one channel at
 * a time. Two input rows of one channel (s0: the first element of the upper one) into one pair row. */
MCC_INLINE void dw_pairs_fill1_two(uint32_t *dst, const int8_t *s0, int32_t cols, int32_t col_step, int32_t row_step)
{
#if MCC_HAVE_DSP_ASM
    uint32_t p, q, u, v;
    if (cols & 1) {
        *dst++ = dw_pairs_pack(s0[0], s0[row_step]);
        s0 += col_step;
    }
    if (cols & 2) {
        __asm__ volatile("ldrsb %[p], [%[s]]\n\t"
                         "ldrsb %[q], [%[s], %[rs]]\n\t"
                         "add %[s], %[s], %[cs]\n\t"
                         "ldrsb %[u], [%[s]]\n\t"
                         "ldrsb %[v], [%[s], %[rs]]\n\t"
                         "add %[s], %[s], %[cs]\n\t"
                         "pkhbt %[p], %[p], %[q], lsl #16\n\t"
                         "pkhbt %[u], %[u], %[v], lsl #16\n\t"
                         "strd %[p], %[u], [%[dst]], #8\n\t"
                         : [p] "=&r"(p), [q] "=&r"(q), [u] "=&r"(u), [v] "=&r"(v), [s] "+r"(s0), [dst] "+r"(dst)
                         : [rs] "r"(row_step), [cs] "r"(col_step)
                         : "memory");
    }
    if (cols >= 4) {  /* four columns a pass, both rows read at offsets of 0-3 columns: 18 instructions for
                       * 8 values (LDRSB has no register post-index in Thumb-2: each pass steps its two
                       * row pointers once) */
        int32_t passes = cols >> 2, c2, c3;
        const int8_t *s1 = s0 + row_step;
        __asm__ volatile(MCC_DW_FILL_PASS_START
                         "pkhbt %[p], %[p], %[q], lsl #16\n\t"
                         "pkhbt %[u], %[u], %[v], lsl #16\n\t"
                         "strd %[p], %[u], [%[dst]], #16\n\t"
                         "ldrsb %[p], [%[s], %[c2]]\n\t"
                         "ldrsb %[q], [%[t], %[c2]]\n\t"
                         "ldrsb %[u], [%[s], %[c3]]\n\t"
                         "ldrsb %[v], [%[t], %[c3]]\n\t"
                         "add %[s], %[s], %[cs], lsl #2\n\t"
                         "add %[t], %[t], %[cs], lsl #2\n\t"
                         "pkhbt %[p], %[p], %[q], lsl #16\n\t"
                         "pkhbt %[u], %[u], %[v], lsl #16\n\t"
                         "strd %[p], %[u], [%[dst], #-8]\n\t"
                         "subs %[n], %[n], #1\n\t"
                         "bne 1b\n\t"
                         : [p] "=&r"(p), [q] "=&r"(q), [u] "=&r"(u), [v] "=&r"(v), [c2] "=&r"(c2), [c3] "=&r"(c3),
                           [s] "+r"(s0), [t] "+r"(s1), [dst] "+r"(dst), [n] "+r"(passes)
                         : [cs] "r"(col_step)
                         : "cc", "memory");
    }
#else
    int32_t x;
    for (x = 0; x < cols; ++x, s0 += col_step) {
        dst[x] = dw_pairs_pack(s0[0], s0[row_step]);
    }
#endif
}

/* One input row of one channel into one half of a pair row (half: its first int16), the other
 * half a padding row's zero points. */
MCC_INLINE void dw_pairs_fill1_half(int16_t *half, const int8_t *s, int32_t cols, int32_t col_step)
{
#if MCC_HAVE_DSP_ASM
    int32_t p, q;
    if (cols & 1) {
        *half = *s;
        half += 2;
        s += col_step;
    }
    if (cols & 2) {
        __asm__ volatile("ldrsb %[p], [%[s]]\n\t"
                         "ldrsb %[q], [%[s], %[cs]]\n\t"
                         "add %[s], %[s], %[cs], lsl #1\n\t"
                         "strh %[q], [%[dst], #4]\n\t"
                         "strh %[p], [%[dst]], #8\n\t"
                         : [p] "=&r"(p), [q] "=&r"(q), [s] "+r"(s), [dst] "+r"(half)
                         : [cs] "r"(col_step)
                         : "memory");
    }
    if (cols >= 4) {  /* four values a pass: 11 instructions */
        int32_t passes = cols >> 2, u, v, c2, c3;
        __asm__ volatile("add %[c2], %[cs], %[cs]\n\t"
                         "add %[c3], %[c2], %[cs]\n\t"
                         "1:\n\t"
                         "ldrsb %[p], [%[s]]\n\t"
                         "ldrsb %[q], [%[s], %[cs]]\n\t"
                         "ldrsb %[u], [%[s], %[c2]]\n\t"
                         "ldrsb %[v], [%[s], %[c3]]\n\t"
                         "add %[s], %[s], %[cs], lsl #2\n\t"
                         "strh %[q], [%[dst], #4]\n\t"
                         "strh %[u], [%[dst], #8]\n\t"
                         "strh %[v], [%[dst], #12]\n\t"
                         "strh %[p], [%[dst]], #16\n\t"
                         "subs %[n], %[n], #1\n\t"
                         "bne 1b\n\t"
                         : [p] "=&r"(p), [q] "=&r"(q), [u] "=&r"(u), [v] "=&r"(v), [c2] "=&r"(c2), [c3] "=&r"(c3),
                           [s] "+r"(s), [dst] "+r"(half), [n] "+r"(passes)
                         : [cs] "r"(col_step)
                         : "cc", "memory");
    }
#else
    int32_t x;
    for (x = 0; x < cols; ++x, s += col_step) {
        half[2 * x] = *s;
    }
#endif
}

/* Input rows of one channel (src: its first element) into the plane's rows of pairs; the
 * padding around them holds the zero point from the layer's start. */
MCC_DW_NOINLINE static void dw_pairs_fill1(const dw_pairs_fill_plan *f, uint32_t *plane, const int8_t *src)
{
    const int32_t pw = f->pw, cols = f->cols, col_step = f->col_step, row_step = f->row_step;
    uint32_t *dst = plane + f->first;
    int32_t k;
    if (f->top_half) {  /* input row 0 below a padding row (which keeps its zero points) */
        dw_pairs_fill1_half((int16_t *)(void *)dst + 1, src, cols, col_step);
        dst += pw;
        src += row_step;
    }
    for (k = f->twos; k > 0; --k, dst += pw, src += 2 * row_step) {
        dw_pairs_fill1_two(dst, src, cols, col_step, row_step);
    }
    if (f->bottom_half) {  /* the last input row above a padding row */
        dw_pairs_fill1_half((int16_t *)(void *)dst, src, cols, col_step);
    }
}


#undef MCC_DW_FILL_PASS_START

/* Input rows of two channels (src: the first one's first element) into their planes' rows of
 * pairs; the padding around them holds the
 * zero point from the layer's start. */
MCC_DW_NOINLINE static void dw_pairs_fill(const dw_pairs_fill_plan *f, uint32_t *plane, const int8_t *src)
{
    const int32_t pw = f->pw, cols = f->cols, col_step = f->col_step, row_step = f->row_step, second = f->second;
    uint32_t *dst = plane + f->first;
    int32_t k;
    if (f->top_half) {  /* input row 0 below a padding row (which keeps its zero points) */
        dw_pairs_fill_half((int16_t *)(void *)dst + 1, second, src, cols, col_step);
        dst += pw;
        src += row_step;
    }
#if MCC_HAVE_DSP_ASM
    if (f->twos > 0) {
        dw_pairs_fill_twos(f, dst, dst + second, src);
        dst += f->twos * pw;
        src += f->twos * 2 * row_step;
    }
    (void)k;
#else
    for (k = f->twos; k > 0; --k, dst += pw, src += 2 * row_step) {
        dw_pairs_fill_two(dst, second, src, cols, col_step, row_step);
    }
#endif
    if (f->bottom_half) {  /* the last input row above a padding row */
        dw_pairs_fill_half((int16_t *)(void *)dst, second, src, cols, col_step);
    }
}

MCC_DW_NOINLINE static mcc_status dw_pairs_layer(const mcc_dw_conv_fast_params *params, const mcc_dims *in_dims,
                                                 const int8_t *input, const mcc_dims *out_dims, int8_t *output,
                                                 uint32_t *plane)
{
    const int32_t n_ch = params->channels_n, n4 = n_ch & ~3, stride = params->stride.h;
    const int32_t lo = params->activation.min, hi = params->activation.max;
    const int full = lo == -128 && hi == 127;
    /* the export gave the scratch a second plane where it leaves the arena's peak alone (the word
     * after the channel table says 2): two channels' planes filled at once (dw_pairs_fill), else
     * one channel's (dw_pairs_fill1) */
    const int two = params->channels[4 * n4] == 2;
    const int8_t *bytes = (const int8_t *)(const void *)params->weights;
    const int32_t oh = out_dims->h, ow = out_dims->w, out_row = ow * n_ch;
    int32_t pw = 0, pairs = 0, cols, b, ch, i;
    dw_pairs_channel k;
    dw_pairs_fill_plan fill;
    const uint32_t zeros = (uint16_t)params->input_zero_point * 0x10001u;
    (void)dw_pairs_bytes(params, in_dims, out_dims, &pw, &pairs);
    cols = in_dims->w < pw - params->padding.w ? in_dims->w : pw - params->padding.w;
    dw_pairs_fill_plan_set(&fill, pw, pairs, params->padding.h, params->padding.w, in_dims->h, cols, n_ch,
                           in_dims->w * n_ch);
    fill.second = two ? pw * pairs + 2 : 0;
    if (fill.second) {  /* both channels' planes (dw_pairs_fill) */
        for (i = 0; i < pw * pairs; ++i) {
            plane[i] = zeros;
            plane[i + fill.second] = zeros;
        }
    } else {
        for (i = 0; i < pw * pairs; ++i) {
            plane[i] = zeros;
        }
    }
    k.step = n_ch;
    k.row = out_row;
    k.lo = lo;
    k.hi = hi;
#if MCC_HAVE_DSP_ASM
    dw_pairs_loop_set(&k, pw, ow, stride);
#endif
    for (b = 0; b < in_dims->n; ++b) {
        const int8_t *in_batch = input + b * in_dims->h * in_dims->w * n_ch;
        int8_t *out_batch = output + b * oh * out_row;
        for (ch = 0; ch < n4; ++ch) {
            const int32_t start = ch & ~7, block = n4 - start >= 8 ? 8 : 4;
            const uint32_t *own;
            const int8_t *w = bytes + start * 9 + (ch - start);
            const int32_t *consts = params->channels + 4 * ch;
            int32_t j;
#ifdef MCC_DW_RELU_SHIFT
            /* scaled by 2^j (j - 1 = -shift word, see dw_requantize), or doubled: 9 shifts for 6
             * SADD16 a channel */
            const int32_t up = consts[3] < 0 ? -consts[3] : 0, relu = consts[3] < 0 ? 2 : 0;
            for (j = 0; j < 3; ++j, w += block) {
                const int32_t mid = w[3 * block] * (2 << up);
                k.w[j][0] = dw_pairs_pack(w[0] * (2 << up), mid);
                k.w[j][1] = dw_pairs_pack(mid, w[6 * block] * (2 << up));
            }
            k.bias = consts[0] * (1 << up);
#else
            const int32_t relu = 0;
            for (j = 0; j < 3; ++j, w += block) {  /* packed, then each half doubled (SADD16) */
                const uint32_t upper = dw_pairs_pack(w[0], w[3 * block]);
                const uint32_t lower = dw_pairs_pack(w[3 * block], w[6 * block]);
                k.w[j][0] = __sadd16(upper, upper);
                k.w[j][1] = __sadd16(lower, lower);
            }
            k.bias = consts[0];
#endif
            k.multiplier = consts[1];
            k.round = consts[2];
            k.shift = consts[3];
            if (!fill.second) {
                dw_pairs_fill1(&fill, plane, in_batch + ch);
            } else if (!(ch & 1)) {  /* the planes of this channel and the next */
                dw_pairs_fill(&fill, plane, in_batch + ch);
            }
            own = plane + (ch & 1) * fill.second;  /* this channel's plane */
#if MCC_HAVE_DSP_ASM
            if (stride == 1) {
                if (full) {
                    dw_pairs_channel_rows(own, pw, &k, out_batch + ch, oh, 1, 1 + relu);
                } else {
                    dw_pairs_channel_rows(own, pw, &k, out_batch + ch, oh, 1, relu);
                }
            } else if (full) {
                dw_pairs_channel_rows(own, pw, &k, out_batch + ch, oh, 2, 1 + relu);
            } else {
                dw_pairs_channel_rows(own, pw, &k, out_batch + ch, oh, 2, relu);
            }
#else
            int32_t r;
            (void)relu;
            for (r = 0; r < oh; r += 2) {  /* output rows r, r + 1 read pair rows r / 2 and r / 2 + 1 (stride
                                              * 1) or r, r + 1 and r + 2 (stride 2) */
                const uint32_t *a = own + (stride == 1 ? r >> 1 : r) * pw;
                int8_t *out0 = out_batch + r * out_row + ch;
                const int rows = r + 1 < oh ? 2 : 1;
#define MCC_DW_PAIRS_CALL(STRIDE, FULL) \
    dw_pairs_rows(a, a + pw, a + (STRIDE - 1) * 2 * pw, ow, &k, out0, out0 + out_row, n_ch, lo, hi, STRIDE, rows, FULL)
                if (stride == 1) {
                    if (full) {
                        MCC_DW_PAIRS_CALL(1, 1);
                    } else {
                        MCC_DW_PAIRS_CALL(1, 0);
                    }
                } else if (full) {
                    MCC_DW_PAIRS_CALL(2, 1);
                } else {
                    MCC_DW_PAIRS_CALL(2, 0);
                }
#undef MCC_DW_PAIRS_CALL
            }
#endif
        }
    }
    return MCC_OK;
}
#endif

#if MCC_DW_MVE_LINES_ON
/* 3x3 windows at stride 1 on MVE, one channel at a time, its weights scalars: the 4 lanes of a
 * vector are 4 outputs of the channel along a line of the output (its longer side). The
 * channel's input lines are copied once each into a ring of three byte rows holding the
 * padding's zero points (widening gathers of 8), so every window reads a row with no bounds to
 * check: per tap one contiguous widening load (VLDRB.S32, the tap's position an immediate) and
 * one VMLA by the weight, 4 MACs in 2 instructions. Window lines 0 and 1 go into partial sums
 * (the scratch after the ring), line 2 joins them in a second pass that requantizes 4 outputs
 * as one vector and scatters them. The sums are not doubled: VQRDMULH of a sum is VRMULH of
 * its double. */
typedef struct {
    int32_t len, lines, in_len, in_lines;   /* outputs and input positions along / across lines */
    int32_t before, first;                  /* padding before a line, the first output line's first input line */
    int32_t elem_step, line_step, out_step, out_line_step;
    int32_t row;                            /* bytes of a ring row: the line's span rounded up to whole groups */
    int32_t chunk;                          /* groups whose partial sums fit the scratch */
    int8_t *ring;
    int32x4_t *sums;
    uint16x8_t gather;                      /* offsets of 8 neighbouring inputs along a line */
    int along_y;
} dw_mve3_layer;

/* What the passes read (offsets fixed by their assembly). */
typedef struct {
    int32x4_t bias;         /*   0: the sums' start (half the doubled bias) */
    uint32x4_t out_off;     /*  16 */
    int32x4_t lo, hi;       /*  32, 48 */
    int32x4_t round;        /*  64 */
    int32x4_t neg_shift;    /*  80 */
    int32_t w[9];           /*  96: window line l, position p at 3 l + p */
    int32_t mult;           /* 132 */
} dw_mve3_consts;

/* Window lines 0 and 1 (rows r0, r1) of n outputs into the sums, 4 a group (the last one
 * tail-predicated): per group 6 loads, 6 VMLA. */
MCC_DW_NOINLINE static void dw_mve3_pass01(const dw_mve3_consts *k, const int8_t *r0, const int8_t *r1,
                                           int32_t n, int32x4_t *sum)
{
    register int32_t count __asm__("lr") = n;  /* the loop count LE steps */
    __asm__ volatile(
        "vldrw.u32 q2, [%[k]]\n\t"
        "dlstp.32 lr, lr\n"
        "1:\n\t"
        "vldrb.s32 q1, [%[r0]], #4\n\t"
        "vmov q0, q2\n\t"
        "vmla.s32 q0, q1, %[w0]\n\t"
        "vldrb.s32 q1, [%[r0], #-3]\n\t"
        "vmla.s32 q0, q1, %[w1]\n\t"
        "vldrb.s32 q1, [%[r0], #-2]\n\t"
        "vmla.s32 q0, q1, %[w2]\n\t"
        "vldrb.s32 q1, [%[r1]], #4\n\t"
        "vmla.s32 q0, q1, %[w3]\n\t"
        "vldrb.s32 q1, [%[r1], #-3]\n\t"
        "vmla.s32 q0, q1, %[w4]\n\t"
        "vldrb.s32 q1, [%[r1], #-2]\n\t"
        "vmla.s32 q0, q1, %[w5]\n\t"
        "vstrw.32 q0, [%[sum]], #16\n\t"
        "letp lr, 1b\n\t"
        : [r0] "+l"(r0), [r1] "+l"(r1), [sum] "+r"(sum), [n] "+r"(count)
        : [k] "r"(k), [w0] "r"(k->w[0]), [w1] "r"(k->w[1]), [w2] "r"(k->w[2]), [w3] "r"(k->w[3]),
          [w4] "r"(k->w[4]), [w5] "r"(k->w[5])
        : "d0", "d1", "d2", "d3", "d4", "d5", "memory");
}

/* Window line 2 (row r2) of n outputs added to the sums, requantized, clamped and stored 4
 * outputs a group (the last one tail-predicated), out_step bytes apart (dst steps by 4 of
 * them). */
MCC_DW_NOINLINE static void dw_mve3_pass2(const dw_mve3_consts *k, const int8_t *r2, int32_t n,
                                          const int32x4_t *sum, int8_t *dst, int32_t group_step)
{
    register int32_t count __asm__("lr") = n;
    __asm__ volatile(
        "vldrw.u32 q2, [%[k], #16]\n\t"
        "vldrw.u32 q3, [%[k], #32]\n\t"
        "vldrw.u32 q4, [%[k], #48]\n\t"
        "vldrw.u32 q5, [%[k], #64]\n\t"
        "vldrw.u32 q6, [%[k], #80]\n\t"
        "dlstp.32 lr, lr\n"
        "1:\n\t"
        "vldrw.u32 q0, [%[sum]], #16\n\t"
        "vldrb.s32 q1, [%[r2]], #4\n\t"
        "vmla.s32 q0, q1, %[w6]\n\t"
        "vldrb.s32 q1, [%[r2], #-3]\n\t"
        "vmla.s32 q0, q1, %[w7]\n\t"
        "vldrb.s32 q1, [%[r2], #-2]\n\t"
        "vmla.s32 q0, q1, %[w8]\n\t"
        "vqrdmulh.s32 q1, q0, %[mult]\n\t"
        "vshr.s32 q0, q0, #31\n\t"
        "vadd.i32 q1, q1, q5\n\t"
        "vadd.i32 q1, q1, q0\n\t"
        "vshl.s32 q1, q1, q6\n\t"
        "vmax.s32 q1, q1, q3\n\t"
        "vmin.s32 q1, q1, q4\n\t"
        "vstrb.32 q1, [%[dst], q2]\n\t"
        "add %[dst], %[dst], %[step]\n\t"
        "letp lr, 1b\n\t"
        : [r2] "+l"(r2), [sum] "+r"(sum), [dst] "+r"(dst), [n] "+r"(count)
        : [k] "r"(k), [step] "r"(group_step), [w6] "r"(k->w[6]), [w7] "r"(k->w[7]), [w8] "r"(k->w[8]),
          [mult] "r"(k->mult)
        : "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12", "d13",
          "memory");
}

/* Input line m of the channel (src: its first element) into ring row `row` after `before`
 * entries, 8 at a time (the last 8 overlapping); a line outside the input leaves zero points in
 * the whole row. The entries around the line hold zero points from
 * the start of the layer on. */
MCC_INLINE void dw_mve3_fill(const dw_mve3_layer *g, int8_t *row, const int8_t *src, int32_t m, int8x16_t zeros)
{
    int32_t i;
    if ((uint32_t)m < (uint32_t)g->in_lines) {
        const int8_t *line = src + m * g->line_step;
        int8_t *dst = row + g->before;
        const int32_t n = g->in_len;  /* 8 or more: lines of 16 outputs or more */
        for (i = 0; i + 8 < n; i += 8) {
            vstrbq_s16(dst + i, vldrbq_gather_offset_s16(line + i * g->elem_step, g->gather));
        }
        vstrbq_s16(dst + n - 8, vldrbq_gather_offset_s16(line + (n - 8) * g->elem_step, g->gather));
    } else {
        for (i = 0; i < g->row; i += 16) {
            vst1q_s8(row + i, zeros);
        }
    }
}

/* One channel (w: its tap 0 weight, taps block bytes apart; src, out: its first input and
 * output element). Output line o reads input lines o + first .. o + first + 2, in ring rows
 * r0 r1 r2; the row the window leaves takes the line it reaches. */
static void dw_mve3_channel(const dw_mve3_layer *g, dw_mve3_consts *k, const int8_t *w, int32_t block,
                            const int32_t *ch, const int8_t *src, int8_t *out, int8x16_t zeros)
{
    int8_t *r0 = g->ring, *r1 = g->ring + g->row, *r2 = g->ring + 2 * g->row;
    const int32_t chunk = 4 * g->chunk;
    int32_t o, c;
    k->bias = vdupq_n_s32(ch[0] >> 1);
    k->round = vdupq_n_s32(ch[2]);
    k->neg_shift = vdupq_n_s32(-ch[3]);
    k->mult = ch[1];
    {  /* window line l: taps (l, 0..2), or (0..2, l) when lines run along y */
        const int32_t along = g->along_y ? 3 * block : block, across = g->along_y ? block : 3 * block;
        const int8_t *line = w;
        for (c = 0; c < 9; c += 3, line += across) {
            k->w[c] = line[0];
            k->w[c + 1] = line[along];
            k->w[c + 2] = line[2 * along];
        }
    }
    dw_mve3_fill(g, r0, src, g->first, zeros);
    dw_mve3_fill(g, r1, src, g->first + 1, zeros);
    dw_mve3_fill(g, r2, src, g->first + 2, zeros);
    for (o = 0; o < g->lines; ++o, out += g->out_line_step) {
        if (o > 0) {
            int8_t *left = r0;
            r0 = r1;
            r1 = r2;
            r2 = left;
            dw_mve3_fill(g, r2, src, g->first + o + 2, zeros);
        }
        for (c = 0; c < g->len; c += chunk) {
            const int32_t n = g->len - c < chunk ? g->len - c : chunk;
            dw_mve3_pass01(k, r0 + c, r1 + c, n, g->sums);
            dw_mve3_pass2(k, r2 + c, n, g->sums, out + c * g->out_step, 4 * g->out_step);
        }
    }
}

/* The ring row's bytes for a line of len outputs: the span and the loads past it of a last
 * group, rounded up to whole 16-byte stores. */
MCC_INLINE int32_t dw_mve3_row(int32_t len)
{
    return (4 * ((len + 3) >> 2) + 2 + 15) & ~15;
}

/* A 3x3 stride-1 layer runs channel by channel on MVE when its lines have MCC_DW_MVE_LINE_MIN
 * outputs or more (shorter ones lose to the taps path; such a layer also runs in strips on DSP
 * cores, so its scratch holds the ring and the partial sums of a few groups) and 8 inputs along
 * a line lie within 16-bit gather offsets. */
static int dw_mve3_fits(const mcc_dw_conv_fast_params *params, const mcc_dims *in_dims, const mcc_dims *out_dims)
{
    const int along_y = out_dims->h > out_dims->w;
    const int32_t len = along_y ? out_dims->h : out_dims->w;
    const int32_t elem_step = (along_y ? in_dims->w : 1) * params->channels_n;
    return params->kernel.h == 3 && params->kernel.w == 3 && params->stride.h == 1 && params->stride.w == 1 &&
           params->dilation.h == 1 && params->dilation.w == 1 && len >= MCC_DW_MVE_LINE_MIN &&
           7 * elem_step <= 0xFFFF;
}

/* The whole layer channel by channel (see above). */
MCC_DW_NOINLINE static mcc_status dw_mve3_layer_run(const mcc_dw_conv_fast_params *params, const mcc_dims *in_dims,
                                                    const int8_t *input, const mcc_dims *out_dims, int8_t *output,
                                                    void *scratch)
{
    const int32_t n_ch = params->channels_n, n4 = n_ch & ~3;
    const int along_y = out_dims->h > out_dims->w;
    const int8_t *bytes = (const int8_t *)(const void *)params->weights;
    const int8x16_t zeros = vdupq_n_s8((int8_t)params->input_zero_point);
    dw_mve3_consts consts;
    dw_mve3_layer g;
    int32_t b, c;
    g.len = along_y ? out_dims->h : out_dims->w;
    g.lines = along_y ? out_dims->w : out_dims->h;
    g.in_len = along_y ? in_dims->h : in_dims->w;
    g.in_lines = along_y ? in_dims->w : in_dims->h;
    g.before = along_y ? params->padding.h : params->padding.w;
    g.first = -(along_y ? params->padding.w : params->padding.h);
    g.elem_step = (along_y ? in_dims->w : 1) * n_ch;
    g.line_step = (along_y ? 1 : in_dims->w) * n_ch;
    g.out_step = (along_y ? out_dims->w : 1) * n_ch;
    g.out_line_step = (along_y ? 1 : out_dims->w) * n_ch;
    g.row = dw_mve3_row(g.len);
    /* the scratch the strips of a DSP core have: the ring, then the partial sums of a few groups
     * at least (the strips' three int16 lines outsize the ring's three byte rows) */
    g.ring = (int8_t *)scratch;
    g.sums = (int32x4_t *)(void *)(g.ring + 3 * g.row);
    g.chunk = (mcc_depthwise_conv2d_fast_s8_get_buffer_size(n_ch, 9, g.len + 2) - 3 * g.row) /
              (int32_t)sizeof(int32x4_t);
    g.along_y = along_y;
    g.gather = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)g.elem_step);
    consts.out_off = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)g.out_step);
    consts.lo = vdupq_n_s32(params->activation.min);
    consts.hi = vdupq_n_s32(params->activation.max);
    for (c = 0; c < 3 * g.row; c += 16) {  /* zero points around every line */
        vst1q_s8(g.ring + c, zeros);
    }
    for (b = 0; b < in_dims->n; ++b) {
        const int8_t *in_batch = input + b * in_dims->h * in_dims->w * n_ch;
        int8_t *out_batch = output + b * out_dims->h * out_dims->w * n_ch;
        for (c = 0; c < n4; ++c) {
            const int32_t start = c & ~7;
            dw_mve3_channel(&g, &consts, bytes + start * 9 + (c - start), n4 - start >= 8 ? 8 : 4,
                            params->channels + 4 * c, in_batch + c, out_batch + c, zeros);
        }
    }
    return MCC_OK;
}
#endif

#if MCC_DW_MVE_FLAT_ON
/* 3x3 windows at stride 1 or 2 on MVE, one channel at a time, four input rows interleaved byte by
 * byte: the channel's input is first gathered into a plane of bytes with the padding's zero
 * points around it (the zero points are written once per layer: every channel has its input at
 * the same places), then for each window position four rows of the plane are interleaved by
 * column (VST4), so that column j of rows r..r+3 is the 4 bytes at 4 j. One 16-byte load then
 * holds the 3x3 window of an output in 9 of its lanes, and VMLADAVA with the window's weights
 * placed in those lanes (the other lanes zero) is the output's whole sum: at stride 1 one load
 * serves two outputs along the line (the weights shifted by one column) of two output lines
 * (shifted by one row). Four sums go into one vector, requantized per channel and scattered to
 * their places in the output. The sums start at half the doubled bias and are not doubled:
 * VQRDMULH of a sum is VRMULH of its double. Lines run along the output's longer side: when it is
 * taller than wide, the plane holds the channel's input transposed (its rows are input columns),
 * so that tall, narrow layers also get long lines. At stride 1 a last line without a partner runs
 * four outputs a vector along the line (one load each, like stride 2). */
typedef struct {
    int32_t cols, rows;          /* of the plane: (outputs - 1) * stride + 4 along and across lines */
    int32_t plane_bytes;         /* the plane and the reads past its last row */
    int32_t blocks;              /* four-row blocks a channel's lines read: one per line (pair) */
} dw_flat_size;

/* A plane of 64 columns or fewer is not kept: the fill scatters each input row straight into
 * the two blocks of four interleaved rows that read it (a block per pair of lines at stride 1,
 * per line at stride 2: 4 bytes a column, whole groups of 16 columns), so no line interleaves
 * rows (and one block more for the rows no block reads). Scattering a row twice costs less than
 * storing it once and interleaving four rows a line (a row is read by two lines at stride 1 and
 * 2): MobileNet's 48x48 layers save about a sixth of a channel's instructions at stride 2. */
#define MCC_DW_FLAT_BLOCK_COLS 64

MCC_INLINE int dw_flat_along_y(const mcc_dims *out_dims)
{
    return out_dims->h > out_dims->w;
}

MCC_INLINE dw_flat_size dw_flat_sizes(int32_t stride, const mcc_dims *out_dims)
{
    const int along_y = dw_flat_along_y(out_dims);
    dw_flat_size z;
    z.cols = ((along_y ? out_dims->h : out_dims->w) - 1) * stride + 4;
    z.rows = ((along_y ? out_dims->w : out_dims->h) - 1) * stride + 4;
    z.plane_bytes = (z.rows * z.cols + 16 + 15) & ~15;
    z.blocks = stride == 1 ? ((along_y ? out_dims->w : out_dims->h) + 1) >> 1 : (along_y ? out_dims->w : out_dims->h);
    return z;
}

MCC_INLINE int dw_flat_in_blocks(const dw_flat_size *z)
{
    return z->cols <= MCC_DW_FLAT_BLOCK_COLS;
}

MCC_INLINE int32_t dw_flat_block_bytes(const dw_flat_size *z)
{
    return 4 * ((z->cols + 15) & ~15);
}

/* In blocks: the blocks, a spare one and the loads past them. */
MCC_INLINE int32_t dw_flat_blocks_bytes(const dw_flat_size *z)
{
    return (z->blocks + 1) * dw_flat_block_bytes(z) + 64;
}

/* In blocks, then where each of the plane's rows goes (two pointers a row, in the scratch rather
 * than on the stack: up to 64 rows); else the plane, then the interleaved rows (whole groups of
 * 16 columns, and the loads past them). */
MCC_INLINE int32_t dw_flat_bytes(const dw_flat_size *z)
{
    if (dw_flat_in_blocks(z)) {
        return dw_flat_blocks_bytes(z) + z->rows * (int32_t)(2 * sizeof(int8_t *));
    }
    return z->plane_bytes + 4 * ((z->cols + 15) & ~15) + 64;
}

static int dw_flat_fits(const mcc_dw_conv_fast_params *params, const mcc_dims *in_dims, const mcc_dims *out_dims)
{
    const int32_t stride = params->stride.h;
    const int along_y = dw_flat_along_y(out_dims);
    dw_flat_size z;
    if (params->kernel.h != 3 || params->kernel.w != 3 || params->dilation.h != 1 || params->dilation.w != 1 ||
        params->stride.w != stride || (uint32_t)(stride - 1) >= 2u ||
        out_dims->h * out_dims->w < MCC_DW_FLAT_MIN_OUTPUTS ||
        (along_y ? out_dims->h : out_dims->w) < (stride == 2 ? 7 : 6) ||
        7 * (along_y ? in_dims->w : 1) * params->channels_n > 0xFFFF ||
        params->padding.h < 0 || params->padding.w < 0) {
        return 0;
    }
    z = dw_flat_sizes(stride, out_dims);
    return dw_flat_bytes(&z) <= MCC_DW_FLAT_MAX_BYTES &&
           2 * dw_flat_bytes(&z) <= (in_dims->h * in_dims->w + out_dims->h * out_dims->w) * params->channels_n;
}

typedef struct {
    dw_flat_size z;
    int32_t stride, n_ch, in_rows, in_cols;  /* input lines and entries a line that land in the plane */
    int32_t elem_step, row_step;             /* input bytes along a line and from one line to the next */
    int32_t pad_t, pad_l, lines, len;        /* padding before the lines and along them; output lines, their length */
    int32_t along;                           /* output bytes from one output to the next along a line */
    int8_t *plane, *lines_at;                /* in blocks: the first block, unused */
    int8_t *(*row_to)[2];                    /* in blocks: where each input line goes, twice */
    int in_blocks;                           /* DW_FLAT_IN_BLOCKS or 0 */
    int fill;                                /* some input lands in the plane */
    int mode, last_mode;                     /* dw_flat_lines' modes: the lines (pairs), the last line (or 0) */
    int32_t count;                           /* the lines (pairs) of the first mode */
    uint16x8_t gather;        /* offsets of 8 neighbouring inputs along a line */
    uint8x16_t taps0, taps1;  /* tap (l, k) of the window at lane 4 k + l, and one lane on (one row down) */
    uint32x4_t off_pairs;     /* output places of a vector at stride 1, (o, x) (o, x+1) (o+1, x) (o+1, x+1) */
    uint32x4_t off_quad;      /* and of four outputs along a line */
} dw_flat_layer;

/* What the assembly below reads and keeps between output lines (offsets fixed by it). */
typedef struct {
    int8x16_t w0;             /*   0: the window's weights, tap (l, k) at lane 4 k + l */
    int8x16_t w1;             /*  16: the same one row down (the output line below) */
    int32x4_t lo, hi;         /*  32, 48: the clamp */
    uint32x4_t off;           /*  64: where the 4 outputs of a vector go */
    const int32_t *ch;        /*  80: the channel's {doubled bias, multiplier, round, shift} */
    int32_t skip;             /*  84: from a line's first output past its full vectors to the next line's */
    int32_t unused[2];
    int32_t step;             /*  96: bytes from one vector's outputs to the next's */
    const int8_t *row;        /* 100: the plane's first row of the next output line (pair) */
    int32_t cols;             /* 104: of the plane */
    int32_t groups;           /* 108: of 16 columns */
    int8_t *lines;            /* 112: the interleaved rows */
    int8_t *dst;              /* 116: the first line's first output (left at the next call's) */
    int32_t dst_step;         /* 120 */
    int32_t full;             /* 124: vectors of a line with every lane stored */
    uint32_t tail;            /* 128: the lanes of a last vector (0: none) */
    int32_t count;            /* 132: output lines (pairs) */
} dw_flat_consts;

/* One vector of 4 sums into q7 at stride 1: the output pairs (o, x), (o, x + 1) and (o + 1, x),
 * (o + 1, x + 1) from the interleaved rows at t (the window of column x + 1 four bytes on); VMOV
 * moves two sums into lanes 0 and 2 (1 and 3) at a time. */
#define MCC_DW_FLAT_SUMS1_ASM                           \
    "vldrb.u8 q5, [%[t]], #8\n\t"                       \
    "vldrb.u8 q6, [%[t], #-4]\n\t"                      \
    "vmladav.s8 %[a], q5, q0\n\t"                       \
    "vmladav.s8 %[c], q5, q1\n\t"                       \
    "vmov q7[2], q7[0], %[a], %[c]\n\t"                 \
    "vmladav.s8 %[a], q6, q0\n\t"                       \
    "vmladav.s8 %[c], q6, q1\n\t"                       \
    "vmov q7[3], q7[1], %[a], %[c]\n\t"
/* Four outputs along one line at stride 1: windows at t, t + 4, t + 8, t + 12. */
#define MCC_DW_FLAT_SUMS1Q_ASM                          \
    "vldrb.u8 q5, [%[t]], #16\n\t"                      \
    "vldrb.u8 q6, [%[t], #-8]\n\t"                      \
    "vmladav.s8 %[a], q5, q0\n\t"                       \
    "vmladav.s8 %[c], q6, q0\n\t"                       \
    "vldrb.u8 q5, [%[t], #-12]\n\t"                     \
    "vldrb.u8 q6, [%[t], #-4]\n\t"                      \
    "vmov q7[2], q7[0], %[a], %[c]\n\t"                 \
    "vmladav.s8 %[a], q5, q0\n\t"                       \
    "vmladav.s8 %[c], q6, q0\n\t"                       \
    "vmov q7[3], q7[1], %[a], %[c]\n\t"
/* At stride 2: four outputs along the line, windows at t, t + 8, t + 16, t + 24. */
#define MCC_DW_FLAT_SUMS2_ASM                           \
    "vldrb.u8 q5, [%[t]], #32\n\t"                      \
    "vldrb.u8 q6, [%[t], #-16]\n\t"                     \
    "vmladav.s8 %[a], q5, q0\n\t"                       \
    "vmladav.s8 %[c], q6, q0\n\t"                       \
    "vldrb.u8 q5, [%[t], #-24]\n\t"                     \
    "vldrb.u8 q6, [%[t], #-8]\n\t"                      \
    "vmov q7[2], q7[0], %[a], %[c]\n\t"                 \
    "vmladav.s8 %[a], q5, q0\n\t"                       \
    "vmladav.s8 %[c], q6, q0\n\t"                       \
    "vmov q7[3], q7[1], %[a], %[c]\n\t"
/* The bias, VQRDMULH, the rounding and shift, the clamp (then the scatter of every lane, or of
 * the lanes P0 keeps for a line's last vector). */
#define MCC_DW_FLAT_REQUANT_ASM                         \
    "vadd.i32 q7, q7, %[bias]\n\t"                      \
    "vqrdmulh.s32 q6, q7, %[mult]\n\t"                  \
    "vshr.s32 q7, q7, #31\n\t"                          \
    "vadd.i32 q6, q6, q7\n\t"                           \
    "vadd.i32 q6, q6, %[round]\n\t"                     \
    "vshl.s32 q6, %[shift]\n\t"                         \
    "vmax.s32 q6, q6, q2\n\t"                           \
    "vmin.s32 q6, q6, q3\n\t"
#define MCC_DW_FLAT_STORE_ASM                           \
    MCC_DW_FLAT_REQUANT_ASM                             \
    "vstrb.32 q6, [%[dst], q4]\n\t"                     \
    "add %[dst], %[dst], %[step]\n\t"
#define MCC_DW_FLAT_STORE_TAIL_ASM                      \
    MCC_DW_FLAT_REQUANT_ASM                             \
    "vpst\n\t"                                          \
    "vstrbt.32 q6, [%[dst], q4]\n\t"
/* k->count output lines (pairs): per line the plane's rows from k->row interleaved (VST4, 16
 * columns a pass), then its vectors of outputs (SUMS), the last one on its own lanes. */
/* The line's (pair's) four rows: interleaved from the plane into k->lines, 16 columns a pass
 * (k->row: the plane's first of them, then two rows on), or a block the fill wrote (k->row: the
 * block, then the next). t: the rows for the line's vectors. Interleaving takes q4 and step, so
 * it loads them again (the blocks keep them from the start). */
#define MCC_DW_FLAT_INTERLEAVE_ASM                                                               \
        "ldr %[a], [%[k], #100]\n\t"                                                             \
        "ldr %[t], [%[k], #112]\n\t"                                                             \
        "ldrd %[step], lr, [%[k], #104]\n\t"                                                     \
        "dls lr, lr\n"                                                                           \
        "2:\n\t"                                                                                 \
        "vldrb.u8 q4, [%[a]]\n\t"                                                                \
        "add %[c], %[a], %[step]\n\t"                                                            \
        "vldrb.u8 q5, [%[c]]\n\t"                                                                \
        "add %[c], %[c], %[step]\n\t"                                                            \
        "vldrb.u8 q6, [%[c]]\n\t"                                                                \
        "add %[c], %[c], %[step]\n\t"                                                            \
        "vldrb.u8 q7, [%[c]]\n\t"                                                                \
        "add %[a], %[a], #16\n\t"                                                                \
        "vst40.8 {q4, q5, q6, q7}, [%[t]]\n\t"                                                   \
        "vst41.8 {q4, q5, q6, q7}, [%[t]]\n\t"                                                   \
        "vst42.8 {q4, q5, q6, q7}, [%[t]]\n\t"                                                   \
        "vst43.8 {q4, q5, q6, q7}, [%[t]]!\n\t"                                                  \
        "le lr, 2b\n\t"                                                                          \
        "ldr %[a], [%[k], #100]\n\t"                                                             \
        "add %[a], %[a], %[step], lsl #1\n\t"                                                    \
        "str %[a], [%[k], #100]\n\t"                                                             \
        "ldr %[t], [%[k], #112]\n\t"                                                             \
        "vldrw.u32 q4, [%[k], #64]\n\t"                                                          \
        "ldr %[step], [%[k], #96]\n\t"
#define MCC_DW_FLAT_BLOCK_ASM                                                                    \
        "ldrd %[t], %[a], [%[k], #100]\n\t"                                                      \
        "add %[a], %[a], %[t]\n\t"                                                               \
        "str %[a], [%[k], #100]\n\t"
#define MCC_DW_FLAT_LINES_ASM(SUMS, ROWS)                                                        \
    __asm__ volatile(                                                                            \
        "vldrw.u32 q0, [%[k]]\n\t"                                                               \
        "vldrw.u32 q1, [%[k], #16]\n\t"                                                          \
        "vldrw.u32 q2, [%[k], #32]\n\t"                                                          \
        "vldrw.u32 q3, [%[k], #48]\n\t"                                                          \
        "ldr %[a], [%[k], #80]\n\t"                                                              \
        "ldrd %[bias], %[mult], [%[a]]\n\t"                                                      \
        "ldrd %[round], %[shift], [%[a], #8]\n\t"                                                \
        "asr %[bias], %[bias], #1\n\t"                                                           \
        "rsb %[shift], %[shift], #0\n\t"                                                         \
        "vldrw.u32 q4, [%[k], #64]\n\t"                                                          \
        "ldr %[step], [%[k], #96]\n\t"                                                           \
        "ldr %[dst], [%[k], #116]\n\t"                                                           \
        "ldr %[lines], [%[k], #132]\n"                                                            \
        "1:\n\t"                                                                                 \
        ROWS                                                                                     \
        "ldr lr, [%[k], #124]\n\t"                                                               \
        "wls lr, lr, 3f\n"                                                                       \
        "4:\n\t"                                                                                 \
        SUMS MCC_DW_FLAT_STORE_ASM                                                               \
        "le lr, 4b\n"                                                                            \
        "3:\n\t"                                                                                 \
        "ldr %[a], [%[k], #128]\n\t"                                                             \
        "cbz %[a], 5f\n\t"                                                                       \
        "vmsr p0, %[a]\n\t"                                                                      \
        SUMS MCC_DW_FLAT_STORE_TAIL_ASM                                                          \
        "5:\n\t"                                                                                 \
        "ldr %[c], [%[k], #84]\n\t"                                                              \
        "add %[dst], %[dst], %[c]\n\t"                                                           \
        "subs %[lines], %[lines], #1\n\t"                                                        \
        "bne 1b\n\t"                                                                             \
        "str %[dst], [%[k], #116]\n\t"                                                           \
        : [t] "=&l"(t), [dst] "=&r"(dst), [a] "=&r"(a), [c] "=&r"(c), [bias] "=&r"(bias),       \
          [mult] "=&r"(mult), [round] "=&r"(round), [shift] "=&r"(shift), [step] "=&r"(step),    \
          [lines] "=&r"(lines), "=&r"(count)                                                      \
        : [k] "r"(k), "m"(*k)                                                                    \
        : "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12", "d13", \
          "d14", "d15", "cc", "memory")

/* k->count output lines of one channel: pairs of lines at stride 1 (DW_FLAT_PAIRS), lines of
 * four outputs a vector at stride 2 (DW_FLAT_STRIDE2) or at stride 1 (DW_FLAT_QUADS), from the
 * plane or from blocks the fill wrote (+ DW_FLAT_IN_BLOCKS); k->row and k->dst are left at the
 * next line's. */
enum { DW_FLAT_PAIRS, DW_FLAT_STRIDE2, DW_FLAT_QUADS, DW_FLAT_IN_BLOCKS = 3 };
/* One line mode each, so that no function holds more than two copies of the assembly (GCC 12
 * at -Os fails to allocate registers for more). */
#define MCC_DW_FLAT_LINES_FN(NAME, SUMS, ROWS)                                                   \
    MCC_DW_NOINLINE static void NAME(dw_flat_consts *k)                                          \
    {                                                                                            \
        register int32_t count __asm__("lr");                                                    \
        register int32_t a __asm__("r6"), c __asm__("r8"); /* VMLADAV writes even registers only */ \
        int8_t *t, *dst;                                                                         \
        int32_t bias, mult, round, shift, step, lines;                                           \
        MCC_DW_FLAT_LINES_ASM(SUMS, ROWS);                                                       \
    }
MCC_DW_FLAT_LINES_FN(dw_flat_pairs, MCC_DW_FLAT_SUMS1_ASM, MCC_DW_FLAT_INTERLEAVE_ASM)
MCC_DW_FLAT_LINES_FN(dw_flat_stride2, MCC_DW_FLAT_SUMS2_ASM, MCC_DW_FLAT_INTERLEAVE_ASM)
MCC_DW_FLAT_LINES_FN(dw_flat_quads, MCC_DW_FLAT_SUMS1Q_ASM, MCC_DW_FLAT_INTERLEAVE_ASM)
MCC_DW_FLAT_LINES_FN(dw_flat_pairs_blocks, MCC_DW_FLAT_SUMS1_ASM, MCC_DW_FLAT_BLOCK_ASM)
MCC_DW_FLAT_LINES_FN(dw_flat_stride2_blocks, MCC_DW_FLAT_SUMS2_ASM, MCC_DW_FLAT_BLOCK_ASM)
MCC_DW_FLAT_LINES_FN(dw_flat_quads_blocks, MCC_DW_FLAT_SUMS1Q_ASM, MCC_DW_FLAT_BLOCK_ASM)
#undef MCC_DW_FLAT_LINES_FN

static void dw_flat_lines(dw_flat_consts *k, int mode)
{
    static void (*const modes[6])(dw_flat_consts *) = {dw_flat_pairs, dw_flat_stride2, dw_flat_quads,
                                                         dw_flat_pairs_blocks, dw_flat_stride2_blocks,
                                                         dw_flat_quads_blocks};
    modes[mode](k);
}
#undef MCC_DW_FLAT_SUMS1_ASM
#undef MCC_DW_FLAT_SUMS1Q_ASM
#undef MCC_DW_FLAT_SUMS2_ASM
#undef MCC_DW_FLAT_REQUANT_ASM
#undef MCC_DW_FLAT_STORE_ASM
#undef MCC_DW_FLAT_STORE_TAIL_ASM
#undef MCC_DW_FLAT_LINES_ASM
#undef MCC_DW_FLAT_INTERLEAVE_ASM
#undef MCC_DW_FLAT_BLOCK_ASM

/* Byte offsets of 8 neighbouring entries of a line in a block of four interleaved rows, and of
 * the 8 after them. */
static const uint16_t dw_flat_scatter[16] = {0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60};

/* The channel's input (src: its first element) into the plane, line by line (rows of the input,
 * or its columns when lines run along y): 8 entries a widening gather and a narrowing store, the
 * last ones tail-predicated (lines of 16 or fewer: predicated by VCTP once for all of them). */
static void dw_flat_fill(const dw_flat_layer *g, const int8_t *src)
{
    register int32_t count __asm__("lr");
    int8_t *dst = g->plane + g->pad_t * g->z.cols + g->pad_l;
    const int8_t *s;
    int8_t *d;
    int32_t rows = g->in_rows;
    if (dw_flat_in_blocks(&g->z)) {  /* each line scattered into its two blocks, 4 bytes apart */
        int8_t *const *to = &g->row_to[0][0];  /* read by the assembly (the memory clobber) */
        int8_t *pa, *pb;
        const int8_t *s8;
        int32_t n = g->in_cols;
        __asm__ volatile(
            "vldrw.u32 q0, [%[gather]]\n\t"
            "vldrw.u32 q2, [%[scatter]]\n\t"
            "vldrw.u32 q3, [%[scatter], #16]\n\t"
            "cmp %[n], #8\n\t"
            "ble 3f\n\t"
            "cmp %[n], #16\n\t"
            "bgt 7f\n\t"
            "sub %[n], %[n], #8\n\t"
            "vctp.16 %[n]\n"
            "1:\n\t"
            "ldrd %[pa], %[pb], [%[to]], #8\n\t"
            "vldrb.s16 q1, [%[src], q0]\n\t"
            "add %[s8], %[src], %[step8]\n\t"
            "vstrb.16 q1, [%[pa], q2]\n\t"
            "vstrb.16 q1, [%[pb], q2]\n\t"
            "vpsttt\n\t"
            "vldrbt.s16 q1, [%[s8], q0]\n\t"
            "vstrbt.16 q1, [%[pa], q3]\n\t"
            "vstrbt.16 q1, [%[pb], q3]\n\t"
            "add %[src], %[src], %[row_step]\n\t"
            "subs %[rows], %[rows], #1\n\t"
            "bne 1b\n\t"
            "b 4f\n"
            "3:\n\t"
            "vctp.16 %[n]\n"
            "2:\n\t"
            "ldrd %[pa], %[pb], [%[to]], #8\n\t"
            "vpsttt\n\t"
            "vldrbt.s16 q1, [%[src], q0]\n\t"
            "vstrbt.16 q1, [%[pa], q2]\n\t"
            "vstrbt.16 q1, [%[pb], q2]\n\t"
            "add %[src], %[src], %[row_step]\n\t"
            "subs %[rows], %[rows], #1\n\t"
            "bne 2b\n\t"
            "b 4f\n"
            "7:\n\t"                /* 17 or more: 16 a pass, then 8 a pass, the last ones predicated */
            "ldrd %[pa], %[pb], [%[to]], #8\n\t"
            "mov %[s8], %[src]\n\t"
            "lsr lr, %[n], #4\n\t"
            "dls lr, lr\n"
            "8:\n\t"
            "vldrb.s16 q1, [%[s8], q0]\n\t"
            "add %[s8], %[s8], %[step8]\n\t"
            "vldrb.s16 q4, [%[s8], q0]\n\t"
            "add %[s8], %[s8], %[step8]\n\t"
            "vstrb.16 q1, [%[pa], q2]\n\t"
            "vstrb.16 q1, [%[pb], q2]\n\t"
            "vstrb.16 q4, [%[pa], q3]\n\t"
            "vstrb.16 q4, [%[pb], q3]\n\t"
            "add %[pa], %[pa], #64\n\t"
            "add %[pb], %[pb], #64\n\t"
            "le lr, 8b\n\t"
            "and lr, %[n], #15\n\t"
            "wlstp.16 lr, lr, 9f\n"
            "10:\n\t"
            "vldrb.s16 q1, [%[s8], q0]\n\t"
            "vstrb.16 q1, [%[pa], q2]\n\t"
            "vstrb.16 q1, [%[pb], q2]\n\t"
            "add %[s8], %[s8], %[step8]\n\t"
            "add %[pa], %[pa], #32\n\t"
            "add %[pb], %[pb], #32\n\t"
            "letp lr, 10b\n"
            "9:\n\t"
            "add %[src], %[src], %[row_step]\n\t"
            "subs %[rows], %[rows], #1\n\t"
            "bne 7b\n"
            "4:\n\t"
            : [src] "+r"(src), [rows] "+r"(rows), [to] "+r"(to), [n] "+r"(n), [pa] "=&l"(pa),
              [pb] "=&l"(pb), [s8] "=&r"(s8), "=&r"(count)
            : [gather] "r"(&g->gather), [scatter] "r"(dw_flat_scatter), [step8] "r"(8 * g->elem_step),
              [row_step] "r"(g->row_step), "m"(g->gather)
            : "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "cc", "memory");
        (void)dst;
        (void)s;
        (void)d;
        return;
    }
    if (g->in_cols <= 8) {  /* lines of 8 entries or fewer: one predicated gather and store each */
        __asm__ volatile(
            "vldrw.u32 q0, [%[gather]]\n\t"
            "vctp.16 %[n]\n"
            "1:\n\t"
            "vpstt\n\t"
            "vldrbt.s16 q1, [%[src], q0]\n\t"
            "vstrbt.16 q1, [%[dst]]\n\t"
            "add %[src], %[src], %[row_step]\n\t"
            "add %[dst], %[dst], %[cols]\n\t"
            "subs %[rows], %[rows], #1\n\t"
            "bne 1b\n\t"
            : [src] "+r"(src), [dst] "+l"(dst), [rows] "+r"(rows)
            : [gather] "r"(&g->gather), [n] "r"(g->in_cols), [row_step] "r"(g->row_step),
              [cols] "r"(g->z.cols), "m"(g->gather)
            : "d0", "d1", "d2", "d3", "cc", "memory");
        return;
    }
    if (g->in_cols <= 16) {  /* 9 to 16 entries: 8, then the rest predicated */
        __asm__ volatile(
            "vldrw.u32 q0, [%[gather]]\n\t"
            "vctp.16 %[n]\n"
            "1:\n\t"
            "vldrb.s16 q1, [%[src], q0]\n\t"
            "add %[s], %[src], %[step8]\n\t"
            "vstrb.16 q1, [%[dst]]\n\t"
            "vpstt\n\t"
            "vldrbt.s16 q1, [%[s], q0]\n\t"
            "vstrbt.16 q1, [%[dst], #8]\n\t"
            "add %[src], %[src], %[row_step]\n\t"
            "add %[dst], %[dst], %[cols]\n\t"
            "subs %[rows], %[rows], #1\n\t"
            "bne 1b\n\t"
            : [src] "+r"(src), [dst] "+l"(dst), [rows] "+r"(rows), [s] "=&r"(s)
            : [gather] "r"(&g->gather), [n] "r"(g->in_cols - 8), [step8] "r"(8 * g->elem_step),
              [row_step] "r"(g->row_step), [cols] "r"(g->z.cols), "m"(g->gather)
            : "d0", "d1", "d2", "d3", "cc", "memory");
        return;
    }
    __asm__ volatile(
        "vldrw.u32 q0, [%[gather]]\n"
        "1:\n\t"
        "mov lr, %[n]\n\t"
        "mov %[s], %[src]\n\t"
        "mov %[d], %[dst]\n\t"
        "dlstp.16 lr, lr\n"
        "2:\n\t"
        "vldrb.s16 q1, [%[s], q0]\n\t"
        "vstrb.16 q1, [%[d]], #8\n\t"
        "add %[s], %[s], %[step8]\n\t"
        "letp lr, 2b\n\t"
        "add %[src], %[src], %[row_step]\n\t"
        "add %[dst], %[dst], %[cols]\n\t"
        "subs %[rows], %[rows], #1\n\t"
        "bne 1b\n\t"
        : [src] "+r"(src), [dst] "+r"(dst), [rows] "+r"(rows), [s] "=&r"(s), [d] "=&l"(d), "=&r"(count)
        : [gather] "r"(&g->gather), [n] "r"(g->in_cols), [step8] "r"(8 * g->elem_step),
          [row_step] "r"(g->row_step), [cols] "r"(g->z.cols), "m"(g->gather)
        : "d0", "d1", "d2", "d3", "cc", "memory");
}

/* One channel (w: its tap 0 weight, taps block bytes apart; src, out: its first input and output
 * element; ch its constants). */
/* Output places, steps and vectors a line: pairs of lines at stride 1, or four outputs a vector
 * along a line (at stride 2, and on the last of an odd number of lines at stride 1). */
MCC_INLINE void dw_flat_pairs_mode(const dw_flat_layer *g, dw_flat_consts *k)
{
    k->off = g->off_pairs;
    k->step = 2 * g->along;
    k->full = g->len >> 1;
    k->skip = k->dst_step - k->full * k->step;
    k->tail = g->len & 1 ? 0x0F0F : 0;
}

MCC_INLINE void dw_flat_quads_mode(const dw_flat_layer *g, dw_flat_consts *k)
{
    k->off = g->off_quad;
    k->step = 4 * g->along;
    k->full = g->len >> 2;
    k->skip = k->dst_step - k->full * k->step;
    k->tail = (1u << (4 * (g->len & 3))) - 1u;
}

static void dw_flat_channel(const dw_flat_layer *g, dw_flat_consts *k, const int8_t *w, const uint8x16_t *taps,
                            const int8_t *src)
{
    if (g->fill) {
        dw_flat_fill(g, src);
    }
    /* lanes 4 k + l (l, k < 3) hold the window, the others zero; one row down: one lane on */
    k->w0 = vldrbq_gather_offset_z_s8(w, taps[0], 0x0777);
    k->w1 = vldrbq_gather_offset_z_s8(w, taps[1], 0x0EEE);
    k->row = g->plane;
    k->count = g->count;
    dw_flat_lines(k, g->mode);
    if (g->last_mode) {  /* the last of an odd number of lines at stride 1 */
        dw_flat_quads_mode(g, k);
        k->count = 1;
        dw_flat_lines(k, g->last_mode);
        dw_flat_pairs_mode(g, k);
    }
}

/* The window's tap at lane 4 k + l (k along the line, l across), from lane 15 on one lane later
 * (predicated lanes read 0): tap 3 l + k for lines along x, tap 3 k + l along y. */
static const uint8_t dw_flat_taps[2][31] = {{0, 3, 6, 0, 1, 4, 7, 0, 2, 5, 8, 0, 0, 0, 0,
                                             0, 0, 3, 6, 0, 1, 4, 7, 0, 2, 5, 8, 0, 0, 0, 0},
                                            {0, 1, 2, 0, 3, 4, 5, 0, 6, 7, 8, 0, 0, 0, 0,
                                             0, 0, 1, 2, 0, 3, 4, 5, 0, 6, 7, 8, 0, 0, 0, 0}};

/* The whole layer channel by channel (see above). */
MCC_DW_NOINLINE static mcc_status dw_flat_layer_run(const mcc_dw_conv_fast_params *params, const mcc_dims *in_dims,
                                                    const int8_t *input, const mcc_dims *out_dims, int8_t *output,
                                                    void *scratch)
{
    const int32_t n_ch = params->channels_n, n4 = n_ch & ~3;
    const int8_t *bytes = (const int8_t *)(const void *)params->weights;
    dw_flat_layer g;
    dw_flat_consts k;
    uint8x16_t taps[2][2];  /* offsets of the window's weights, blocks of 8 and 4 channels */
    int32_t b, c;
    const int along_y = dw_flat_along_y(out_dims);
    /* output bytes along a line and from one line to the next */
    const int32_t along = (along_y ? out_dims->w : 1) * n_ch, across = (along_y ? 1 : out_dims->w) * n_ch;
    const uint32x4_t lane = vidupq_n_u32(0, 1);
    g.stride = params->stride.h;
    g.z = dw_flat_sizes(g.stride, out_dims);
    g.n_ch = n_ch;
    g.elem_step = (along_y ? in_dims->w : 1) * n_ch;
    g.row_step = (along_y ? 1 : in_dims->w) * n_ch;
    g.pad_t = along_y ? params->padding.w : params->padding.h;
    g.pad_l = along_y ? params->padding.h : params->padding.w;
    g.in_rows = along_y ? in_dims->w : in_dims->h;
    g.in_rows = g.in_rows < g.z.rows - g.pad_t ? g.in_rows : g.z.rows - g.pad_t;
    g.in_cols = along_y ? in_dims->h : in_dims->w;
    g.in_cols = g.in_cols < g.z.cols - g.pad_l ? g.in_cols : g.z.cols - g.pad_l;
    g.lines = along_y ? out_dims->w : out_dims->h;
    g.len = along_y ? out_dims->h : out_dims->w;
    g.plane = (int8_t *)scratch;
    g.lines_at = g.plane + g.z.plane_bytes;
    g.gather = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)g.elem_step);
    g.taps0 = vld1q_u8(dw_flat_taps[along_y]);
    g.taps1 = vld1q_u8(dw_flat_taps[along_y] + 15);
    g.off_quad = vmulq_n_u32(lane, (uint32_t)along);
    g.off_pairs = vaddq_u32(vmulq_n_u32(vandq_u32(lane, vdupq_n_u32(1)), (uint32_t)along),
                            vmulq_n_u32(vshrq_n_u32(lane, 1), (uint32_t)across));
    g.along = along;
    g.in_blocks = dw_flat_in_blocks(&g.z) ? DW_FLAT_IN_BLOCKS : 0;
    g.fill = g.in_rows > 0 && g.in_cols > 0;
    g.last_mode = 0;
    k.dst_step = (g.stride == 1 ? 2 : 1) * across;
    if (g.stride == 1 && g.lines > 1) {
        dw_flat_pairs_mode(&g, &k);
        g.mode = DW_FLAT_PAIRS + g.in_blocks;
        g.count = g.lines >> 1;
        g.last_mode = g.lines & 1 ? DW_FLAT_QUADS + g.in_blocks : 0;
    } else {
        dw_flat_quads_mode(&g, &k);
        g.mode = (g.stride == 1 ? DW_FLAT_QUADS : DW_FLAT_STRIDE2) + g.in_blocks;
        g.count = g.lines;
    }
    for (c = 0; c < 2; ++c) {  /* the weights' offsets in blocks of 8 channels and in a last one of 4 */
        taps[c][0] = vmulq_n_u8(g.taps0, (uint8_t)(c ? 4 : 8));
        taps[c][1] = vmulq_n_u8(g.taps1, (uint8_t)(c ? 4 : 8));
    }
    k.cols = g.z.cols;
    k.groups = (g.z.cols + 15) >> 4;
    k.lines = g.lines_at;
    k.lo = vdupq_n_s32(params->activation.min);
    k.hi = vdupq_n_s32(params->activation.max);
    if (g.in_blocks) {  /* input line i is plane row r = i + pad_t: block r / 2 at row r % 2, and
                         * the block before at row 2 + r % 2; rows past the blocks go to the last */
        const int32_t bytes = dw_flat_block_bytes(&g.z);
        int8_t *spare = g.plane + g.z.blocks * bytes;
        g.row_to = (int8_t *(*)[2])(void *)(g.plane + dw_flat_blocks_bytes(&g.z));
        k.cols = bytes;  /* in blocks: the lines step from one block to the next */
        for (c = 0; c < g.in_rows; ++c) {
            const int32_t r = c + g.pad_t, at = (r & 1) + 4 * g.pad_l;
            g.row_to[c][0] = (r >> 1) < g.z.blocks ? g.plane + (r >> 1) * bytes + at : spare;
            g.row_to[c][1] = (r >> 1) >= 1 && (r >> 1) - 1 < g.z.blocks ? g.plane + ((r >> 1) - 1) * bytes + 2 + at
                                                                        : spare;
        }
    }
    memset(g.plane, params->input_zero_point, (size_t)(g.in_blocks ? dw_flat_blocks_bytes(&g.z) : g.z.plane_bytes));
    for (b = 0; b < in_dims->n; ++b) {
        const int8_t *in_batch = input + b * in_dims->h * in_dims->w * n_ch;
        int8_t *out_batch = output + b * out_dims->h * out_dims->w * n_ch;
        const int32_t *ch = params->channels;
        const int8_t *w = bytes;
        for (c = 0; c < n4; c += 8, w += 8 * 9) {
            const int32_t block = n4 - c >= 8 ? 8 : 4;
            int32_t j;
            for (j = 0; j < block; ++j, ch += 4) {
                k.ch = ch;
                k.dst = out_batch + c + j;
                dw_flat_channel(&g, &k, w + j, taps[block == 4], in_batch + c + j);
            }
        }
    }
    return MCC_OK;
}
#endif

#if MCC_DW_TAPS_ON
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

/* The layer one output pixel (MVE: two) at a time through the input pixel of each tap. */
MCC_DW_NOINLINE static mcc_status dw_taps_layer(const mcc_dw_conv_fast_params *params, const mcc_dims *input_dims,
                                          const int8_t *input, const mcc_dims *output_dims, int8_t *output,
                                          void *scratch)
{
    const int32_t n_ch = params->channels_n; /* by 4: the last 1-3 are mcc_conv2d_channels_s8's */
    const int32_t n4 = n_ch & ~3;
    const int32_t taps = params->kernel.h * params->kernel.w;
    const int32_t slots = dw_slots(taps);
    const int32_t pixels = output_dims->h * output_dims->w;
    const int32_t lo = params->activation.min;
    const int32_t hi = params->activation.max;
    int8_t *zero_row = (int8_t *)scratch;
    const int8_t **tap_a = (const int8_t **)(void *)(zero_row + ((n_ch + 7) & ~7));
    const int8_t **tap_b = tap_a + slots;
    dw_window win;
    int32_t b, i;
#if MCC_DW_RELU_TAPS && !MCC_HAVE_MVE_ASM
    const int relu = dw_relu_layer(params);
#endif
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
            dw_blocks_mve(tap_a, two ? tap_b : tap_a, taps, n4 & ~7, params->weights,
                          params->channels, output, two ? output + n_ch : output, &lanes);
            if (n4 & 4) {
                dw_tail_mve(tap_a, taps, n4 - 4, params->weights, params->channels + 4 * (n4 - 4),
                            output, lo, hi);
                if (two) {
                    dw_tail_mve(tap_b, taps, n4 - 4, params->weights,
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
            dw_pixel(tap_a, taps, n4, params->weights, params->channels, output, lo, hi MCC_DW_RELU_PASS);
            output += n_ch;
        }
#endif
    }
    return MCC_OK;
}
#endif

mcc_status mcc_depthwise_conv2d_fast_s8(const mcc_dw_conv_fast_params *params,
                                        const mcc_dims *input_dims, const int8_t *input,
                                        const mcc_dims *output_dims, int8_t *output,
                                        void *scratch)
{
    const int32_t n_ch = params->channels_n;
    if (input_dims->c != n_ch || output_dims->c != n_ch || input_dims->n != output_dims->n) {
        return MCC_ERROR_ARGUMENT;
    }
#if MCC_DW_PAIRS_ON
    {
        int32_t pw, pairs;
        if (dw_pairs_bytes(params, input_dims, output_dims, &pw, &pairs) > 0) {
            return dw_pairs_layer(params, input_dims, input, output_dims, output, (uint32_t *)scratch);
        }
    }
#endif
#if MCC_HAVE_DSP && !MCC_HAVE_MVE_ASM
#if MCC_DW_RELU_TAPS
    if (!dw_relu_layer(params))  /* the strips double their weights: such a layer runs on tap pairs */
#endif
    {
    if (params->kernel.h == 3 && params->kernel.w == 3 && params->stride.h == 1 && params->stride.w == 1 &&
        params->dilation.h == 1 && params->dilation.w == 1 &&
        (output_dims->h > output_dims->w ? output_dims->h : output_dims->w) >= MCC_DW_STRIP_MIN_LEN) {
        return dw_strips(params, input_dims, input, output_dims, output, (int16_t *)scratch);
    }
#if MCC_DW_STRIDE2_STRIPS
    if (params->kernel.h == 3 && params->kernel.w == 3 && (uint32_t)(params->stride.h - 1) < 2u &&
        (uint32_t)(params->stride.w - 1) < 2u && params->dilation.h == 1 && params->dilation.w == 1 &&
        dw_strided_strips_fit(params, input_dims, output_dims)) {
        return dw_strips(params, input_dims, input, output_dims, output, (int16_t *)scratch);
    }
#endif
    }
#endif
#if MCC_DW_MVE_FLAT_ON
    if (dw_flat_fits(params, input_dims, output_dims)) {
        return dw_flat_layer_run(params, input_dims, input, output_dims, output, scratch);
    }
#endif
#if MCC_DW_MVE_LINES_ON
    if (dw_mve3_fits(params, input_dims, output_dims)) {
        return dw_mve3_layer_run(params, input_dims, input, output_dims, output, scratch);
    }
#endif
#if MCC_DW_TAPS_ON
    return dw_taps_layer(params, input_dims, input, output_dims, output, scratch);
#else
    (void)scratch;
    return MCC_ERROR_ARGUMENT;  /* the export found every layer in lines */
#endif
}

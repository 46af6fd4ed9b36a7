/* mcc_conv2d_fast_s8 - int8 convolution on weights specialised at export time
 * (mcucompress/codegen/specialize.py): the same results as mcc_conv2d_s8, bit for bit.
 *
 * Data laid out by the exporter:
 *   - K = kh * kw * c_in products per output, padded with zero weights to k_padded (multiple
 *     of 8). Inside every group of 4 products the order is k0, k2, k1, k3: what SXTB16 and
 *     SXTB16(ROR 8) make of 4 int8 activations, so activations are widened without reordering.
 *   - weights: int16 pairs packed in int32 words, doubled (2w); per group of 8 products an
 *     output channel pair is interleaved by halves: [ch 2p: 0-3][ch 2p+1: 0-3][ch 2p: 4-7]
 *     [ch 2p+1: 4-7] (products), so one LDM of 4 words brings both channels' next 4 weights;
 *     an odd last channel alone, its 8 products in order. Columns are laid out the same way
 *     for two output pixels.
 *   - channels: per output channel pair {bias, multiplier, round, shift} x {even, odd} (an odd
 *     last channel: {bias, multiplier, round, shift}), where bias = 2 * (b +
 *     input_offset * sum(w)) (the input offset folded away; padding reads the input zero point,
 *     which contributes nothing), round = 2^(shift-1) + (output_offset << shift), shift >= 1.
 * Requantization is then exactly TFLite's double rounding: SMMLAR(acc, multiplier, round) is
 * the rounding doubling high multiply plus round, adding the sign of acc and shifting right
 * finishes the rounding division (the exporter checks no intermediate can overflow).
 *
 * mcc_conv2d_fast_w8_s8 runs the same loops on int8 weights (dot_block_w8 and the int8 branch of
 * channels_of_pixels; layout in mcc.h) with 3 words a channel: {bias, multiplier, requant} x
 * {even, odd} per pair, requant = (output_offset << 8) | (-shift & 0xFF). VRSHL takes its signed
 * shift from an element's low byte, so the MVE path rounds, shifts and adds the output offset
 * from that one word (round(v / 2^shift) + output_offset is the widened kernel's
 * (v + round) >> shift); the scalar paths rebuild the round constant from it (w8_round).
 *
 * The scratch buffer (mcc_conv2d_fast_s8_get_buffer_size bytes, word aligned) holds the
 * widened columns of two output pixels, interleaved by half groups, and (when c_in is not a
 * multiple of 8) a staging row.
 */
#include <string.h>

#include "mcc.h"
#include "mcc_nn.h"

#if MCC_HAVE_DSP || MCC_HAVE_MVE
#include <arm_acle.h>
#endif
#if MCC_HAVE_MVE
#include <arm_mve.h>
#endif

/* The exporter defines MCC_CONV_1X1_C8=1 for models with a 1x1 conv on exactly 8 input channels
 * (widened weights, no padding, activation over all of int8): the one-pixel loop below is built
 * only for them, so it stays out of other models' flash. */
#ifndef MCC_CONV_1X1_C8
#define MCC_CONV_1X1_C8 0
#endif
/* The exporter defines MCC_CONV_ONE_PIXEL=1 for models with a widened conv layer of few output
 * pixels, an odd number of them (MobileNets' 3x3 maps): the lone last pixel then runs a loop of
 * its own instead of the two-pixel loop on that pixel twice. */
#ifndef MCC_CONV_ONE_PIXEL
#define MCC_CONV_ONE_PIXEL 0
#endif
/* The exporter defines MCC_CONV_DIRECT_ROWS=1 for models with a large 1x1 conv that reads its
 * input pixels as columns (widened weights, whole groups of 8 input channels, no padding, an even
 * channel count): the channel-pair loop then widens and runs every pair of pixels of such a
 * layer itself, with no return to C per pair (300-400 B of code, kept out of other models). */
#ifndef MCC_CONV_DIRECT_ROWS
#define MCC_CONV_DIRECT_ROWS 0
#endif
/* The exporter defines MCC_CONV_RELU_SHIFT=H (DSP cores) for models with a layer whose channels
 * all clamp at or above the output zero point (ReLU, ReLU6) and fit the two-instruction
 * requantization of codegen/relu_requant.py: its weights and bias are stored scaled by 2^j per
 * channel instead of doubled, its round word is SMMLA's addend, and
 *     out = SSAT(8, SMMLA(acc, multiplier, round) ASR #H)  (then the clamp)
 * equals TFLite's double rounding on every accumulator, with H the same for every such layer of
 * the model (an immediate of SSAT). Such a layer's shift words are 0, which no other layer's
 * are. Without the define that code is not built. */
#ifndef MCC_CONV_RELU_SHIFT
#define MCC_CONV_RELU_SHIFT 0
#endif
/* The relu argument of the 1x1 K = 8 loops, only in a build with MCC_CONV_RELU_SHIFT (their
 * object code in other builds stays what it was) */
#if MCC_CONV_RELU_SHIFT
#define MCC_RELU_PARAM , int relu
#define MCC_RELU_ARG(x) , (x)
#else
#define MCC_RELU_PARAM
#define MCC_RELU_ARG(x)
#endif
#define MCC_CONV_STR_(x) #x
#define MCC_CONV_STR(x) MCC_CONV_STR_(x)

int32_t mcc_conv2d_fast_s8_get_buffer_size(int32_t k_padded, int32_t in_c)
{
    /* two widened columns, then (c_in not a multiple of 8) the int8 staging row of one pixel */
    return 2 * k_padded * (int32_t)sizeof(int16_t) + ((in_c & 7) ? k_padded : 0);
}

/* Requantize a doubled accumulator with the channel's {bias, multiplier, round, shift}. */
MCC_INLINE int32_t fast_requantize(int32_t acc, int32_t multiplier, int32_t round, int32_t shift,
                                   int32_t lo, int32_t hi, int full_range)
{
    int32_t v = mcc_nn_smmlar(acc, multiplier, round);
    v = (v + (acc >> 31)) >> shift;
#if MCC_HAVE_DSP
    if (full_range) {
        return __ssat(v, 8); /* the clamp range is all of int8 */
    }
#else
    (void)full_range;
#endif
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

#if MCC_CONV_RELU_SHIFT
/* Whether a widened layer takes the two-instruction requantization: its first pair's shift word
 * is 0 (the exporter flags only layers of two channels or more). */
MCC_INLINE int conv_relu_layer(const mcc_conv_fast_params *p)
{
    return p->out_c >= 2 && p->channels[6] == 0;
}

/* SMMLA, then ASR #MCC_CONV_RELU_SHIFT (SSAT's own shift in the assembly tails), in C */
MCC_INLINE int32_t relu_value(int32_t acc, int32_t multiplier, int32_t round)
{
    return (int32_t)(round + (int32_t)(((int64_t)acc * multiplier) >> 32)) >> MCC_CONV_RELU_SHIFT;
}
#if MCC_HAVE_DSP_ASM && !MCC_HAVE_MVE
/* Either requantization of a widened layer's channel, one clamp after both (lo, hi within int8):
 * the two-instruction one where `relu`, else fast_requantize's. One expression per call site
 * keeps the C of a lone last channel (all that the DSP assembly leaves to C) about what it is in
 * a build without the define. MCC_REQUANTIZE's relu says that the layer may be flagged (its
 * widened layout) and its channels' shift words tell (0 only in a flagged layer), so the conv
 * keeps no flag across its pixels. */
MCC_INLINE int32_t relu_or_fast_requantize(int relu, int32_t acc, int32_t multiplier, int32_t round,
                                           int32_t shift, int32_t lo, int32_t hi, int full_range)
{
    int32_t v;
    if (relu) {
        v = relu_value(acc, multiplier, round);
    } else {
        v = (mcc_nn_smmlar(acc, multiplier, round) + (acc >> 31)) >> shift;
    }
    if (full_range) {
        return __ssat(v, 8);
    }
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}
#define MCC_REQUANTIZE(relu, acc, m, r, s, lo, hi, full) \
    relu_or_fast_requantize((relu) && (s) == 0, (acc), (m), (r), (s), (lo), (hi), (full))
#else
/* The two-instruction requantization and the clamp (lo, hi within int8: SSAT's range is theirs)
 * in C, for the C loops of builds without the DSP assembly; `relu`: the layer's flag. */
MCC_INLINE int32_t relu_requantize(int32_t acc, int32_t multiplier, int32_t round, int32_t lo, int32_t hi)
{
    const int32_t v = relu_value(acc, multiplier, round);
    return v < lo ? lo : v > hi ? hi : v;
}
#define MCC_REQUANTIZE(relu, acc, m, r, s, lo, hi, full) \
    ((relu) ? relu_requantize((acc), (m), (r), (lo), (hi)) : fast_requantize((acc), (m), (r), (s), (lo), (hi), (full)))
#endif
#else
#define MCC_REQUANTIZE(relu, acc, m, r, s, lo, hi, full) fast_requantize((acc), (m), (r), (s), (lo), (hi), (full))
#endif

/* The widened kernels' {round, shift} of one channel from its int8-layout requant word. */
MCC_INLINE int32_t w8_shift(int32_t requant)
{
    return -(int32_t)(int8_t)(requant & 0xFF);
}

/* 2^(shift-1) + (offset << shift) as (2 * offset + 1) << (shift - 1): two instructions fewer */
MCC_INLINE int32_t w8_round(int32_t requant)
{
    const int32_t shift_less_one = ~(int32_t)(int8_t)(requant & 0xFF);
    return (int32_t)((((uint32_t)(requant >> 8) << 1) | 1u) << shift_less_one);
}

/* Packs two int16 values into one word, the first in the low half. */
MCC_INLINE uint32_t pack16(int32_t low, int32_t high)
{
    return (uint32_t)(uint16_t)low | ((uint32_t)(uint16_t)high << 16);
}

/* Widens 4 int8 values (one word) into the two words k0 k2 | k1 k3 at dst. */
MCC_INLINE void widen4(uint32_t v, uint32_t *dst)
{
#if MCC_HAVE_DSP
    dst[0] = __sxtb16(v);
    dst[1] = mcc_nn_sxtb16_ror8(v);
#else
    dst[0] = pack16((int8_t)(v & 0xFF), (int8_t)((v >> 16) & 0xFF));
    dst[1] = pack16((int8_t)((v >> 8) & 0xFF), (int8_t)(v >> 24));
#endif
}

/* Four bytes as one word. ARMv6-M faults on unaligned loads, so there GCC makes a memcpy of
 * unknown alignment a library call; four byte loads are cheaper. */
MCC_INLINE uint32_t load_word(const int8_t *p)
{
#if MCC_HAVE_V6M
    const uint8_t *b = (const uint8_t *)p;
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
#else
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
#endif
}

/* Short copies and fills inline, a word at a time (no library call for a few bytes); byte by
 * byte on ARMv6-M, for the same reason as load_word. */
MCC_INLINE void copy_bytes(int8_t *dst, const int8_t *src, int32_t n)
{
#if MCC_HAVE_V6M
    for (; n > 0; --n) {
        *dst++ = *src++;
    }
#else
    for (; n >= 4; n -= 4) {
        uint32_t v;
        memcpy(&v, src, 4);
        memcpy(dst, &v, 4);
        src += 4;
        dst += 4;
    }
    if (n > 0) {
        dst[0] = src[0];
    }
    if (n > 1) {
        dst[1] = src[1];
    }
    if (n > 2) {
        dst[2] = src[2];
    }
#endif
}

MCC_INLINE void fill_bytes(int8_t *dst, int32_t value, int32_t n)
{
    const uint32_t v = (uint32_t)(uint8_t)value * 0x01010101u;
#if MCC_HAVE_V6M
    for (; n > 0; --n) {
        *dst++ = (int8_t)value;
    }
    (void)v;
#else
    for (; n >= 4; n -= 4) {
        memcpy(dst, &v, 4);
        dst += 4;
    }
    if (n > 0) {
        dst[0] = (int8_t)value;
    }
    if (n > 1) {
        dst[1] = (int8_t)value;
    }
    if (n > 2) {
        dst[2] = (int8_t)value;
    }
#endif
}

#if MCC_HAVE_MVE
/* v = the 4 words at the addresses in addr plus 32 bytes, which become the new addresses (VLDRW
 * gather with writeback; GCC 12 expands vldrwq_gather_base_wb_u32 into two loads); and the 4
 * words 8 bytes further on, without writeback. */
#define MCC_GATHER_NEXT_GROUP(v, addr) \
    __asm__ volatile("vldrw.u32 %q0, [%q1, #32]!" : "=&w"(v), "+w"(addr) : : "memory")
#define MCC_GATHER_NEXT_GROUP_PLUS8(v, addr) \
    __asm__ volatile("vldrw.u32 %q0, [%q1, #40]" : "=&w"(v) : "w"(addr) : "memory")
#endif

#if MCC_HAVE_MVE
/* MVE: 8 int8 values widened by one load, and scattered to their places in a column's group
 * (k0 k2 | k1 k3 in words 0-1, k4 k6 | k5 k7 in words 4-5). */
static const uint16_t widen8_offsets[8] = {0, 4, 2, 6, 16, 20, 18, 22};
/* The int8-weight kernel's columns (mcc_conv2d_fast_w8_s8 on MVE): k0 k1 k2 k3 | k4 k5 k6 k7 in
 * order, as its weights are stored, so one widening load of 8 weight bytes lines up with them. */
static const uint16_t widen8_in_order[8] = {0, 2, 4, 6, 16, 18, 20, 22};
#define MCC_WIDEN8(SRC, COL, OFFSETS) \
    vstrhq_scatter_offset_s16((int16_t *)(void *)(COL), (OFFSETS), vldrbq_s16(SRC))
#endif

/* Columns in order are an MVE matter (the int8-weight kernel's); elsewhere the widening
 * functions take no such argument, so the widened kernel's code stays as it was. */
#if MCC_HAVE_MVE
#define MCC_IN_ORDER_PARAM , int in_order
#define MCC_IN_ORDER_ARG(x) , (x)
#else
#define MCC_IN_ORDER_PARAM
#define MCC_IN_ORDER_ARG(x)
#endif

/* Widens n8 groups of 8 int8 values from src into a column's groups (8 words apart, so two
 * columns interleave) and returns the column's next group. in_order (MVE only): the groups'
 * values in order instead of SXTB16's k0 k2 | k1 k3. */
MCC_INLINE uint32_t *widen_run(const int8_t *src, int32_t n8, uint32_t *col MCC_IN_ORDER_PARAM)
{
#if MCC_HAVE_MVE
    const uint16x8_t offsets = vld1q_u16(in_order ? widen8_in_order : widen8_offsets);
    for (; n8 > 0; --n8) {
        MCC_WIDEN8(src, col, offsets);
        src += 8;
        col += 8;
    }
#else
    for (; n8 > 0; --n8) {
        uint32_t v0, v1;
#if MCC_HAVE_DSP
        MCC_NN_LDRD_POST(src, 8, v0, v1);
#else
        v0 = load_word(src);
        v1 = load_word(src + 4);
        src += 8;
#endif
        widen4(v0, col);
        widen4(v1, col + 4);
        col += 8;
    }
#endif
    return col;
}

#if MCC_HAVE_DSP_ASM && !MCC_HAVE_MVE
/* Widens n8 groups of 8 int8 values of two pixels into their interleaved columns (what two
 * widen_runs 2 words apart make): per group 2 LDRD, 8 SXTB16 and one STM. */
static void widen_pixels(const int8_t *in0, const int8_t *in1, int32_t n8, uint32_t *col)
{
    const uint32_t *end = col + 8 * n8;
    __asm__ volatile(
        "1:\n\t"
        "ldrd r4, r6, [%[a]], #8\n\t"
        "ldrd r8, r10, [%[b]], #8\n\t"
        "sxtb16 r5, r4, ror #8\n\t"
        "sxtb16 r4, r4\n\t"
        "sxtb16 r7, r6, ror #8\n\t"
        "sxtb16 r6, r6\n\t"
        "sxtb16 r9, r8, ror #8\n\t"
        "sxtb16 r8, r8\n\t"
        "sxtb16 r11, r10, ror #8\n\t"
        "sxtb16 r10, r10\n\t"
        "stm %[c]!, {r4, r5, r8, r9}\n\t"
        "stm %[c]!, {r6, r7, r10, r11}\n\t"
        "cmp %[c], %[e]\n\t"
        "bne 1b"
        : [a] "+r"(in0), [b] "+r"(in1), [c] "+r"(col)
        : [e] "r"(end)
        : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory");
}
#endif

/* Widens the K values of output pixel (oy, ox) into its column (groups of 8 values 8 words
 * apart, so two columns interleave); padded positions read the input zero point.
 * in_c % 8 == 0: every tap fills whole groups, straight from the input. Otherwise the pixel's
 * K values are first gathered as int8 in `stage` (k_padded bytes), then widened. */
static void im2col(const mcc_conv_fast_params *p, const mcc_dims *in_dims, const int8_t *input,
                   int32_t oy, int32_t ox, uint32_t *col, int8_t *stage MCC_IN_ORDER_PARAM)
{
    const int32_t in_c = in_dims->c;
    const int32_t in_w = in_dims->w;
    const int32_t y0 = oy * p->stride.h - p->padding.h;
    const int32_t x0 = ox * p->stride.w - p->padding.w;
    const int32_t zp = p->input_zero_point;
    int32_t ky, kx, c;
    if ((in_c & 7) == 0) {
        const uint32_t zp2 = pack16(zp, zp);
        const int row_run = p->dilation.w == 1 && x0 >= 0 && x0 + p->kernel.w <= in_w;
        for (ky = 0; ky < p->kernel.h; ++ky) {
            const int32_t y = y0 + ky * p->dilation.h;
            const int row_inside = y >= 0 && y < in_dims->h;
            if (row_inside && row_run) {
                /* the whole kernel row is one run of input bytes */
                col = widen_run(input + (y * in_w + x0) * in_c, (p->kernel.w * in_c) >> 3, col MCC_IN_ORDER_ARG(in_order));
                continue;
            }
            for (kx = 0; kx < p->kernel.w; ++kx) {
                const int32_t x = x0 + kx * p->dilation.w;
                if (row_inside && x >= 0 && x < in_w) {
                    col = widen_run(input + (y * in_w + x) * in_c, in_c >> 3, col MCC_IN_ORDER_ARG(in_order));
                } else {
                    for (c = in_c; c > 0; c -= 8) {
                        col[0] = zp2;
                        col[1] = zp2;
                        col[4] = zp2;
                        col[5] = zp2;
                        col += 8;
                    }
                }
            }
        }
        return;
    }
    {
        int8_t *s = stage;
        for (ky = 0; ky < p->kernel.h; ++ky) {
            const int32_t y = y0 + ky * p->dilation.h;
            const int row_inside = y >= 0 && y < in_dims->h;
            if (row_inside && p->dilation.w == 1 && x0 >= 0 && x0 + p->kernel.w <= in_w) {
                /* the whole kernel row is one run of input bytes */
                copy_bytes(s, input + (y * in_w + x0) * in_c, p->kernel.w * in_c);
                s += p->kernel.w * in_c;
                continue;
            }
            for (kx = 0; kx < p->kernel.w; ++kx) {
                const int32_t x = x0 + kx * p->dilation.w;
                if (row_inside && x >= 0 && x < in_w) {
                    copy_bytes(s, input + (y * in_w + x) * in_c, in_c);
                } else {
                    fill_bytes(s, zp, in_c);
                }
                s += in_c;
            }
        }
        fill_bytes(s, 0, (int32_t)(p->k_padded - (s - stage)));
        widen_run(stage, p->k_padded >> 3, col MCC_IN_ORDER_ARG(in_order));
    }
}

#if MCC_HAVE_V6M
/* acc + lo(x) * s_lo + hi(x) * s_hi for the int16 pair in x: SXTH, ASRS, two MULS. */
MCC_INLINE int32_t v6m_mac_pair(int32_t acc, uint32_t x, int32_t s_lo, int32_t s_hi)
{
    acc += (int16_t)(x & 0xFFFFu) * s_lo;
    return acc + ((int32_t)x >> 16) * s_hi;
}

#if MCC_HAVE_V6M_ASM
/* One shared word at byte offset S of s, split once, times a's word at byte offset A and b's
 * (8 bytes after a's): 17 instructions for 4 products. The sums live in high registers
 * (ADD without flags reaches them), which leaves the six low ones MULS needs to the data. */
#define MCC_V6M_SHARED_WORD(S, A)                                                                \
    "ldr %[x], [%[s], #" #S "]\n\t"                                                              \
    "sxth %[lo], %[x]\n\t"                                                                      \
    "asrs %[hi], %[x], #16\n\t"                                                                 \
    "ldr %[x], [%[a], #" #A "]\n\t"                                                              \
    "sxth %[t], %[x]\n\t"                                                                       \
    "muls %[t], %[lo]\n\t"                                                                      \
    "add %[ra], %[t]\n\t"                                                                      \
    "asrs %[x], %[x], #16\n\t"                                                                  \
    "muls %[x], %[hi]\n\t"                                                                      \
    "add %[ra], %[x]\n\t"                                                                      \
    "ldr %[x], [%[a], #8+" #A "]\n\t"                                                            \
    "sxth %[t], %[x]\n\t"                                                                       \
    "muls %[t], %[lo]\n\t"                                                                      \
    "add %[rb], %[t]\n\t"                                                                      \
    "asrs %[x], %[x], #16\n\t"                                                                  \
    "muls %[x], %[hi]\n\t"                                                                      \
    "add %[rb], %[x]\n\t"
/* One group (4 shared words at byte offsets 0, 4, G, G + 4; a's at 0, 4, 16, 20), then the
 * pointers advance and the loop closes. */
#define MCC_V6M_SHARED_LOOP(G, STEP)                                                             \
    ".syntax unified\n\t" /* GCC hands Thumb-1 inline assembly to the assembler as divided */ \
    "1:\n\t" MCC_V6M_SHARED_WORD(0, 0) MCC_V6M_SHARED_WORD(4, 4) MCC_V6M_SHARED_WORD(G, 16)      \
        MCC_V6M_SHARED_WORD(G+4, 20) "adds %[s], #" #STEP "\n\t"                                \
        "adds %[a], #32\n\t"                                                                    \
        "cmp %[s], %[end]\n\t"                                                                  \
        "bne 1b"
#endif

/* Two dot products sharing one operand, over `groups` groups of 4 words (8 int16 products):
 * *acc_a += s . a and *acc_b += s . b, where b = a + 2 words. The shared operand's words sit at
 * {0, 1, gap, gap + 1} (gap 2: consecutive, 4: interleaved with a second channel) and advance
 * by 2 * gap words a group; a's at {0, 1, 4, 5}, advancing by 8. Each shared word is split once
 * for both products. */
MCC_INLINE void v6m_dot_shared(const uint32_t *s, int32_t gap, const uint32_t *a, int32_t groups,
                               int32_t *acc_a, int32_t *acc_b)
{
    int32_t ra = *acc_a, rb = *acc_b;
    const uint32_t *end = s + 2 * gap * groups;
    const uint32_t *b = a + 2;
#if MCC_HAVE_V6M_ASM
    if (groups > 0) {
        /* Registers fixed by hand: GCC's Thumb-1 allocator cannot always find six free low
         * registers by itself (at -Os it gives up). r7 stays free for a frame pointer. */
        register int32_t r_a __asm__("r8") = ra;
        register int32_t r_b __asm__("r9") = rb;
        register const uint32_t *r_end __asm__("r10") = end;
        register const uint32_t *r_s __asm__("r0") = s;
        register const uint32_t *r_pa __asm__("r1") = a;
        register uint32_t x __asm__("r2");
        register uint32_t lo __asm__("r3");
        register uint32_t hi __asm__("r4");
        register uint32_t t __asm__("r5");
        (void)b;
        if (gap == 2) {
            __asm__ volatile(MCC_V6M_SHARED_LOOP(8, 16)
                             : [ra] "+r"(r_a), [rb] "+r"(r_b), [s] "+r"(r_s), [a] "+r"(r_pa), [x] "=&r"(x),
                               [lo] "=&r"(lo), [hi] "=&r"(hi), [t] "=&r"(t)
                             : [end] "r"(r_end)
                             : "cc", "memory");
        } else {
            __asm__ volatile(MCC_V6M_SHARED_LOOP(16, 32)
                             : [ra] "+r"(r_a), [rb] "+r"(r_b), [s] "+r"(r_s), [a] "+r"(r_pa), [x] "=&r"(x),
                               [lo] "=&r"(lo), [hi] "=&r"(hi), [t] "=&r"(t)
                             : [end] "r"(r_end)
                             : "cc", "memory");
        }
        ra = r_a;
        rb = r_b;
    }
#else
    while (s != end) {
        int32_t k;
        for (k = 0; k < 4; ++k) {
            const int32_t i = (k & 1) + (k >> 1) * gap; /* shared word */
            const int32_t j = (k & 1) + (k >> 1) * 4;   /* a's and b's word */
            const int32_t lo = (int16_t)(s[i] & 0xFFFFu);
            const int32_t hi = (int32_t)s[i] >> 16;
            ra = v6m_mac_pair(ra, a[j], lo, hi);
            rb = v6m_mac_pair(rb, b[j], lo, hi);
        }
        s += 2 * gap;
        a += 8;
        b += 8;
    }
#endif
    *acc_a = ra;
    *acc_b = rb;
}
#endif

#if MCC_HAVE_DSP_ASM
/* One group of 8 products for 2 pixels x 2 channels (80 bytes of code: 4 LDM.W and 16 SMLAD):
 * per half group one LDM brings both pixels' two words, one LDM both channels' two words. */
#define MCC_CONV_HALF_GROUP                        \
    "ldmia.w %[c]!, {r4, r5, r6, r7}\n\t"          \
    "ldmia.w %[w]!, {r8, r9, r10, r11}\n\t"        \
    "smlad %[a00], r4, r8, %[a00]\n\t"             \
    "smlad %[a00], r5, r9, %[a00]\n\t"             \
    "smlad %[a01], r6, r8, %[a01]\n\t"             \
    "smlad %[a01], r7, r9, %[a01]\n\t"             \
    "smlad %[a10], r4, r10, %[a10]\n\t"            \
    "smlad %[a10], r5, r11, %[a10]\n\t"            \
    "smlad %[a11], r6, r10, %[a11]\n\t"            \
    "smlad %[a11], r7, r11, %[a11]\n\t"
#define MCC_CONV_GROUP MCC_CONV_HALF_GROUP MCC_CONV_HALF_GROUP
#define MCC_CONV_GROUP_BYTES 80
#endif

/* Dot products of n_ch (1 or 2) output channels with n_px (1 or 2) columns over `groups` groups
 * of 8 products. Per group a column holds 4 words (two int16 each), pixel p's words 0-1 at word
 * 2p and 2-3 at 4 + 2p; a channel pair's weights likewise (channel c at 2c and 4 + 2c, 8 words
 * per group); a single channel's weights are 4 consecutive words. acc[ch][px] holds the biases
 * on entry. */
MCC_INLINE void dot_block(const uint32_t *w, const uint32_t *col, int32_t groups, int32_t n_ch,
                          int32_t n_px, int32_t acc[2][2])
{
    const int32_t w_stride = n_ch == 2 ? 8 : 4;
    const int32_t w_half = n_ch == 2 ? 4 : 2; /* words from a group's first to second half */
    int32_t g;
#if MCC_HAVE_MVE
    /* Byte offsets of the 4 words of pixel (channel) 0 inside a group (pixel 1's are 8 bytes
     * further), one group back: the gathers walk vectors of addresses that each load of pixel 0
     * moves on by a group (writeback), so a group costs its loads, its VMLADAVs and the loop
     * end. */
    static const uint32_t first[4] = {0, 4, 16, 20};
    const uint32x4_t first4 = vld1q_u32(first);
    uint32x4_t col_at = vaddq_n_u32(first4, (uint32_t)(uintptr_t)col - 32);
    uint32x4_t w_at = vaddq_n_u32(first4, (uint32_t)(uintptr_t)w - 32);
    for (g = 0; g < groups; ++g) {
        uint32x4_t x0, x1, w0, w1;
        if (n_px == 2) {
            MCC_GATHER_NEXT_GROUP_PLUS8(x1, col_at);
        }
        MCC_GATHER_NEXT_GROUP(x0, col_at);
        if (n_ch == 2) {
            MCC_GATHER_NEXT_GROUP_PLUS8(w1, w_at);
            MCC_GATHER_NEXT_GROUP(w0, w_at);
        } else {
            w0 = vld1q_u32(w);
        }
        acc[0][0] = vmladavaq_s16(acc[0][0], vreinterpretq_s16_u32(x0), vreinterpretq_s16_u32(w0));
        if (n_px == 2) {
            acc[0][1] = vmladavaq_s16(acc[0][1], vreinterpretq_s16_u32(x1), vreinterpretq_s16_u32(w0));
        }
        if (n_ch == 2) {
            acc[1][0] = vmladavaq_s16(acc[1][0], vreinterpretq_s16_u32(x0), vreinterpretq_s16_u32(w1));
            if (n_px == 2) {
                acc[1][1] = vmladavaq_s16(acc[1][1], vreinterpretq_s16_u32(x1), vreinterpretq_s16_u32(w1));
            }
        }
        if (n_ch == 1) {
            w += w_stride;
        }
    }
    (void)w_half;
#elif MCC_HAVE_DSP
    int32_t a00 = acc[0][0], a01 = acc[0][1], a10 = acc[1][0], a11 = acc[1][1];
    const uint32_t *end = col + 8 * groups;
    (void)g;
    (void)w_stride;
    {
        while (col != end) {
            int32_t h;
            for (h = 0; h < 8; h += 4) {
                uint32_t x0, x1, w0, w1;
                MCC_NN_LDRD(col, 0, x0, x1);
                MCC_NN_LDRD(w, 0, w0, w1);
                a00 = __smlad(x0, w0, a00);
                a00 = __smlad(x1, w1, a00);
                if (n_px == 2) {
                    uint32_t y0, y1;
                    MCC_NN_LDRD(col, 8, y0, y1);
                    a01 = __smlad(y0, w0, a01);
                    a01 = __smlad(y1, w1, a01);
                    if (n_ch == 2) {
                        MCC_NN_LDRD(w, 8, w0, w1);
                        a10 = __smlad(x0, w0, a10);
                        a10 = __smlad(x1, w1, a10);
                        a11 = __smlad(y0, w0, a11);
                        a11 = __smlad(y1, w1, a11);
                    }
                } else if (n_ch == 2) {
                    MCC_NN_LDRD(w, 8, w0, w1);
                    a10 = __smlad(x0, w0, a10);
                    a10 = __smlad(x1, w1, a10);
                }
                col += 4;
                w += w_half;
            }
        }
    }
    acc[0][0] = a00;
    acc[0][1] = a01;
    acc[1][0] = a10;
    acc[1][1] = a11;
#else
#if MCC_HAVE_V6M
    /* Two of the three operand streams share one: weights for two pixels, a pixel for two
     * channels. Only a lone channel of a lone pixel takes the plain loop below. */
    if (n_px == 2) {
        v6m_dot_shared(w, n_ch == 2 ? 4 : 2, col, groups, &acc[0][0], &acc[0][1]);
        if (n_ch == 2) {
            v6m_dot_shared(w + 2, 4, col, groups, &acc[1][0], &acc[1][1]);
        }
        return;
    }
    if (n_ch == 2) {
        v6m_dot_shared(col, 4, w, groups, &acc[0][0], &acc[1][0]);
        return;
    }
#endif
    for (g = 0; g < groups; ++g) {
        int32_t h, j, c, px;
        for (h = 0; h < 2; ++h) {
            for (c = 0; c < n_ch; ++c) {
                for (px = 0; px < n_px; ++px) {
                    for (j = 0; j < 2; ++j) {
                        const uint32_t x = col[4 * h + 2 * px + j];
                        const uint32_t wv = w[w_half * h + 2 * c + j];
                        acc[c][px] += (int16_t)(x & 0xFFFF) * (int16_t)(wv & 0xFFFF) +
                                      (int16_t)(x >> 16) * (int16_t)(wv >> 16);
                    }
                }
            }
        }
        col += 8;
        w += w_stride;
    }
#endif
}

#if MCC_HAVE_MVE
/* v = the next 8 int8 values at p widened to int16 lanes, p moved on past them. */
#define MCC_LOAD8_S16_NEXT(v, p) __asm__ volatile("vldrb.s16 %q0, [%1], #8" : "=&w"(v), "+r"(p) : : "memory")
#endif

/* dot_block for int8 weights (mcc_conv2d_fast_w8_s8): per group of 8 products a channel's 8
 * weight bytes in order, a channel pair's one after the other (16 bytes a group). Columns are
 * as for dot_block, except that on MVE their values are in order (widen8_in_order). The
 * products are summed undoubled and doubled once at the end (the exporter's overflow check is
 * on the doubled sum). */
MCC_INLINE void dot_block_w8(const int8_t *w, const uint32_t *col, int32_t groups, int32_t n_ch,
                             int32_t n_px, int32_t acc[2][2])
{
    int32_t s00 = 0, s01 = 0, s10 = 0, s11 = 0;
    int32_t g;
#if MCC_HAVE_MVE
    static const uint32_t first[4] = {0, 4, 16, 20};
    uint32x4_t col_at = vaddq_n_u32(vld1q_u32(first), (uint32_t)(uintptr_t)col - 32);
    for (g = 0; g < groups; ++g) {
        uint32x4_t x0, x1;
        int16x8_t w0, w1;
        if (n_px == 2) {
            MCC_GATHER_NEXT_GROUP_PLUS8(x1, col_at);
        }
        MCC_GATHER_NEXT_GROUP(x0, col_at);
        MCC_LOAD8_S16_NEXT(w0, w);
        s00 = vmladavaq_s16(s00, vreinterpretq_s16_u32(x0), w0);
        if (n_px == 2) {
            s01 = vmladavaq_s16(s01, vreinterpretq_s16_u32(x1), w0);
        }
        if (n_ch == 2) {
            MCC_LOAD8_S16_NEXT(w1, w);
            s10 = vmladavaq_s16(s10, vreinterpretq_s16_u32(x0), w1);
            if (n_px == 2) {
                s11 = vmladavaq_s16(s11, vreinterpretq_s16_u32(x1), w1);
            }
        }
    }
#elif MCC_HAVE_DSP
    /* per half group: the pixels' two column words against each channel's 4 weight bytes,
     * widened by widen4 into the column's k0 k2 | k1 k3 pairs */
    for (g = 0; g < groups; ++g) {
        int32_t h;
        for (h = 0; h < 2; ++h) {
            uint32_t x[2], y[2], wa[2], wb[2];
            MCC_NN_LDRD(col, 0, x[0], x[1]);
            widen4(load_word(w + 4 * h), wa);
            s00 = __smlad(x[1], wa[1], __smlad(x[0], wa[0], s00));
            if (n_ch == 2) {
                widen4(load_word(w + 8 + 4 * h), wb);
                s10 = __smlad(x[1], wb[1], __smlad(x[0], wb[0], s10));
            }
            if (n_px == 2) {
                MCC_NN_LDRD(col, 8, y[0], y[1]);
                s01 = __smlad(y[1], wa[1], __smlad(y[0], wa[0], s01));
                if (n_ch == 2) {
                    s11 = __smlad(y[1], wb[1], __smlad(y[0], wb[0], s11));
                }
            }
            col += 4;
        }
        w += 8 * n_ch;
    }
#else
    for (g = 0; g < groups; ++g) {
        int32_t h, j, px;
        for (h = 0; h < 2; ++h) {
            for (px = 0; px < n_px; ++px) {
                int32_t *s0 = px ? &s01 : &s00;
                int32_t *s1 = px ? &s11 : &s10;
                for (j = 0; j < 2; ++j) {
                    /* column word j of half h holds k = 4h + j and 4h + j + 2 */
                    const uint32_t x = col[4 * h + 2 * px + j];
                    const int32_t lo = (int16_t)(x & 0xFFFF), hi = (int16_t)(x >> 16);
                    const int8_t *wk = w + 4 * h + j;
                    *s0 += lo * wk[0] + hi * wk[2];
                    if (n_ch == 2) {
                        *s1 += lo * wk[8] + hi * wk[10];
                    }
                }
            }
        }
        col += 8;
        w += 8 * n_ch;
    }
#endif
    acc[0][0] += s00 + s00;
    acc[0][1] += s01 + s01;
    acc[1][0] += s10 + s10;
    acc[1][1] += s11 + s11;
}

#if MCC_HAVE_DSP_ASM && !MCC_HAVE_MVE
/* What the channel-pair loop below keeps in memory (every register is in use). */
typedef struct {
    const int32_t *ch;      /* the next channel pair's constants */
    const int32_t *ch_end;  /* the constants' end: past the last pair; right after ch (one LDRD) */
    int8_t *out0;           /* pixel 0's next output pair; pixel 1's is out_c bytes further */
    int32_t out_c;          /* right after out0: one LDRD loads both */
    const uint32_t *col;
    int32_t skip;           /* bytes of the 8-group pass skipped on entry, less 2; after col (one LDRD) */
    uintptr_t end;          /* col + 8 * groups, less 1 when the activation range is all of int8 */
    uint32_t lo4, hi4;      /* the clamp bounds, one per byte (one LDRD) */
#if MCC_CONV_DIRECT_ROWS
    /* A direct 1x1 layer (the input pixels are the columns, an even channel count, two pairs of
     * pixels or more): the loop widens its first pair of pixels and runs `more` pairs after it
     * itself (0 for any other layer: one pair of pixels, widened by the caller). */
    int32_t more;
    const int8_t *in;       /* the next pair's first input pixel */
    int32_t left;           /* right after in: pixels of in's row from in on */
    int32_t px_step;        /* bytes from an input pixel to the next of its row */
    int32_t wrap;           /* right after px_step: from a row's last input pixel to the next row's first */
    int32_t out_w;          /* output pixels a row */
    const int32_t *ch0;     /* the layer's constants; right after: its weights (one LDRD) */
    const uint32_t *w0;
#endif
#if MCC_CONV_RELU_SHIFT
    uintptr_t tail;         /* after the groups: the layer's requantization tail or pass test */
#endif
} pairs_state;

/* Every channel pair of two pixels in one loop of hand-chosen registers: two LDRD of the pair's
 * biases start the four accumulators, the 2x2 SMLAD loop runs eight groups a pass (163
 * instructions per 256 products with the loop test; a pass of groups % 8 is entered in its
 * middle by one ADD to the PC), the four sums are requantized (SMMLAR, sign, shift, SSAT), each
 * pixel's two outputs packed into one halfword (when the activation is narrower than int8 both
 * pixels' in one word, clamped by SSUB8/SEL) and stored: about 33 instructions per channel pair
 * besides the products. The passes run while the column pointer
 * is below `end`, which is the column's end for a clamped layer and one byte less for a full
 * range one: the last pass's compare leaves Z set only when the clamp is wanted (no instruction
 * up to the clamp's branch sets flags), so the choice costs no load.
 * A direct layer (more > 0) does not return to C per pair of pixels: the loop steps its input
 * pointer along the rows, widens the next two pixels into the columns (14 instructions a group)
 * and starts over, about 27 instructions a pair of pixels besides the widening where the C
 * loop around spent about 60. */
/* pairs_of_two_pixels' loop over the channel pairs (r4: the first pair's constants), its
 * requantization of the four sums in r0-r3 (r5, r6: the multipliers, r8, r9: the rounding, r10,
 * r11: the shifts) given: MCC_PAIRS_REQUANT, or MCC_PAIRS_REQUANT_RELU for a layer of
 * MCC_CONV_RELU_SHIFT (SMMLA, then SSAT's own shift: 8 instructions instead of 16) */
#define MCC_PAIRS_GROUPS \
        "2:\n\t"                                                                             \
        "ldrd r0, r2, [r4]\n\t" /* the pair's doubled biases, for both pixels */             \
        "ldrd r1, r3, [r4], #8\n\t"                                                          \
        "str r4, %[ch]\n\t"                                                                  \
        "ldrd ip, r4, %[col]\n\t" /* and skip */                                             \
        "add pc, r4\n\t" /* the PC reads as label 1 + 2: skip is 2 less (no NOP to pad) */   \
        "1:\n\t" MCC_CONV_GROUP MCC_CONV_GROUP MCC_CONV_GROUP MCC_CONV_GROUP MCC_CONV_GROUP  \
        MCC_CONV_GROUP MCC_CONV_GROUP MCC_CONV_GROUP
/* the next pass while the column pointer is below `end` */
#define MCC_PAIRS_PASS                                                                       \
        "ldr r4, %[end]\n\t"                                                                 \
        "cmp ip, r4\n\t"                                                                     \
        "blo 1b\n\t"
/* the pair's constants after its biases */
#define MCC_PAIRS_CONSTS                                                                     \
        "ldrd r4, r7, %[ch]\n\t" /* and ch_end */                                            \
        "ldm r4!, {r5, r6, r8, r9, r10, r11}\n\t" /* multipliers, rounding, shifts */
#define MCC_PAIRS_PRODUCTS MCC_PAIRS_GROUPS MCC_PAIRS_PASS MCC_PAIRS_CONSTS
/* both pixels' outputs in one word, clamped to [lo, hi], pixel 1's back in r1 */
#define MCC_PAIRS_CLAMP                                                                      \
        "pkhbt r0, r0, r1, lsl #16\n\t"                                                      \
        "ldrd r5, r6, %[lo4]\n\t" /* and hi4 */                                              \
        "ssub8 r8, r0, r5\n\t"                                                               \
        "sel r0, r0, r5\n\t"                                                                 \
        "ssub8 r8, r6, r0\n\t"                                                               \
        "sel r0, r0, r6\n\t"                                                                 \
        "lsrs r1, r0, #16\n\t"
/* each pixel's two outputs stored as a halfword, then the next channel pair */
#define MCC_PAIRS_STORE                                                                      \
        "ldrd r5, r6, %[out0]\n\t" /* and out_c */                                           \
        "strh r1, [r5, r6]\n\t"                                                              \
        "strh r0, [r5], #2\n\t"                                                              \
        "str r5, %[out0]\n\t"                                                                \
        "cmp r4, r7\n\t"                                                                     \
        "bne 2b\n\t"
#define MCC_PAIRS_LOOP_OF(REQUANT) \
        MCC_PAIRS_PRODUCTS                                                                   \
        REQUANT                                                                              \
        "bfi r0, r2, #8, #8\n\t" /* pixel 0: channels 0, 1 */                                \
        "bfi r1, r3, #8, #8\n\t" /* pixel 1 */                                               \
        "bne 3f\n\t" /* the pass's compare: not equal for a full range layer */              \
        MCC_PAIRS_CLAMP                                                                      \
        "3:\n\t"                                                                             \
        MCC_PAIRS_STORE
#define MCC_PAIRS_REQUANT                \
        "smmlar ip, r0, r5, r8\n\t"      \
        "add r0, ip, r0, asr #31\n\t"    \
        "asr r0, r0, r10\n\t"            \
        "smmlar ip, r1, r5, r8\n\t"      \
        "add r1, ip, r1, asr #31\n\t"    \
        "asr r1, r1, r10\n\t"            \
        "smmlar ip, r2, r6, r9\n\t"      \
        "add r2, ip, r2, asr #31\n\t"    \
        "asr r2, r2, r11\n\t"            \
        "smmlar ip, r3, r6, r9\n\t"      \
        "add r3, ip, r3, asr #31\n\t"    \
        "asr r3, r3, r11\n\t"            \
        "ssat r0, #8, r0\n\t"            \
        "ssat r1, #8, r1\n\t"            \
        "ssat r2, #8, r2\n\t"            \
        "ssat r3, #8, r3\n\t"
#define MCC_PAIRS_LOOP MCC_PAIRS_LOOP_OF(MCC_PAIRS_REQUANT)
#if MCC_CONV_RELU_SHIFT
/* SSAT's shift and saturation: the flags (the pass's compare) stay as they are */
#define MCC_RELU_SSAT(R) "ssat " R ", #8, " R ", asr #" MCC_CONV_STR(MCC_CONV_RELU_SHIFT) "\n\t"
#define MCC_PAIRS_REQUANT_RELU                                                             \
        "smmla r0, r0, r5, r8\n\t"                                                         \
        "smmla r1, r1, r5, r8\n\t"                                                         \
        "smmla r2, r2, r6, r9\n\t"                                                         \
        "smmla r3, r3, r6, r9\n\t"                                                         \
        MCC_RELU_SSAT("r0") MCC_RELU_SSAT("r1") MCC_RELU_SSAT("r2") MCC_RELU_SSAT("r3")
/* One requantization tail of the channel-pair loop: REQUANT, the outputs packed, CLAMP, stored,
 * the next pair; then, for every tail but the last, to the loop's end (8). NAME is a label of
 * the file that the conv reads the tail's address from (conv_fast). */
#define MCC_PAIRS_TAIL(NAME, REQUANT, CLAMP, EXIT)                                         \
        NAME ":\n\t" REQUANT                                                               \
        "bfi r0, r2, #8, #8\n\t"                                                           \
        "bfi r1, r3, #8, #8\n\t"                                                           \
        CLAMP MCC_PAIRS_STORE EXIT
/* The products shared by the four tails {four instructions, two} x {all of int8, clamped}: after
 * the groups the PC is loaded with the layer's tail, chosen once by the conv, or, for a layer of
 * more than one pass (over 64 products a channel and pixel), with the pass test just before it,
 * where the loop of one tail tests the pass's compare for the clamp: a channel pair costs what it
 * does with one tail, a single-pass layer's 3 instructions less (no pass test). The clamped
 * four-instruction tail (a layer under an activation that the two instructions do not fit, rare)
 * branches into the other clamped tail's packing: one instruction more a pair, 52 B less code. */
#define MCC_PAIRS_PASSES(NAME) NAME ":\n\t" MCC_PAIRS_PASS
#define MCC_PAIRS_LOOP_TAILS                                                               \
        MCC_PAIRS_GROUPS                                                                   \
        "ldr pc, %[tail]\n\t"                                                              \
        MCC_PAIRS_PASSES("mcc_conv2d_fast_s8_passes_full")                                 \
        MCC_PAIRS_TAIL("mcc_conv2d_fast_s8_tail_full", MCC_PAIRS_CONSTS MCC_PAIRS_REQUANT, "", "b 8f\n\t") \
        MCC_PAIRS_PASSES("mcc_conv2d_fast_s8_passes_clamped")                              \
        "mcc_conv2d_fast_s8_tail_clamped:\n\t" MCC_PAIRS_CONSTS MCC_PAIRS_REQUANT "b 6f\n\t" \
        MCC_PAIRS_PASSES("mcc_conv2d_fast_s8_passes_relu_full")                            \
        MCC_PAIRS_TAIL("mcc_conv2d_fast_s8_tail_relu_full", MCC_PAIRS_CONSTS MCC_PAIRS_REQUANT_RELU, "", \
                       "b 8f\n\t")                                                         \
        MCC_PAIRS_PASSES("mcc_conv2d_fast_s8_passes_relu_clamped")                         \
        MCC_PAIRS_TAIL("mcc_conv2d_fast_s8_tail_relu_clamped", MCC_PAIRS_CONSTS MCC_PAIRS_REQUANT_RELU "6:\n\t", \
                       MCC_PAIRS_CLAMP, "")                                                \
        "8:\n\t"
extern const char mcc_conv2d_fast_s8_tail_full[], mcc_conv2d_fast_s8_tail_clamped[];
extern const char mcc_conv2d_fast_s8_tail_relu_full[], mcc_conv2d_fast_s8_tail_relu_clamped[];
extern const char mcc_conv2d_fast_s8_passes_full[], mcc_conv2d_fast_s8_passes_clamped[];
extern const char mcc_conv2d_fast_s8_passes_relu_full[], mcc_conv2d_fast_s8_passes_relu_clamped[];
/* where the PC goes after the groups, with the Thumb bit (what LDR PC wants), in the conv's order
 * of choice: [more than one pass][two instructions][clamped] */
static const char *const pairs_tails[8] = {
    mcc_conv2d_fast_s8_tail_full + 1, mcc_conv2d_fast_s8_tail_clamped + 1,
    mcc_conv2d_fast_s8_tail_relu_full + 1, mcc_conv2d_fast_s8_tail_relu_clamped + 1,
    mcc_conv2d_fast_s8_passes_full + 1, mcc_conv2d_fast_s8_passes_clamped + 1,
    mcc_conv2d_fast_s8_passes_relu_full + 1, mcc_conv2d_fast_s8_passes_relu_clamped + 1};
#define MCC_TAIL_OPERAND , [tail] "m"(st->tail)
#else
#define MCC_TAIL_OPERAND
#endif
/* then, while `more` says so, a direct layer's next pair of pixels: the input pointer stepped along the rows, the two pixels widened into the columns, the channel pairs again */
#define MCC_PAIRS_DIRECT_ROWS \
        "ldr r0, %[more]\n\t"                                                           \
        "cbz r0, 9f\n\t"                                                                \
        "subs r0, r0, #1\n\t"                                                           \
        "str r0, %[more]\n\t"                                                           \
        "ldrd r5, r6, %[out0]\n\t" /* and out_c */                                      \
        "add r5, r5, r6\n\t" /* past pixel 1's outputs */                               \
        "str r5, %[out0]\n\t"                                                           \
        "5:\n\t"                                                                        \
        "ldrd r0, r1, %[in]\n\t" /* and left */                                         \
        "ldrd r2, r3, %[px_step]\n\t" /* and wrap */                                    \
        "ldr r6, %[out_w]\n\t"                                                          \
        "mov lr, r0\n\t" /* pixel 0 */                                                  \
        "subs r1, r1, #1\n\t" /* its row's last: the next row's first follows */        \
        "itet eq\n\t"                                                                   \
        "addeq r0, r0, r3\n\t" /* pixel 1 in the next row */                            \
        "addne r0, r0, r2\n\t"                                                          \
        "moveq r1, r6\n\t"                                                              \
        "mov r7, r0\n\t" /* pixel 1 */                                                  \
        "subs r1, r1, #1\n\t"                                                           \
        "itet eq\n\t"                                                                   \
        "addeq r0, r0, r3\n\t" /* the next pair in the next row */                      \
        "addne r0, r0, r2\n\t"                                                          \
        "moveq r1, r6\n\t"                                                              \
        "strd r0, r1, %[in]\n\t"                                                        \
        "ldr ip, %[col]\n\t"                                                            \
        "ldr r0, %[end]\n\t" /* the column's end, or one byte less */                   \
        "4:\n\t" /* per group 2 LDRD, 8 SXTB16 and 2 STM */                             \
        "ldrd r1, r5, [lr], #8\n\t"                                                     \
        "ldrd r8, r10, [r7], #8\n\t"                                                    \
        "sxtb16 r4, r1, ror #8\n\t"                                                     \
        "sxtb16 r1, r1\n\t"                                                             \
        "sxtb16 r6, r5, ror #8\n\t"                                                     \
        "sxtb16 r5, r5\n\t"                                                             \
        "sxtb16 r9, r8, ror #8\n\t"                                                     \
        "sxtb16 r8, r8\n\t"                                                             \
        "sxtb16 r11, r10, ror #8\n\t"                                                   \
        "sxtb16 r10, r10\n\t"                                                           \
        "stm ip!, {r1, r4, r8, r9}\n\t"                                                 \
        "stm ip!, {r5, r6, r10, r11}\n\t"                                               \
        "cmp ip, r0\n\t"                                                                \
        "blo 4b\n\t"                                                                    \
        "ldrd r4, lr, %[ch0]\n\t" /* and w0: the first pair's constants and weights */  \
        "b 2b\n\t"                                                                      \
        "9:"
#if MCC_CONV_DIRECT_ROWS
#define MCC_PAIRS_ASM(LOOP)                                                                                    \
    __asm__ volatile(                                                                                          \
        "ldr r0, %[more]\n\t"                                                                                  \
        "ldr r4, %[ch]\n\t"                                                                                    \
        "cbz r0, 2f\n\t"                                                                                       \
        "b 5f\n\t" /* a direct layer: its first pair of pixels is widened below too */                         \
        LOOP MCC_PAIRS_DIRECT_ROWS                                                                             \
        : [w] "+r"(rw), [a00] "=&r"(r0), [a01] "=&r"(r1), [a10] "=&r"(r2), [a11] "=&r"(r3), [c] "=&r"(rc),    \
          [ch] "+m"(st->ch), [out0] "+m"(st->out0), [more] "+m"(st->more), [in] "+m"(st->in),                 \
          [left] "+m"(st->left)                                                                               \
        : [ch_end] "m"(st->ch_end), [out_c] "m"(st->out_c), [col] "m"(st->col), [end] "m"(st->end),            \
          [skip] "m"(st->skip), [lo4] "m"(st->lo4), [hi4] "m"(st->hi4), [px_step] "m"(st->px_step),            \
          [wrap] "m"(st->wrap), [out_w] "m"(st->out_w), [ch0] "m"(st->ch0), [w0] "m"(st->w0) MCC_TAIL_OPERAND  \
        : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory")
#else
#define MCC_PAIRS_ASM(LOOP)                                                                                    \
    __asm__ volatile(                                                                                          \
        "ldr r4, %[ch]\n\t"                                                                                    \
        LOOP                                                                                                   \
        : [w] "+r"(rw), [a00] "=&r"(r0), [a01] "=&r"(r1), [a10] "=&r"(r2), [a11] "=&r"(r3), [c] "=&r"(rc),    \
          [ch] "+m"(st->ch), [out0] "+m"(st->out0)                                                            \
        : [ch_end] "m"(st->ch_end), [out_c] "m"(st->out_c), [col] "m"(st->col), [end] "m"(st->end),            \
          [skip] "m"(st->skip), [lo4] "m"(st->lo4), [hi4] "m"(st->hi4) MCC_TAIL_OPERAND                        \
        : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory")
#endif
static void pairs_of_two_pixels(const uint32_t *w, pairs_state *st)
{
    register const uint32_t *rw __asm__("lr") = w;
    register int32_t r0 __asm__("r0");
    register int32_t r1 __asm__("r1");
    register int32_t r2 __asm__("r2");
    register int32_t r3 __asm__("r3");
    register const uint32_t *rc __asm__("ip");
#if MCC_CONV_RELU_SHIFT
    MCC_PAIRS_ASM(MCC_PAIRS_LOOP_TAILS);
#else
    MCC_PAIRS_ASM(MCC_PAIRS_LOOP);
#endif
    (void)r0;
    (void)r1;
    (void)r2;
    (void)r3;
    (void)rc;
}
#endif

#if MCC_HAVE_DSP_ASM && !MCC_HAVE_MVE && MCC_CONV_ONE_PIXEL
/* Every channel pair of one pixel, whose column is pixel 0's words of the two-pixel layout: per
 * half group one LDRD of the column (moving on past pixel 1's words), one LDM of both channels'
 * weights and 4 SMLAD, so a group costs 14 instructions against the two-pixel loop's 20 for two
 * pixels; then the requantization of two outputs (clamped by SSUB8/SEL when the activation is
 * narrower than int8: the group loop's last compare tells, as in pairs_of_two_pixels) and one
 * halfword store: about 17 instructions per channel pair besides the groups. */
#define MCC_ONE_PIXEL_HALF_GROUP                        \
    "ldrd r2, r3, [ip], #16\n\t" /* past pixel 1's words */ \
    "ldm lr!, {r8, r9, r10, r11}\n\t"                       \
    "smlad r0, r2, r8, r0\n\t"                              \
    "smlad r0, r3, r9, r0\n\t"                              \
    "smlad r1, r2, r10, r1\n\t"                             \
    "smlad r1, r3, r11, r1\n\t"
/* The two sums r0, r1 requantized into r8, r9 (r2, r3: the multipliers, r8, r9: the rounding,
 * r10, r11: the shifts) */
#define MCC_ONE_PIXEL_REQUANT         \
        "smmlar r8, r0, r2, r8\n\t"   \
        "smmlar r9, r1, r3, r9\n\t"   \
        "add r8, r8, r0, asr #31\n\t" \
        "add r9, r9, r1, asr #31\n\t" \
        "asr r8, r8, r10\n\t"         \
        "asr r9, r9, r11\n\t"         \
        "ssat r8, #8, r8\n\t"         \
        "ssat r9, #8, r9\n\t"
#define MCC_ONE_PIXEL_REQUANT_RELU                                         \
        "smmla r8, r0, r2, r8\n\t"                                         \
        "smmla r9, r1, r3, r9\n\t"                                         \
        MCC_RELU_SSAT("r8") MCC_RELU_SSAT("r9")
#define MCC_ONE_PIXEL_ASM(REQUANT)                                                              \
    __asm__ volatile(                                                                           \
        "ldr r4, %[ch]\n\t"                                                                     \
        "ldr r5, %[out0]\n\t"                                                                   \
        "ldr r6, %[end]\n\t"                                                                    \
        "2:\n\t"                                                                                \
        "ldm r4!, {r0, r1}\n\t" /* the pair's doubled biases */                                 \
        "ldr ip, %[col]\n\t"                                                                    \
        "1:\n\t" MCC_ONE_PIXEL_HALF_GROUP MCC_ONE_PIXEL_HALF_GROUP                              \
        "cmp ip, r6\n\t"                                                                        \
        "blo 1b\n\t"                                                                            \
        "ldm r4!, {r2, r3, r8, r9, r10, r11}\n\t" /* multipliers, rounding, shifts */           \
        REQUANT                                                                                 \
        "bfi r8, r9, #8, #8\n\t"                                                                \
        "bne 3f\n\t" /* the last group's compare: not equal for a full range layer */           \
        "ldrd r2, r3, %[lo4]\n\t" /* and hi4 */                                                 \
        "ssub8 r7, r8, r2\n\t"                                                                  \
        "sel r8, r8, r2\n\t"                                                                    \
        "ssub8 r7, r3, r8\n\t"                                                                  \
        "sel r8, r8, r3\n\t"                                                                    \
        "3:\n\t"                                                                                \
        "strh r8, [r5], #2\n\t"                                                                 \
        "ldr r7, %[ch_end]\n\t"                                                                 \
        "cmp r4, r7\n\t"                                                                        \
        "bne 2b"                                                                                \
        : [w] "+r"(rw), [c] "=&r"(rc)                                                           \
        : [ch] "m"(st->ch), [ch_end] "m"(st->ch_end), [out0] "m"(st->out0), [col] "m"(st->col), \
          [end] "m"(st->end), [lo4] "m"(st->lo4), [hi4] "m"(st->hi4)                            \
        : "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory")
static void pairs_of_one_pixel(const uint32_t *w, pairs_state *st)
{
    register const uint32_t *rw __asm__("lr") = w;
    register const uint32_t *rc __asm__("ip");
#if MCC_CONV_RELU_SHIFT
    if (st->ch[6] == 0) { /* conv_relu_layer: st->ch is the layer's first pair, out_c >= 2 here */
        MCC_ONE_PIXEL_ASM(MCC_ONE_PIXEL_REQUANT_RELU);
    } else
#endif
    {
        MCC_ONE_PIXEL_ASM(MCC_ONE_PIXEL_REQUANT);
    }
    (void)rc;
}
#endif

#if MCC_HAVE_DSP_ASM && !MCC_HAVE_MVE && MCC_CONV_1X1_C8
/* One channel pair of a pixel whose 8 values, widened, are in r8-r11, the pair's doubled biases
 * in r2-r3: the pair's 8 weight words in two LDM, its multipliers and rounding in one, its shifts
 * in one with the next pair's biases (the exporter leaves two spare words after the last pair's
 * constants), fast_requantize's SMMLAR, sign, shift, SSAT, both outputs stored as one halfword:
 * 22 instructions per 16 products. */
#define MCC_C8_PAIR_OF(REQUANT)                                       \
    "ldm %[w]!, {r0, r1, r4, r5}\n\t"                                  \
    "smlad r2, r8, r0, r2\n\t"                                         \
    "smlad r2, r9, r1, r2\n\t"                                         \
    "smlad r3, r8, r4, r3\n\t"                                         \
    "smlad r3, r9, r5, r3\n\t"                                         \
    "ldm %[w]!, {r0, r1, r4, r5}\n\t"                                  \
    "smlad r2, r10, r0, r2\n\t"                                        \
    "smlad r2, r11, r1, r2\n\t"                                        \
    "smlad r3, r10, r4, r3\n\t"                                        \
    "smlad r3, r11, r5, r3\n\t"                                        \
    "ldm %[ch]!, {r0, r1, r4, r5}\n\t" /* multipliers, rounding */     \
    REQUANT                                                            \
    "bfi r4, r5, #8, #8\n\t"                                           \
    "strh r4, [%[out]], #2\n\t"
/* The pair's sums r2, r3 requantized into r4, r5 (r0, r1: the multipliers, r4, r5: the rounding),
 * the shifts loaded with the next pair's biases on the way; MCC_C8_REQUANT_RELU: a layer of
 * MCC_CONV_RELU_SHIFT, 18 instructions per 16 products instead of 22 */
#define MCC_C8_REQUANT                                                 \
    "smmlar r4, r2, r0, r4\n\t"                                        \
    "smmlar r5, r3, r1, r5\n\t"                                        \
    "add r4, r4, r2, asr #31\n\t"                                      \
    "add r5, r5, r3, asr #31\n\t"                                      \
    "ldm %[ch]!, {r0, r1, r2, r3}\n\t" /* shifts, the next biases */   \
    "asr r4, r4, r0\n\t"                                               \
    "asr r5, r5, r1\n\t"                                               \
    "ssat r4, #8, r4\n\t"                                              \
    "ssat r5, #8, r5\n\t"
#define MCC_C8_REQUANT_RELU                                            \
    "smmla r4, r2, r0, r4\n\t"                                         \
    "smmla r5, r3, r1, r5\n\t"                                         \
    "ldm %[ch]!, {r0, r1, r2, r3}\n\t" /* (shifts), the next biases */ \
    MCC_RELU_SSAT("r4") MCC_RELU_SSAT("r5")
#define MCC_C8_PAIR MCC_C8_PAIR_OF(MCC_C8_REQUANT)
#define MCC_C8_PAIR_RELU MCC_C8_PAIR_OF(MCC_C8_REQUANT_RELU)

/* Every channel pair of one pixel of a 1x1 conv on 8 input channels (one group of products):
 * the pixel's 8 values, widened once, stay in r8-r11, so a pair loads only its 8 weight words
 * and its 8 constants: 24 instructions per 16 products with the loop test, where the two-pixel
 * loop spends about 62 per 32 (its set-up and loop test are not amortized by one group). */
#define MCC_C8_ONE_PIXEL_ASM(PAIR)                                                      \
    __asm__ volatile(                                                                   \
        "ldrd r2, r3, [r0]\n\t"                                                         \
        "sxtb16 r8, r2\n\t"                                                             \
        "sxtb16 r9, r2, ror #8\n\t"                                                     \
        "sxtb16 r10, r3\n\t"                                                            \
        "sxtb16 r11, r3, ror #8\n\t"                                                    \
        "ldm %[ch]!, {r2, r3}\n\t" /* the first pair's biases */                        \
        "1:\n\t" PAIR                                                                   \
        "cmp %[out], %[end]\n\t"                                                        \
        "bne 1b"                                                                        \
        : [in] "+r"(r_in), [w] "+r"(r_w), [ch] "+r"(r_ch), [out] "+r"(r_out)            \
        : [end] "r"(r_end)                                                              \
        : "r1", "r2", "r3", "r4", "r5", "r8", "r9", "r10", "r11", "cc", "memory")
static void pairs_of_one_pixel_c8(const int8_t *in, const uint32_t *w, const int32_t *ch, int8_t *out,
                                  const int8_t *out_end MCC_RELU_PARAM)
{
    register const int8_t *r_in __asm__("r0") = in;
    register const uint32_t *r_w __asm__("r6") = w;
    register const int32_t *r_ch __asm__("r7") = ch;
    register int8_t *r_out __asm__("ip") = out;
    register const int8_t *r_end __asm__("lr") = out_end;
#if MCC_CONV_RELU_SHIFT
    if (relu) {
        MCC_C8_ONE_PIXEL_ASM(MCC_C8_PAIR_RELU);
    } else
#endif
    {
        MCC_C8_ONE_PIXEL_ASM(MCC_C8_PAIR);
    }
    (void)r_in;
}

/* What the row loop below keeps in memory. */
typedef struct {
    const int8_t *in;      /* the next pixel */
    int32_t step;          /* bytes from one input pixel to the next */
    const uint32_t *w;     /* the layer's weights; right after: its constants (one LDRD) */
    const int32_t *ch;
    int32_t out_c;         /* bytes of one output pixel */
    const int8_t *out_end; /* past the row's last output */
} c8_row_state;

/* A row of pixels of a 1x1 conv on 8 input channels with a multiple of 4 output channels: per
 * pixel its 8 values are widened into r8-r11 and the channel pairs run two by two (one loop
 * test per two pairs): 23 instructions per 16 products and about 16 per pixel, where a call of
 * pairs_of_one_pixel_c8 per pixel costs 24 and about 32. */
#define MCC_C8_ROW_ASM(PAIR)                                                                \
    __asm__ volatile(                                                                       \
        "ldr r0, %[in]\n\t"                                                                 \
        "0:\n\t"                                                                            \
        "ldrd r2, r3, [r0]\n\t"                                                             \
        "ldr r1, %[step]\n\t"                                                               \
        "add r0, r0, r1\n\t"                                                                \
        "str r0, %[in]\n\t"                                                                 \
        "sxtb16 r8, r2\n\t"                                                                 \
        "sxtb16 r9, r2, ror #8\n\t"                                                         \
        "sxtb16 r10, r3\n\t"                                                                \
        "sxtb16 r11, r3, ror #8\n\t"                                                        \
        "ldrd %[w], %[ch], %[w0]\n\t" /* and ch0 */                                         \
        "ldm %[ch]!, {r2, r3}\n\t" /* the first pair's biases */                            \
        "ldr lr, %[out_c]\n\t"                                                              \
        "add lr, lr, %[out]\n\t"                                                            \
        "1:\n\t" PAIR PAIR                                                                  \
        "cmp %[out], lr\n\t"                                                                \
        "bne 1b\n\t"                                                                        \
        "ldr r0, %[out_end]\n\t"                                                            \
        "cmp %[out], r0\n\t"                                                                \
        "ldr r0, %[in]\n\t"                                                                 \
        "bne 0b"                                                                            \
        : [out] "+r"(r_out), [w] "=&r"(r_w), [ch] "=&r"(r_ch), [in] "+m"(st->in)            \
        : [step] "m"(st->step), [w0] "m"(st->w), [ch0] "m"(st->ch), [out_c] "m"(st->out_c), \
          [out_end] "m"(st->out_end)                                                        \
        : "r0", "r1", "r2", "r3", "r4", "r5", "r8", "r9", "r10", "r11", "lr", "cc", "memory")
static void c8_row(c8_row_state *st, int8_t *out MCC_RELU_PARAM)
{
    register int8_t *r_out __asm__("ip") = out;
    register const uint32_t *r_w __asm__("r6");
    register const int32_t *r_ch __asm__("r7");
#if MCC_CONV_RELU_SHIFT
    if (relu) {
        MCC_C8_ROW_ASM(MCC_C8_PAIR_RELU);
    } else
#endif
    {
        MCC_C8_ROW_ASM(MCC_C8_PAIR);
    }
    (void)r_out;
    (void)r_w;
    (void)r_ch;
}

/* A 1x1 conv on 8 input channels, output over all of int8, pixel by pixel: with a multiple of 4
 * output channels a row at a time in c8_row; otherwise per pixel all channel pairs in
 * pairs_of_one_pixel_c8 and an odd last channel (4 weight words, {bias, multiplier, round,
 * shift}) after them. */
__attribute__((noinline)) static mcc_status conv_1x1_c8(const mcc_conv_fast_params *p, const mcc_dims *in_dims,
                                                        const int8_t *input, const mcc_dims *out_dims,
                                                        int8_t *output MCC_RELU_PARAM)
{
    const int32_t out_c = p->out_c, pairs = out_c >> 1;
    const uint32_t *w = (const uint32_t *)p->weights;
    const int32_t *ch = p->channels;
    const int32_t px_step = 8 * p->stride.w, row_step = 8 * p->stride.h * in_dims->w;
    const uint32_t *w_last = w + 8 * pairs;
    const int32_t *ch_last = ch + 8 * pairs;
    c8_row_state st;
    int32_t b, oy, ox;
    if (out_dims->c != out_c || in_dims->c != 8 || in_dims->n != out_dims->n) {
        return MCC_ERROR_ARGUMENT;
    }
    st.step = px_step;
    st.w = w;
    st.ch = ch;
    st.out_c = out_c;
    for (b = 0; b < in_dims->n; ++b) {
        const int8_t *row = input + b * in_dims->h * in_dims->w * 8;
        for (oy = 0; oy < out_dims->h; ++oy, row += row_step) {
            const int8_t *in = row;
            if ((out_c & 3) == 0) {
                st.in = row;
                st.out_end = output + out_dims->w * out_c;
                c8_row(&st, output MCC_RELU_ARG(relu));
                output += out_dims->w * out_c;
                continue;
            }
            for (ox = 0; ox < out_dims->w; ++ox, in += px_step) {
                if (pairs > 0) {
                    pairs_of_one_pixel_c8(in, w, ch, output, output + 2 * pairs MCC_RELU_ARG(relu));
                }
                if (out_c & 1) {
                    uint32_t x[4];
                    int32_t acc;
                    widen4(load_word(in), x);
                    widen4(load_word(in + 4), x + 2);
                    acc = __smlad(x[0], w_last[0], ch_last[0]);
                    acc = __smlad(x[1], w_last[1], acc);
                    acc = __smlad(x[2], w_last[2], acc);
                    acc = __smlad(x[3], w_last[3], acc);
                    output[out_c - 1] =
                        (int8_t)MCC_REQUANTIZE(relu, acc, ch_last[1], ch_last[2], ch_last[3], -128, 127, 1);
                }
                output += out_c;
            }
        }
    }
    return MCC_OK;
}
#endif

#if MCC_HAVE_MVE
/* The two low bytes of v at p (any alignment). */
MCC_INLINE void store_pair(int8_t *p, uint32_t v)
{
    const uint16_t h = (uint16_t)v;
    memcpy(p, &h, 2);
}
#endif

#if MCC_HAVE_MVE
/* Every channel pair of two pixels on int8 weights (MVE): per group two gathers of the columns,
 * two widening loads of the pair's 16 weight bytes, four VMLADAVs; the sums start from the
 * undoubled bias, so the four outputs [px0 ch0, px0 ch1, px1 ch0, px1 ch1] requantize as one
 * vector: VQRDMULH is SMMLAR's doubling high multiply on the undoubled sum, then the sign, the
 * rounding right shift (VRSHL by the requant word's low byte), the output offset (its upper
 * bits), the clamp, and one scatter store of the four bytes. */
MCC_INLINE void pairs_w8_mve(const int8_t *w, const uint32_t *col, int direct, const int8_t *in0,
                             const int8_t *in1, const int32_t *ch, int32_t pairs, int32_t groups, int8_t *out0,
                             int32_t px_step, int32_t lo, int32_t hi)
{
    static const uint32_t first[4] = {0, 4, 16, 20};
    static const uint32_t constants[4] = {8, 12, 8, 12}; /* a pair's even, odd multiplier */
    static const uint32_t requants[4] = {16, 20, 16, 20}; /* a pair's even, odd requant word */
    const uint32x4_t col_start = vaddq_n_u32(vld1q_u32(first), (uint32_t)(uintptr_t)col - 32);
    const uint32x4_t pick = vld1q_u32(constants);
    const uint32x4_t pick_requant = vld1q_u32(requants);
    const int32x4_t lo4 = vdupq_n_s32(lo), hi4 = vdupq_n_s32(hi);
    uint32x4_t out_at = vdupq_n_u32(0);
    int32_t i;
    out_at = vsetq_lane_u32(1, out_at, 1);
    out_at = vsetq_lane_u32((uint32_t)px_step, out_at, 2);
    out_at = vsetq_lane_u32((uint32_t)px_step + 1, out_at, 3);
    if (groups < 1) {
        __builtin_unreachable(); /* k_padded >= 8: no count check before each pair's loop */
    }
    for (i = 0; i < pairs; ++i) {
        uint32x4_t col_at = col_start;
        int32_t s00 = ch[0] >> 1, s10 = ch[1] >> 1; /* the biases are doubled (even) */
        int32_t s01 = s00, s11 = s10;
        int32_t g = groups;
        int32x4_t acc, v, requant;
        if (direct) { /* a 1x1 conv: the two input pixels in0, in1 are the columns, widened as read */
            const int8_t *p0 = in0, *p1 = in1;
            do {
                int16x8_t x0, x1, w0, w1;
                MCC_LOAD8_S16_NEXT(x0, p0);
                MCC_LOAD8_S16_NEXT(x1, p1);
                MCC_LOAD8_S16_NEXT(w0, w);
                MCC_LOAD8_S16_NEXT(w1, w);
                s00 = vmladavaq_s16(s00, x0, w0);
                s01 = vmladavaq_s16(s01, x1, w0);
                s10 = vmladavaq_s16(s10, x0, w1);
                s11 = vmladavaq_s16(s11, x1, w1);
            } while (--g > 0);
        } else {
            do {
                uint32x4_t x0, x1;
                int16x8_t w0, w1;
                MCC_GATHER_NEXT_GROUP_PLUS8(x1, col_at);
                MCC_GATHER_NEXT_GROUP(x0, col_at);
                MCC_LOAD8_S16_NEXT(w0, w);
                MCC_LOAD8_S16_NEXT(w1, w);
                s00 = vmladavaq_s16(s00, vreinterpretq_s16_u32(x0), w0);
                s01 = vmladavaq_s16(s01, vreinterpretq_s16_u32(x1), w0);
                s10 = vmladavaq_s16(s10, vreinterpretq_s16_u32(x0), w1);
                s11 = vmladavaq_s16(s11, vreinterpretq_s16_u32(x1), w1);
            } while (--g > 0);
        }
        /* VMOV Qd[2], Qd[0], Rt, Rt2 puts Rt in lane 0 and Rt2 in lane 2 */
        __asm__("vmov %q0[2], %q0[0], %1, %2\n\t"
                "vmov %q0[3], %q0[1], %3, %4"
                : "=&w"(acc)
                : "r"(s00), "r"(s01), "r"(s10), "r"(s11)); /* lanes: s00, s10, s01, s11 */
        v = vqrdmulhq_s32(acc, vldrwq_gather_offset_s32(ch, pick));
        v = vaddq_s32(v, vshrq_n_s32(acc, 31));
        requant = vldrwq_gather_offset_s32(ch, pick_requant);
        v = vrshlq_s32(v, requant);
        v = vaddq_s32(v, vshrq_n_s32(requant, 8));
        v = vminq_s32(vmaxq_s32(v, lo4), hi4);
        vstrbq_scatter_offset_s32(out0, out_at, v);
        out0 += 2;
        ch += 6;
    }
}
#endif

/* Set by the export when a layer can take few_k_channels_mve (a 1x1 conv on int8 weights with
 * 8 or 16 input channels, stride 1, no padding, channels in pairs): the code stays out of flash
 * otherwise. */
#ifndef MCC_CONV_MVE_FEW_K
#define MCC_CONV_MVE_FEW_K 0
#endif
#define MCC_CONV_MVE_FEW_K_ON (MCC_HAVE_MVE_ASM && MCC_CONV_MVE_FEW_K)

#if MCC_CONV_MVE_FEW_K_ON
/* One output channel of four pixels whose inputs are at x0..x3 (groups: 1 or 2 groups of 8
 * input channels, the channel's weights w0 and w1 widened): the four sums become the lanes of
 * one vector, requantized with the channel's constants as scalars (bias undoubled, multiplier,
 * requant word split into its signed shift and output offset) and scattered to the pixels'
 * outputs (out_at: 0, out_c, 2 out_c, 3 out_c) that `keep` selects: the last 1-3 pixels of a
 * channel in C, what the loops of few_k_channel do for whole quads. */
MCC_INLINE void few_k_quad(const int8_t *x0, const int8_t *x1, const int8_t *x2, const int8_t *x3,
                           int32_t groups, int16x8_t w0, int16x8_t w1, const int32_t k[4], int32x4_t lo4,
                           int32x4_t hi4, int8_t *out, uint32x4_t out_at, mve_pred16_t keep)
{
    int32_t s0 = vmladavq_s16(vldrbq_s16(x0), w0), s1 = vmladavq_s16(vldrbq_s16(x1), w0);
    int32_t s2 = vmladavq_s16(vldrbq_s16(x2), w0), s3 = vmladavq_s16(vldrbq_s16(x3), w0);
    int32x4_t acc, v;
    if (groups == 2) {
        s0 = vmladavaq_s16(s0, vldrbq_s16(x0 + 8), w1);
        s1 = vmladavaq_s16(s1, vldrbq_s16(x1 + 8), w1);
        s2 = vmladavaq_s16(s2, vldrbq_s16(x2 + 8), w1);
        s3 = vmladavaq_s16(s3, vldrbq_s16(x3 + 8), w1);
    }
    /* VMOV Qd[2], Qd[0], Rt, Rt2 puts Rt in lane 0 and Rt2 in lane 2 */
    __asm__("vmov %q0[2], %q0[0], %1, %2\n\t"
            "vmov %q0[3], %q0[1], %3, %4"
            : "=&w"(acc)
            : "r"(s0), "r"(s2), "r"(s1), "r"(s3));
    acc = vaddq_n_s32(acc, k[0]);
    v = vqrdmulhq_n_s32(acc, k[1]);
    v = vaddq_s32(v, vshrq_n_s32(acc, 31));
    v = vrshlq_n_s32(v, k[2]);
    v = vaddq_n_s32(v, k[3]);
    v = vminq_s32(vmaxq_s32(v, lo4), hi4);
    vstrbq_scatter_offset_p_s32(out, out_at, v, keep);
}

/* The 8 vector operations of few_k_quad from its four sums on: lanes, bias, requantization,
 * clamp and the scatter store; then the next quad's output. */
#define MCC_FEW_K_REQUANT                                                \
    "vmov %q[a][2], %q[a][0], %[s0], %[s2]\n\t"                          \
    "vmov %q[a][3], %q[a][1], %[s1], %[s3]\n\t"                          \
    "vadd.i32 %q[a], %q[a], %[bias]\n\t"                                 \
    "vqrdmulh.s32 %q[t], %q[a], %q[mult]\n\t"                             \
    "vshr.s32 %q[a], %q[a], #31\n\t"                                     \
    "vadd.i32 %q[t], %q[t], %q[a]\n\t"                                   \
    "vrshl.s32 %q[t], %[shift]\n\t"                                      \
    "vadd.i32 %q[t], %q[t], %[offset]\n\t"                               \
    "vmax.s32 %q[t], %q[t], %q[lo]\n\t"                                  \
    "vmin.s32 %q[t], %q[t], %q[hi]\n\t"                                  \
    "vstrb.32 %q[t], [%[out], %q[at]]\n\t"                               \
    "add %[out], %[out], %[out_step]\n\t"

/* few_k_channel's loops' operands (the sums even registers, as VMLADAV wants; s0 brings the
 * loop count in; w1 unused on 8 input channels). */
#define MCC_FEW_K_OPERANDS                                                                                      \
    : [x] "+r"(x), [out] "+r"(out), [s0] "+&Te"(s0), [s1] "=&Te"(s1), [s2] "=&Te"(s2), [s3] "=&Te"(s3),        \
      [a] "=&w"(a), [t] "=&w"(t)                                                                                \
    : [w0] "w"(w0), [w1] "w"(w1), [lo] "w"(lo4), [hi] "w"(hi4), [at] "w"(out_at), [bias] "r"(k[0]),           \
      [mult] "w"(vdupq_n_s32(k[1])), [shift] "r"(k[2]), [offset] "r"(k[3]), [out_step] "r"(4 * out_c)           \
    : "lr", "memory"

/* Channel c of every pixel (n of them, inputs 8 * groups bytes apart from x), its weights w0,
 * w1 and constants k loaded by the caller: whole quads in a low-overhead loop of one widening
 * load and one VMLADAV per 8 products (immediate offsets from one pointer, moved on by the
 * first load) and few_k_quad's requantization; then the last 1-3 pixels. */
MCC_INLINE void few_k_channel(const int8_t *x, int32_t n, int32_t groups, int16x8_t w0, int16x8_t w1,
                              const int32_t k[4], int32x4_t lo4, int32x4_t hi4, int8_t *out,
                              int32_t out_c, uint32x4_t out_at)
{
    const int32_t step = 8 * groups, rest = n & 3, quads = n >> 2;
    if (quads > 0) {
        int32_t s0 = quads, s1, s2, s3; /* the loop count in, then the first pixel's sum */
        int32x4_t a, t;
        if (groups == 1) {
            __asm__ volatile(
                "dls lr, %[s0]\n"
                "1:\n\t"
                "vldrb.s16 %q[t], [%[x]], #32\n\t"
                "vmladav.s16 %[s0], %q[t], %q[w0]\n\t"
                "vldrb.s16 %q[t], [%[x], #-24]\n\t"
                "vmladav.s16 %[s1], %q[t], %q[w0]\n\t"
                "vldrb.s16 %q[t], [%[x], #-16]\n\t"
                "vmladav.s16 %[s2], %q[t], %q[w0]\n\t"
                "vldrb.s16 %q[t], [%[x], #-8]\n\t"
                "vmladav.s16 %[s3], %q[t], %q[w0]\n\t"
                MCC_FEW_K_REQUANT
                "le lr, 1b"
                MCC_FEW_K_OPERANDS);
        } else {
            __asm__ volatile(
                "dls lr, %[s0]\n"
                "1:\n\t"
                "vldrb.s16 %q[t], [%[x]], #64\n\t"
                "vmladav.s16 %[s0], %q[t], %q[w0]\n\t"
                "vldrb.s16 %q[t], [%[x], #-56]\n\t"
                "vmladava.s16 %[s0], %q[t], %q[w1]\n\t"
                "vldrb.s16 %q[t], [%[x], #-48]\n\t"
                "vmladav.s16 %[s1], %q[t], %q[w0]\n\t"
                "vldrb.s16 %q[t], [%[x], #-40]\n\t"
                "vmladava.s16 %[s1], %q[t], %q[w1]\n\t"
                "vldrb.s16 %q[t], [%[x], #-32]\n\t"
                "vmladav.s16 %[s2], %q[t], %q[w0]\n\t"
                "vldrb.s16 %q[t], [%[x], #-24]\n\t"
                "vmladava.s16 %[s2], %q[t], %q[w1]\n\t"
                "vldrb.s16 %q[t], [%[x], #-16]\n\t"
                "vmladav.s16 %[s3], %q[t], %q[w0]\n\t"
                "vldrb.s16 %q[t], [%[x], #-8]\n\t"
                "vmladava.s16 %[s3], %q[t], %q[w1]\n\t"
                MCC_FEW_K_REQUANT
                "le lr, 1b"
                MCC_FEW_K_OPERANDS);
        }
    }
    if (rest) {
        const int8_t *last = x + (rest - 1) * step;
        few_k_quad(x, rest > 1 ? x + step : last, rest > 2 ? x + 2 * step : last, last, groups, w0, w1, k, lo4,
                   hi4, out, out_at, vctp32q((uint32_t)rest));
    }
}

/* A 1x1 conv with 8 or 16 input channels (k_padded == in_c, groups of them), stride 1, no
 * padding, int8 weights, an even out_c: channel by channel over the pixels four at a time, the
 * channel's weights held in registers and its constants as scalars. The two-pixel loops pay
 * their requantization (gathers of the pair's constants, moves) once per 8 or 16 products;
 * here a vector of four outputs takes 7 vector operations after its dot products. The last
 * 1-3 pixels repeat the last pixel in the spare lanes, whose stores are predicated off. */
static void few_k_channels_mve(const mcc_conv_fast_params *p, const int8_t *in, int32_t pixels, int8_t *output)
{
    const int32_t out_c = p->out_c, groups = p->k_padded >> 3;
    const int8_t *w = (const int8_t *)p->weights;
    const int32_t *ch = p->channels;
    const int32x4_t lo4 = vdupq_n_s32(p->activation.min), hi4 = vdupq_n_s32(p->activation.max);
    const uint32x4_t out_at = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)out_c);
    int32_t c;
    for (c = 0; c < out_c; ++c) {
        /* channel c of pair c / 2: its weights 8 bytes into the pair's 16 a group, its
         * constants one word into the pair's {bias, multiplier, requant} x {even, odd} */
        const int8_t *wc = w + 16 * groups * (c >> 1) + 8 * (c & 1);
        const int32_t *kc = ch + 6 * (c >> 1) + (c & 1);
        const int32_t k[4] = {kc[0] >> 1, kc[2], (int8_t)kc[4], kc[4] >> 8};
        const int16x8_t w0 = vldrbq_s16(wc);
        if (groups == 1) {
            few_k_channel(in, pixels, 1, w0, w0, k, lo4, hi4, output + c, out_c, out_at);
        } else {
            few_k_channel(in, pixels, 2, w0, vldrbq_s16(wc + 16), k, lo4, hi4, output + c, out_c, out_at);
        }
    }
}
#endif

/* The channel-pair loop's state is the DSP assembly's (pairs_state): the conv sets the fields
 * that hold for the whole layer once, channels_of_pixels the rest per pair of pixels. */
#if MCC_HAVE_DSP_ASM && !MCC_HAVE_MVE
#define MCC_PAIRS_PARAM , pairs_state *st
#define MCC_PAIRS_ARG(x) , (x)
#else
#define MCC_PAIRS_PARAM
#define MCC_PAIRS_ARG(x)
#endif

/* All output channels of n_px (1 or 2) pixels whose columns are in `col`. Channel pairs read
 * their constants as {bias, multiplier, round, shift} x {even, odd channel} once per block.
 * w8: the weights are int8 (mcc_conv2d_fast_w8_s8), else doubled int16 pairs (relu: scaled,
 * for the two-instruction requantization of MCC_CONV_RELU_SHIFT; 0 in a build without it). */
MCC_INLINE void channels_of_pixels(const mcc_conv_fast_params *p, const uint32_t *col,
                                   int32_t n_px, int8_t *out0, int8_t *out1, int full_range, int w8,
                                   int relu MCC_PAIRS_PARAM)
{
    const int32_t out_c = p->out_c;
    int32_t oc = 0;
    (void)relu; /* read only by the requantization of a build with MCC_CONV_RELU_SHIFT */
#if MCC_HAVE_DSP_ASM && !MCC_HAVE_MVE
    if ((n_px == 2 || MCC_CONV_ONE_PIXEL) && !w8) {
        const int32_t pairs = out_c >> 1;
        st->ch = p->channels;
        st->out0 = out0;
        st->out_c = n_px == 2 ? (int32_t)(out1 - out0) : 0;
        if (pairs > 0) {
#if MCC_CONV_ONE_PIXEL
            if (n_px == 1) { /* a lone last pixel */
                pairs_of_one_pixel((const uint32_t *)p->weights, st);
            } else
#endif
            {
                pairs_of_two_pixels((const uint32_t *)p->weights, st);
            }
        }
        if ((out_c & 1) == 0) {
            /* Nothing is left to do, and nothing of the layer was read for it before the loop
             * (which clobbers every register and memory: a value read before would be kept on
             * the stack across it, per pair of pixels); an odd last channel reads what it needs
             * below, after the loop. */
            return;
        }
        oc = 2 * pairs;
    }
#endif
    const int32_t groups = p->k_padded >> 3;
    const int32_t lo = p->activation.min;
    const int32_t hi = p->activation.max;
    /* past the oc / 2 channel pairs done above (widened: 8 words a group, 8 constants a pair) */
    const uint32_t *w = (const uint32_t *)p->weights + oc * 4 * groups;
    const int8_t *wb = (const int8_t *)p->weights;
    const int32_t *ch = p->channels + oc * 4;
#if MCC_HAVE_MVE
    if (n_px == 2) {
        /* Per channel pair: the 2x2 gathers of dot_block, the weights' addresses carried on
         * from pair to pair; the four outputs packed into one word, clamped together and stored
         * as two halfwords. */
        static const uint32_t first[4] = {0, 4, 16, 20};
        const uint32x4_t first4 = vld1q_u32(first);
        const uint32x4_t col_start = vaddq_n_u32(first4, (uint32_t)(uintptr_t)col - 32);
        uint32x4_t w_at = vaddq_n_u32(first4, (uint32_t)(uintptr_t)w - 32);
        const uint32_t lo4 = (uint32_t)(uint8_t)lo * 0x01010101u;
        const uint32_t hi4 = (uint32_t)(uint8_t)hi * 0x01010101u;
        const int32_t pairs = out_c >> 1;
        if (w8) {
            pairs_w8_mve(wb, col, 0, 0, 0, ch, pairs, groups, out0, (int32_t)(out1 - out0), lo, hi);
            oc = 2 * pairs;
            ch += pairs * 6;
        }
        for (; !w8 && oc < 2 * pairs; oc += 2) {
            uint32x4_t col_at = col_start;
            int32_t a00 = ch[0], a01 = ch[0], a10 = ch[1], a11 = ch[1];
            int32_t g = groups;
            uint32_t word;
            do {
                uint32x4_t x0, x1, w0, w1;
                MCC_GATHER_NEXT_GROUP_PLUS8(x1, col_at);
                MCC_GATHER_NEXT_GROUP(x0, col_at);
                MCC_GATHER_NEXT_GROUP_PLUS8(w1, w_at);
                MCC_GATHER_NEXT_GROUP(w0, w_at);
                a00 = vmladavaq_s16(a00, vreinterpretq_s16_u32(x0), vreinterpretq_s16_u32(w0));
                a01 = vmladavaq_s16(a01, vreinterpretq_s16_u32(x1), vreinterpretq_s16_u32(w0));
                a10 = vmladavaq_s16(a10, vreinterpretq_s16_u32(x0), vreinterpretq_s16_u32(w1));
                a11 = vmladavaq_s16(a11, vreinterpretq_s16_u32(x1), vreinterpretq_s16_u32(w1));
            } while (--g > 0);
            word = (uint32_t)MCC_REQUANTIZE(relu, a00, ch[2], ch[4], ch[6], lo, hi, 1);
            MCC_NN_BFI8(word, MCC_REQUANTIZE(relu, a10, ch[3], ch[5], ch[7], lo, hi, 1), 8);
            MCC_NN_BFI8(word, MCC_REQUANTIZE(relu, a01, ch[2], ch[4], ch[6], lo, hi, 1), 16);
            MCC_NN_BFI8(word, MCC_REQUANTIZE(relu, a11, ch[3], ch[5], ch[7], lo, hi, 1), 24);
            if (!full_range) {
                word = mcc_nn_clamp4_s8(word, lo4, hi4);
            }
            store_pair(out0 + oc, word);
            store_pair(out1 + oc, word >> 16);
            ch += 8;
        }
        w += pairs * 8 * groups;
    }
#endif
#if MCC_HAVE_DSP_ASM && !MCC_HAVE_MVE
    /* every pair done above, unless the weights are int8 or one pixel has no loop of its own */
    for (; (n_px == 1 || w8) && oc + 1 < out_c; oc += 2) {
#elif MCC_HAVE_MVE
    /* two pixels: every pair done above */
    for (; n_px == 1 && oc + 1 < out_c; oc += 2) {
#else
    for (; oc + 1 < out_c; oc += 2) {
#endif
        int32_t acc[2][2];
        int32_t m0, m1, r0, r1, s0, s1;
        acc[0][0] = acc[0][1] = ch[0];
        acc[1][0] = acc[1][1] = ch[1];
        if (w8) {
            dot_block_w8(wb + 16 * groups * (oc >> 1), col, groups, 2, n_px, acc);
        } else if (n_px == 2) {
            dot_block(w, col, groups, 2, 2, acc);
        } else {
            dot_block(w, col, groups, 2, 1, acc);
        }
        m0 = ch[2];
        m1 = ch[3];
        if (w8) {
            r0 = w8_round(ch[4]);
            r1 = w8_round(ch[5]);
            s0 = w8_shift(ch[4]);
            s1 = w8_shift(ch[5]);
        } else {
            r0 = ch[4];
            r1 = ch[5];
            s0 = ch[6];
            s1 = ch[7];
        }
        out0[oc] = (int8_t)MCC_REQUANTIZE(relu, acc[0][0], m0, r0, s0, lo, hi, full_range);
        out0[oc + 1] = (int8_t)MCC_REQUANTIZE(relu, acc[1][0], m1, r1, s1, lo, hi, full_range);
        if (n_px == 2) {
            out1[oc] = (int8_t)MCC_REQUANTIZE(relu, acc[0][1], m0, r0, s0, lo, hi, full_range);
            out1[oc + 1] = (int8_t)MCC_REQUANTIZE(relu, acc[1][1], m1, r1, s1, lo, hi, full_range);
        }
        w += 2 * 4 * groups;
        ch += w8 ? 6 : 8;
    }
    if (oc < out_c) {
        int32_t acc[2][2];
        acc[0][0] = acc[0][1] = ch[0];
        acc[1][0] = acc[1][1] = 0;
        if (w8) {
            /* the lone last channel after out_c / 2 pairs of 16 bytes a group: {bias, multiplier,
             * requant} */
            const int32_t r = w8_round(ch[2]), sh = w8_shift(ch[2]);
            dot_block_w8(wb + 16 * groups * (out_c >> 1), col, groups, 1, n_px, acc);
            if (n_px == 2) {
                out1[oc] = (int8_t)fast_requantize(acc[0][1], ch[1], r, sh, lo, hi, full_range);
            }
            out0[oc] = (int8_t)fast_requantize(acc[0][0], ch[1], r, sh, lo, hi, full_range);
            return; /* a tail shared with the widened layout costs the M4's widened kernel code */
        } else if (n_px == 2) {
            dot_block(w, col, groups, 1, 2, acc);
            out1[oc] = (int8_t)MCC_REQUANTIZE(relu, acc[0][1], ch[1], ch[2], ch[3], lo, hi, full_range);
        } else {
            dot_block(w, col, groups, 1, 1, acc);
        }
        out0[oc] = (int8_t)MCC_REQUANTIZE(relu, acc[0][0], ch[1], ch[2], ch[3], lo, hi, full_range);
    }
}

/* The convolution over all pixels, two at a time (w8: int8 weights, see channels_of_pixels). */
MCC_INLINE mcc_status conv_fast(const mcc_conv_fast_params *params, const mcc_dims *input_dims,
                                const int8_t *input, const mcc_dims *output_dims, int8_t *output,
                                void *scratch, int w8)
{
    const int32_t out_w = output_dims->w;
    const int32_t pixels = output_dims->h * out_w;
    const int32_t out_c = output_dims->c;
    uint32_t *col = (uint32_t *)scratch;
    int8_t *stage = (int8_t *)scratch + 4 * params->k_padded;
    int32_t b, px;
#if MCC_CONV_RELU_SHIFT
#if MCC_HAVE_DSP_ASM && !MCC_HAVE_MVE
    const int relu = !w8; /* may be flagged: MCC_REQUANTIZE reads the shift words */
#else
    const int relu = !w8 && conv_relu_layer(params);
#endif
#else
    const int relu = 0;
#endif
#if MCC_HAVE_DSP_ASM && !MCC_HAVE_MVE
    /* one test of two sums: 8 B less code than two comparisons here (the loop state below
     * costs them); the other builds keep theirs */
    const int full_range = ((params->activation.min + 128) | (params->activation.max - 127)) == 0;
    pairs_state st;
    st.col = col;
    st.end = (uintptr_t)(col + params->k_padded) - (uintptr_t)full_range; /* 8 words a group */
    /* groups % 8 entered after the others: (8 - groups % 8) % 8 groups skipped */
    st.skip = (-params->k_padded & 56) / 8 * MCC_CONV_GROUP_BYTES - 2;
    st.ch_end = params->channels + 8 * (out_c >> 1);
    st.lo4 = (uint32_t)(uint8_t)params->activation.min * 0x01010101u;
    st.hi4 = (uint32_t)(uint8_t)params->activation.max * 0x01010101u;
#if MCC_CONV_RELU_SHIFT
    st.tail = (uintptr_t)pairs_tails[4 * (params->k_padded > 64) + 2 * (relu && conv_relu_layer(params)) +
                                     !full_range];
#endif
#if MCC_CONV_DIRECT_ROWS
    st.more = 0;
    st.px_step = params->stride.w * params->in_c;
    st.wrap = params->stride.h * input_dims->w * params->in_c - (out_w - 1) * st.px_step;
    st.out_w = out_w;
    st.ch0 = params->channels;
    st.w0 = (const uint32_t *)params->weights;
#endif
#else
    const int full_range = params->activation.min == -128 && params->activation.max == 127;
#endif

    if (out_c != params->out_c || input_dims->c != params->in_c || input_dims->n != output_dims->n ||
        (params->k_padded & 7) != 0 || params->k_padded < params->kernel.h * params->kernel.w * params->in_c) {
        return MCC_ERROR_ARGUMENT;
    }
#if MCC_HAVE_MVE
    /* int8 weights of a 1x1 conv on whole groups of 8 input channels, no padding, channels in
     * pairs: each output pixel's column is its input pixel itself, read with widening loads (no
     * im2col); the weights' in-order layout lines up with the input's channel order. */
    const int direct = w8 && params->kernel.h == 1 && params->kernel.w == 1 && params->padding.h == 0 &&
                       params->padding.w == 0 && (params->in_c & 7) == 0 && (out_c & 1) == 0;
#elif MCC_HAVE_DSP_ASM
    /* Widened weights of a 1x1 conv on whole groups of 8 input channels, no padding: the two
     * columns are the two input pixels widened, no im2col. */
    const int direct = !w8 && params->kernel.h == 1 && params->kernel.w == 1 && params->padding.h == 0 &&
                       params->padding.w == 0 && (params->in_c & 7) == 0;
    /* The widened kernel runs a lone last pixel as a pair of that pixel with itself, both
     * outputs at the same place, unless it has the one-pixel loop. */
    const int pairs_only = !w8 && !MCC_CONV_ONE_PIXEL;
#endif
#if MCC_CONV_MVE_FEW_K_ON
    if (w8 && params->kernel.h == 1 && params->kernel.w == 1 && params->stride.h == 1 && params->stride.w == 1 &&
        params->padding.h == 0 && params->padding.w == 0 && (out_c & 1) == 0 &&
        (params->in_c == 8 || params->in_c == 16) && params->k_padded == params->in_c &&
        input_dims->h == output_dims->h && input_dims->w == output_dims->w) {
        for (b = 0; b < input_dims->n; ++b) {
            few_k_channels_mve(params, input + b * pixels * params->in_c, pixels, output + b * pixels * out_c);
        }
        return MCC_OK;
    }
#endif
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in_batch = input + b * input_dims->h * input_dims->w * input_dims->c;
        int32_t oy = 0, ox = 0; /* pixel px's position, stepped without a division */
#if MCC_HAVE_DSP_ASM && !MCC_HAVE_MVE
        for (px = 0; px + 1 < pixels || (pairs_only && px < pixels); px += 2) {
            const int lone = px + 1 == pixels; /* pixel px with itself, out1 = output */
            const int32_t oy1 = ox + 1 < out_w || lone ? oy : oy + 1;
            const int32_t ox1 = lone ? ox : ox + 1 < out_w ? ox + 1 : 0;
#if MCC_CONV_DIRECT_ROWS
            /* the channel-pair loop widens and runs every whole pair of pixels itself (two or
             * more: `more` counts those after the first); a lone last pixel is left, the
             * batch's last */
            const int rows = direct && !lone && pixels >= 4 && (out_c & 1) == 0;
            int8_t *const out0 = output;
            int8_t *out1 = lone ? output : output + out_c;
#else
            int8_t *const out0 = output;
            int8_t *out1 = lone ? output : output + out_c;
#endif
#else
        for (px = 0; px + 1 < pixels; px += 2) {
            const int32_t oy1 = ox + 1 < out_w ? oy : oy + 1;
            const int32_t ox1 = ox + 1 < out_w ? ox + 1 : 0;
#endif
#if MCC_HAVE_MVE
            if (direct) {
                const int32_t in_w = input_dims->w, in_c = params->in_c;
                const int8_t *in0 = in_batch + (oy * params->stride.h * in_w + ox * params->stride.w) * in_c;
                const int8_t *in1 = in_batch + (oy1 * params->stride.h * in_w + ox1 * params->stride.w) * in_c;
                pairs_w8_mve((const int8_t *)params->weights, 0, 1, in0, in1, params->channels, out_c >> 1,
                             params->k_padded >> 3, output, out_c, params->activation.min,
                             params->activation.max);
                oy = ox1 + 1 < out_w ? oy1 : oy1 + 1;
                ox = ox1 + 1 < out_w ? ox1 + 1 : 0;
                output += 2 * out_c;
                continue;
            }
#endif
            /* Two columns interleaved per group of 8: pixel px in words 0-3, px + 1 in 4-7. */
#if MCC_HAVE_DSP_ASM && !MCC_HAVE_MVE
#if MCC_CONV_DIRECT_ROWS
            if (rows) {
                st.more = (pixels >> 1) - 1;
                st.in = in_batch;
                st.left = out_w;
            } else
#endif
            if (direct) {
                const int32_t in_w = input_dims->w, in_c = params->in_c;
                widen_pixels(in_batch + (oy * params->stride.h * in_w + ox * params->stride.w) * in_c,
                             in_batch + (oy1 * params->stride.h * in_w + ox1 * params->stride.w) * in_c,
                             in_c >> 3, col);
            } else
#endif
            {
                im2col(params, input_dims, in_batch, oy, ox, col, stage MCC_IN_ORDER_ARG(w8));
                im2col(params, input_dims, in_batch, oy1, ox1, col + 2, stage MCC_IN_ORDER_ARG(w8));
            }
            oy = ox1 + 1 < out_w ? oy1 : oy1 + 1;
            ox = ox1 + 1 < out_w ? ox1 + 1 : 0;
#if MCC_HAVE_DSP_ASM && !MCC_HAVE_MVE
#if MCC_CONV_DIRECT_ROWS
            if (rows) {
                px = (pixels & ~1) - 2;
                oy = output_dims->h - 1;
                ox = out_w - 1;
            }
#endif
            if (w8 && full_range) {
                channels_of_pixels(params, col, 2, out0, out1, 1, w8, 0, &st);
            } else {
                channels_of_pixels(params, col, 2, out0, out1, full_range, w8, relu, &st);
            }
#if MCC_CONV_DIRECT_ROWS
            output = rows ? output + (pixels & ~1) * out_c : out1 + out_c;
#else
            output = out1 + out_c;
#endif
#else
            if (full_range) {
                channels_of_pixels(params, col, 2, output, output + out_c, 1, w8, relu);
            } else {
                channels_of_pixels(params, col, 2, output, output + out_c, 0, w8, relu);
            }
            output += 2 * out_c;
#endif
        }
        if (px < pixels) {
            im2col(params, input_dims, in_batch, oy, ox, col, stage MCC_IN_ORDER_ARG(w8));
            channels_of_pixels(params, col, 1, output, 0, full_range, w8, relu MCC_PAIRS_ARG(&st));
            output += out_c;
        }
    }
    return MCC_OK;
}

mcc_status mcc_conv2d_fast_s8(const mcc_conv_fast_params *params,
                              const mcc_dims *input_dims, const int8_t *input,
                              const mcc_dims *output_dims, int8_t *output, void *scratch)
{
#if MCC_HAVE_DSP_ASM && !MCC_HAVE_MVE && MCC_CONV_1X1_C8
    /* decided here, not in conv_fast, whose loops then compile as they do without this path */
    if (params->in_c == 8 && params->k_padded == 8 && params->kernel.h == 1 && params->kernel.w == 1 &&
        params->padding.h == 0 && params->padding.w == 0 && params->activation.min == -128 &&
        params->activation.max == 127) {
        return conv_1x1_c8(params, input_dims, input, output_dims, output MCC_RELU_ARG(conv_relu_layer(params)));
    }
#endif
    return conv_fast(params, input_dims, input, output_dims, output, scratch, 0);
}

/* mcc_conv2d_fast_w8_s8's body (runtime_c/conv/mcc_conv2d_fast_w8_s8.c): the same loops on int8
 * weights. With -ffunction-sections a firmware links only the variants its layers call. */
mcc_status mcc_nn_conv2d_fast_w8(const mcc_conv_fast_params *params, const mcc_dims *input_dims,
                                 const int8_t *input, const mcc_dims *output_dims, int8_t *output,
                                 void *scratch)
{
    return conv_fast(params, input_dims, input, output_dims, output, scratch, 1);
}

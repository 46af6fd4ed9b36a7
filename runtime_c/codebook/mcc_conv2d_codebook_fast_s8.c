/* mcc_conv2d_codebook_fast_s8 - int8 convolution on 2- or 4-bit codebook indices laid out at
 * export time (mcucompress/codegen/codebook_fast.py): the same results as mcc_conv2d_s8, bit for
 * bit (TFLM double rounding, channel constants as mcc_conv2d_fast_s8's, one per channel).
 *
 * Each index field names a pair of weights; a table of the doubled pairs (one SMLAD operand per
 * field, 1 KB for 4-bit indices) is built in scratch on each call, so a pair of products costs
 * one field extraction and one table load, shared by CB_PIXELS output pixels: the kernel widens
 * the columns of CB_PIXELS pixels at once, pair by pair interleaved (pair j of pixel p at word
 * j * CB_PIXELS + p), and one load brings pair j of every pixel for the pair's multiply-adds.
 * Padded positions read the input zero point (the input offset is folded into the bias), the
 * products past K read 0. With input channels a multiple of 4 (at least 8 on DSP cores, 32 on
 * others) columns are widened straight from the input, a block's pixels in one call; otherwise a
 * pixel's values are first gathered in a staging row. A last block of fewer pixels computes on
 * zero columns and stores only its own outputs.
 *
 * With MVE (Cortex-M55) columns stay int8 and tables of int8 weights per index byte feed byte
 * gathers and VMLADAVA.S8, 4 pixels a pass (conv_mve below); the same layout, the same bytes. */
#include <string.h>

#include "mcc.h"
#include "mcc_nn.h"

#if MCC_HAVE_MVE_ASM
#include <arm_mve.h>
#endif

#define CB_PIXELS 6 /* output pixels per pass: 6 sums, 3 column words at a time, stay in registers */
#define CB_CHANNELS 8 /* output channels a call of the channel loop (the assembly's byte offsets) */
#define CB_MVE_PIXELS 4 /* output pixels per pass of the MVE path: 4 sums in even registers */
/* Columns are widened straight from the input when in_c is a multiple of 4 and at least this:
 * on DSP cores (16 values an LDM) from 8 channels on; the portable widening pays only from 32
 * (below it staging copies whole kernel rows, cheaper than a loop per tap while taps are short). */
#if MCC_HAVE_DSP_ASM
#define CB_DIRECT_MIN 8
#else
#define CB_DIRECT_MIN 32
#endif
#define CB_QUAD_WORDS (2 * 256) /* 2-bit indices: the table of pair pairs (mcc_nn_codebook_quad_table) */

/* Scratch of the MVE path: the byte tables, the interleaved columns, one staged pixel. */
MCC_INLINE int32_t mve_buffer_size(int32_t k_padded, int32_t index_bits)
{
    const int32_t chunk = index_bits == 4 ? 32 : 64;
    const int32_t columns = (k_padded + chunk - 1) / chunk * chunk * CB_MVE_PIXELS;
    return 256 * (index_bits == 4 ? 2 : 4) + columns + k_padded;
}

/* The larger of the DSP path's (for 2-bit indices the table of pair pairs, the pair table, 6
 * widened columns, a staging row) and the MVE path's needs: every core's build of a tree uses
 * the same arena. */
int32_t mcc_conv2d_codebook_fast_s8_get_buffer_size(int32_t k_padded, int32_t index_bits)
{
    const int32_t quad = index_bits == 2 ? 4 * CB_QUAD_WORDS : 0;
    const int32_t dsp = quad + 4 * (1 << (2 * index_bits)) + CB_PIXELS * 2 * k_padded + k_padded;
    const int32_t mve = mve_buffer_size(k_padded, index_bits);
    return dsp > mve ? dsp : mve;
}

/* Short copies and fills inline, a word at a time while 4 bytes are left (no library call for a
 * few bytes). */
MCC_INLINE int8_t *copy_run(int8_t *dst, const int8_t *src, int32_t n)
{
    for (; n >= 4; n -= 4) {
        uint32_t v;
        memcpy(&v, src, 4);
        memcpy(dst, &v, 4);
        src += 4;
        dst += 4;
    }
    for (; n > 0; --n) {
        *dst++ = *src++;
    }
    return dst;
}

MCC_INLINE int8_t *fill_run(int8_t *dst, int32_t value, int32_t n)
{
    const uint32_t v = (uint32_t)(uint8_t)value * 0x01010101u;
    for (; n >= 4; n -= 4) {
        memcpy(dst, &v, 4);
        dst += 4;
    }
    for (; n > 0; --n) {
        *dst++ = (int8_t)value;
    }
    return dst;
}

/* The K int8 values of output pixel (oy, ox) into stage, zero point where the window leaves the
 * input, zeros past K up to k_padded. */
static void stage_pixel(const mcc_conv_fast_params *p, const mcc_dims *in_dims, const int8_t *input,
                        int32_t oy, int32_t ox, int8_t *stage)
{
    const int32_t in_c = in_dims->c;
    const int32_t y0 = oy * p->stride.h - p->padding.h;
    const int32_t x0 = ox * p->stride.w - p->padding.w;
    int8_t *s = stage;
    int32_t ky, kx;
    for (ky = 0; ky < p->kernel.h; ++ky) {
        const int32_t y = y0 + ky * p->dilation.h;
        const int row_inside = y >= 0 && y < in_dims->h;
        if (row_inside && p->dilation.w == 1 && x0 >= 0 && x0 + p->kernel.w <= in_dims->w) {
            /* the whole kernel row is one run of bytes */
            s = copy_run(s, input + (y * in_dims->w + x0) * in_c, p->kernel.w * in_c);
            continue;
        }
        for (kx = 0; kx < p->kernel.w; ++kx) {
            const int32_t x = x0 + kx * p->dilation.w;
            if (row_inside && x >= 0 && x < in_dims->w) {
                s = copy_run(s, input + (y * in_dims->w + x) * in_c, in_c);
            } else {
                s = fill_run(s, p->input_zero_point, in_c);
            }
        }
    }
    fill_run(s, 0, (int32_t)(p->k_padded - (s - stage)));
}

/* n values (a multiple of 4) widened into a pixel's interleaved column from col on (pair words
 * CB_PIXELS apart); returns the column's next group. */
MCC_INLINE uint32_t *widen_values(const int8_t *src, int32_t n, uint32_t *col)
{
    int32_t c = 0;
#if MCC_HAVE_DSP_ASM
    if (n >= 16 && ((uintptr_t)src & 3) == 0) { /* 16 values a pass: LDM, 8 SXTB16, 8 STR */
        const int8_t *end = src + (n & ~15);
        __asm__ volatile("1:\n\t"
                         "ldm %[s]!, {r4, r5, r6, r7}\n\t"
                         "sxtb16 r8, r4\n\t"
                         "sxtb16 r4, r4, ror #8\n\t"
                         "str r8, [%[c]]\n\t"
                         "str r4, [%[c], #24]\n\t"
                         "sxtb16 r8, r5\n\t"
                         "sxtb16 r5, r5, ror #8\n\t"
                         "str r8, [%[c], #48]\n\t"
                         "str r5, [%[c], #72]\n\t"
                         "sxtb16 r8, r6\n\t"
                         "sxtb16 r6, r6, ror #8\n\t"
                         "str r8, [%[c], #96]\n\t"
                         "str r6, [%[c], #120]\n\t"
                         "sxtb16 r8, r7\n\t"
                         "sxtb16 r7, r7, ror #8\n\t"
                         "str r8, [%[c], #144]\n\t"
                         "str r7, [%[c], #168]\n\t"
                         "add %[c], %[c], #192\n\t"
                         "cmp %[s], %[e]\n\t"
                         "bne 1b"
                         : [s] "+r"(src), [c] "+r"(col)
                         : [e] "r"(end)
                         : "r4", "r5", "r6", "r7", "r8", "cc", "memory");
        c = n & ~15;
    }
#endif
    for (; c < n; c += 4) {
        uint32_t v;
        memcpy(&v, src, 4);
        mcc_nn_widen4(v, col, col + CB_PIXELS);
        src += 4;
        col += 2 * CB_PIXELS;
    }
    return col;
}

/* `groups` groups of 4 values of a pixel's column, each the words even and odd (a padding tap's
 * zero point, or the zeros past K), 4 groups a turn. */
MCC_INLINE uint32_t *fill_groups(uint32_t *col, uint32_t even, uint32_t odd, int32_t groups)
{
    for (; groups >= 4; groups -= 4) {
        col[0] = even;
        col[CB_PIXELS] = odd;
        col[2 * CB_PIXELS] = even;
        col[3 * CB_PIXELS] = odd;
        col[4 * CB_PIXELS] = even;
        col[5 * CB_PIXELS] = odd;
        col[6 * CB_PIXELS] = even;
        col[7 * CB_PIXELS] = odd;
        col += 8 * CB_PIXELS;
    }
    for (; groups > 0; --groups) {
        col[0] = even;
        col[CB_PIXELS] = odd;
        col += 2 * CB_PIXELS;
    }
    return col;
}

/* in_c a multiple of 4: every tap is whole groups of 4, widened straight from the input into
 * the interleaved columns of the n output pixels from pixel `first` on (col points at the first
 * one's first word); padding taps take the zero point, the products past K zeros. One call a
 * block: the per-layer values are read once for its pixels. */
#if defined(__GNUC__)
__attribute__((noinline)) /* out of line: the pixel loop of the staging path keeps its registers */
#endif
static void widen_pixels(const mcc_conv_fast_params *p, const mcc_dims *in_dims, const int8_t *input,
                         int32_t first, int32_t n, int32_t out_w, uint32_t *col)
{
    const int32_t in_c = in_dims->c;
    const int32_t in_h = in_dims->h, in_w = in_dims->w;
    const int32_t kernel_h = p->kernel.h, kernel_w = p->kernel.w;
    const int32_t groups = in_c / 4;
    const int32_t tail = (p->k_padded - kernel_h * kernel_w * in_c) / 4; /* groups past K */
    int32_t oy = first / out_w, ox = first % out_w;
    uint32_t zp_even, zp_odd;
    int32_t q, ky, kx;
    mcc_nn_widen4((uint32_t)(uint8_t)p->input_zero_point * 0x01010101u, &zp_even, &zp_odd);
    for (q = 0; q < n; ++q) {
        const int32_t y0 = oy * p->stride.h - p->padding.h;
        const int32_t x0 = ox * p->stride.w - p->padding.w;
        /* every kernel row inside the input is one run of bytes */
        const int whole_rows = p->dilation.w == 1 && x0 >= 0 && x0 + kernel_w <= in_w;
        uint32_t *c = col + q;
        for (ky = 0; ky < kernel_h; ++ky) {
            const int32_t y = y0 + ky * p->dilation.h;
            if (y < 0 || y >= in_h) {
                c = fill_groups(c, zp_even, zp_odd, kernel_w * groups);
            } else if (whole_rows) {
                c = widen_values(input + (y * in_w + x0) * in_c, kernel_w * in_c, c);
            } else {
                for (kx = 0; kx < kernel_w; ++kx) {
                    const int32_t x = x0 + kx * p->dilation.w;
                    if (x >= 0 && x < in_w) {
                        c = widen_values(input + (y * in_w + x) * in_c, in_c, c);
                    } else {
                        c = fill_groups(c, zp_even, zp_odd, groups);
                    }
                }
            }
        }
        fill_groups(c, 0, 0, tail);
        if (++ox == out_w) {
            ox = 0;
            ++oy;
        }
    }
}

/* Widens a staged pixel into its interleaved column (col points at its first word). */
MCC_INLINE void widen_column(const int8_t *stage, int32_t k_padded, uint32_t *col)
{
    int32_t k;
    for (k = 0; k < k_padded; k += 4) {
        uint32_t v;
        memcpy(&v, stage + k, 4);
        mcc_nn_widen4(v, col, col + CB_PIXELS);
        col += 2 * CB_PIXELS;
    }
}

#if MCC_HAVE_DSP_ASM
/* What the channel loop reads from memory: every register is in use inside it. */
typedef struct {
    const int32_t *ch;       /* the next channel's row */
    const uint32_t *col;     /* the widened columns, the same for every channel */
    const int32_t *ch_end;   /* the row after the last channel's */
    uint32_t out_base;       /* out - (the first row's end >> 4): a channel's output from its row's end */
    int32_t stride;          /* bytes from one pixel's outputs to the next's */
} channel_loop;

/* The CB_PIXELS outputs of `count` output channels in turn, requantized and saturated to int8
 * (the layer's clamp comes after), into out[p * stride + c] for pixel p of channel c; each
 * channel's sum from its bias (ch[0] of its channel row) and `words` index words from idx on,
 * fields of `field_bits` bits. Returns the index words of the next channel. The hot loop's
 * registers are chosen by hand. 4-bit indices (`table` the pair table): per pair field one
 * byte load and one table load give the weight pair, 6 SMLAD meet the 6 pixels' input pairs,
 * two fields sharing the middle one of three 4-word loads (19 instructions per 24 products),
 * four words a pass after the odd ones. 2-bit indices (`table` the table of pair pairs): per
 * byte of two fields a byte load, an address and an LDRD give both pairs, four 3-word loads
 * the pixels' inputs (19 instructions per 24 products), two words a pass after an odd one.
 * A channel's first word is its own code: its first pair's 6 SMLAD add to the bias, so the
 * sums need no copies of it. A pass's first index byte load steps the index pointer, and a
 * channel's products end when the column loads reach `table`, which the scratch places right
 * after the columns (no per-channel end to set up or load). At a channel's end its 6 sums are
 * requantized in registers (SMMLAR, the sign, the shift, SSAT) and stored a byte each; the
 * output address follows from the channel row's address (rows of 16 bytes, outputs 1 byte
 * apart), so the channel loop keeps one pointer. A whole block of a layer whose clamp is all of
 * int8 goes straight to the output (stride out_c, every channel one call); otherwise 8 channels
 * a call into a byte buffer (stride CB_CHANNELS) that store_channels clamps. */
static const uint32_t *dot_channels_s8(const uint32_t *idx, int32_t words, int32_t field_bits,
                                       const uint32_t *table, const uint32_t *col, const int32_t *ch,
                                       int32_t count, int8_t *out, int32_t stride)
{
    register const uint32_t *ri __asm__("lr") = idx;
    register const uint32_t *rt __asm__("r11") = table;
    register const int32_t *rc __asm__("r9") = ch;
    channel_loop st;
    st.col = col;
    st.ch_end = ch + 4 * count;
    st.out_base = (uint32_t)(uintptr_t)out - (((uint32_t)(uintptr_t)ch + 16u) >> 4);
    st.stride = stride;
/* the 6 pixels' input pairs of one weight pair (in PAIR) met: two 3-word loads, 6 SMLAD on the
 * sums (ACC r0..r5) or, for a channel's first pair, on the bias (ACC r5 for all: r5 last) */
#define MCC_CB_PAIR_ON(PAIR, A0, A1, A2, A3, A4, A5)                                              \
    "ldm ip!, {r6, r7, r8}\n\t"                                                                 \
    "smlad r0, r6, " PAIR ", " A0 "\n\t"                                                        \
    "smlad r1, r7, " PAIR ", " A1 "\n\t"                                                        \
    "smlad r2, r8, " PAIR ", " A2 "\n\t"                                                        \
    "ldm ip!, {r6, r7, r8}\n\t"                                                                 \
    "smlad r3, r6, " PAIR ", " A3 "\n\t"                                                        \
    "smlad r4, r7, " PAIR ", " A4 "\n\t"                                                        \
    "smlad r5, r8, " PAIR ", " A5 "\n\t"
#define MCC_CB_PAIR(PAIR) MCC_CB_PAIR_ON(PAIR, "r0", "r1", "r2", "r3", "r4", "r5")
#define MCC_CB_PAIR_BIAS(PAIR) MCC_CB_PAIR_ON(PAIR, "r5", "r5", "r5", "r5", "r5", "r5")
/* an index byte: at OFF from the index pointer, or the pass's first, which steps it by STEP */
#define MCC_CB_IDX(OFF) "ldrb r9, [%[i], #" #OFF "]\n\t"
#define MCC_CB_STEP(STEP) "ldrb r9, [%[i]], #" #STEP "\n\t"
/* 2-bit indices: an index byte's two pairs from the table of pair pairs */
#define MCC_CB_QUAD_ON(IDX, FIRST)                                                               \
    IDX                                                                                          \
    "add r9, %[t], r9, lsl #3\n\t"                                                              \
    "ldrd r9, r10, [r9]\n\t"                                                                    \
    FIRST("r9") MCC_CB_PAIR("r10")
#define MCC_CB_QUAD(IDX) MCC_CB_QUAD_ON(IDX, MCC_CB_PAIR)
#define MCC_CB_QFIRST                                                                            \
    MCC_CB_QUAD_ON(MCC_CB_STEP(4), MCC_CB_PAIR_BIAS)                                              \
    MCC_CB_QUAD(MCC_CB_IDX(-3)) MCC_CB_QUAD(MCC_CB_IDX(-2)) MCC_CB_QUAD(MCC_CB_IDX(-1))
#define MCC_CB_QONE                                                                              \
    MCC_CB_QUAD(MCC_CB_STEP(4))                                                                  \
    MCC_CB_QUAD(MCC_CB_IDX(-3)) MCC_CB_QUAD(MCC_CB_IDX(-2)) MCC_CB_QUAD(MCC_CB_IDX(-1))
#define MCC_CB_QTWO                                                                              \
    "1:\n\t"                                                                                     \
    MCC_CB_QUAD(MCC_CB_STEP(8))                                                                  \
    MCC_CB_QUAD(MCC_CB_IDX(-7)) MCC_CB_QUAD(MCC_CB_IDX(-6)) MCC_CB_QUAD(MCC_CB_IDX(-5))           \
    MCC_CB_QUAD(MCC_CB_IDX(-4)) MCC_CB_QUAD(MCC_CB_IDX(-3)) MCC_CB_QUAD(MCC_CB_IDX(-2))           \
    MCC_CB_QUAD(MCC_CB_IDX(-1)) MCC_CB_LOOP_END
/* a channel's start (r9 its row): its bias in r5, its row pointer stepped, the column pointer back */
#define MCC_CB_START                                                                             \
    "2:\n\t"                                                                                     \
    "ldr r5, [r9], #16\n\t"                                                                      \
    "str r9, %[ch]\n\t"                                                                          \
    "ldr ip, %[col]\n\t"
#define MCC_CB_LOOP_END "cmp ip, %[t]\n\tbne 1b\n\t"
/* a channel's end: its multiplier, round and shift (the 3 words before the next row), its
 * output address, the six sums requantized and stored, the next channel while any is left */
#define MCC_CB_OUT(R, DST)                                                                       \
    "smmlar ip, " R ", r6, r7\n\t"                                                               \
    "add ip, ip, " R ", asr #31\n\t"                                                             \
    "asr ip, ip, r8\n\t"                                                                         \
    "ssat ip, #8, ip\n\t"                                                                        \
    "strb ip, " DST "\n\t"
#define MCC_CB_END                                                                               \
    "ldr r9, %[ch]\n\t"                                                                          \
    "ldmdb r9, {r6, r7, r8}\n\t"                                                                 \
    "ldr r10, %[ob]\n\t"                                                                         \
    "add r10, r10, r9, lsr #4\n\t"                                                               \
    MCC_CB_OUT("r0", "[r10]")                                                                    \
    "ldr r0, %[os]\n\t"                                                                          \
    MCC_CB_OUT("r1", "[r10, r0]")                                                                \
    MCC_CB_OUT("r2", "[r10, r0, lsl #1]")                                                        \
    "add r1, r0, r0, lsl #1\n\t"                                                                 \
    MCC_CB_OUT("r3", "[r10, r1]")                                                                \
    MCC_CB_OUT("r4", "[r10, r0, lsl #2]")                                                        \
    "add r1, r1, r0, lsl #1\n\t"                                                                 \
    MCC_CB_OUT("r5", "[r10, r1]")                                                                \
    "ldr r0, %[che]\n\t"                                                                         \
    "cmp r9, r0\n\t"                                                                             \
    "bne 2b"
#define MCC_CB_OPERANDS                                                                          \
    : [i] "+r"(ri), [r] "+r"(rc), [ch] "=m"(st.ch)                                               \
    : [t] "r"(rt), [col] "m"(st.col), [che] "m"(st.ch_end),                \
      [ob] "m"(st.out_base), [os] "m"(st.stride)                                                 \
    : "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r10", "ip", "cc", "memory"
/* 4-bit indices: each pair field a byte load (no word register), two fields sharing the middle
 * one of three loads of 4 input pairs (12 for the 2 x 6 pixels), 4 words a pass */
#define MCC_CB_TBL "ldr r9, [%[t], r9, lsl #2]\n\t"
#define MCC_CB_TWO_ON(IDX0, IDX1, A0, A1, A2, A3, A4, A5)                                        \
    IDX0 MCC_CB_TBL                                                                              \
    "ldm ip!, {r6, r7, r8, r10}\n\t"                                                             \
    "smlad r0, r6, r9, " A0 "\n\t"                                                               \
    "smlad r1, r7, r9, " A1 "\n\t"                                                               \
    "smlad r2, r8, r9, " A2 "\n\t"                                                               \
    "smlad r3, r10, r9, " A3 "\n\t"                                                              \
    "ldm ip!, {r6, r7, r8, r10}\n\t"                                                             \
    "smlad r4, r6, r9, " A4 "\n\t"                                                               \
    "smlad r5, r7, r9, " A5 "\n\t"                                                               \
    IDX1 MCC_CB_TBL                                                                              \
    "smlad r0, r8, r9, r0\n\t"                                                                   \
    "smlad r1, r10, r9, r1\n\t"                                                                  \
    "ldm ip!, {r6, r7, r8, r10}\n\t"                                                             \
    "smlad r2, r6, r9, r2\n\t"                                                                   \
    "smlad r3, r7, r9, r3\n\t"                                                                   \
    "smlad r4, r8, r9, r4\n\t"                                                                   \
    "smlad r5, r10, r9, r5\n\t"
#define MCC_CB_TWO(IDX0, IDX1) MCC_CB_TWO_ON(IDX0, IDX1, "r0", "r1", "r2", "r3", "r4", "r5")
#define MCC_CB_FIRST                                                                             \
    MCC_CB_TWO_ON(MCC_CB_STEP(4), MCC_CB_IDX(-3), "r5", "r5", "r5", "r5", "r5", "r5")              \
    MCC_CB_TWO(MCC_CB_IDX(-2), MCC_CB_IDX(-1))
#define MCC_CB_ONE MCC_CB_TWO(MCC_CB_STEP(4), MCC_CB_IDX(-3)) MCC_CB_TWO(MCC_CB_IDX(-2), MCC_CB_IDX(-1))
#define MCC_CB_FOUR                                                                              \
    "1:\n\t"                                                                                     \
    MCC_CB_TWO(MCC_CB_STEP(16), MCC_CB_IDX(-15)) MCC_CB_TWO(MCC_CB_IDX(-14), MCC_CB_IDX(-13))     \
    MCC_CB_TWO(MCC_CB_IDX(-12), MCC_CB_IDX(-11)) MCC_CB_TWO(MCC_CB_IDX(-10), MCC_CB_IDX(-9))      \
    MCC_CB_TWO(MCC_CB_IDX(-8), MCC_CB_IDX(-7)) MCC_CB_TWO(MCC_CB_IDX(-6), MCC_CB_IDX(-5))         \
    MCC_CB_TWO(MCC_CB_IDX(-4), MCC_CB_IDX(-3)) MCC_CB_TWO(MCC_CB_IDX(-2), MCC_CB_IDX(-1))         \
    MCC_CB_LOOP_END
#define MCC_CB_CHANNELS(BODY) __asm__ volatile(MCC_CB_START BODY MCC_CB_END MCC_CB_OPERANDS)
    if (field_bits == 4 && words == 1) {
        MCC_CB_CHANNELS(MCC_CB_QFIRST);
    } else if (field_bits == 4 && words == 2) {
        MCC_CB_CHANNELS(MCC_CB_QFIRST MCC_CB_QONE);
    } else if (field_bits == 4 && (words & 1)) {
        MCC_CB_CHANNELS(MCC_CB_QFIRST MCC_CB_QTWO);
    } else if (field_bits == 4) {
        MCC_CB_CHANNELS(MCC_CB_QFIRST MCC_CB_QONE MCC_CB_QTWO);
    } else if (words < 4) { /* the other words one a pass, tested first */
        MCC_CB_CHANNELS(MCC_CB_FIRST "b 3f\n1:\n\t" MCC_CB_ONE "3:\n\t"
                        MCC_CB_LOOP_END);
    } else if (words == 4) { /* a 1x1 conv on 32 channels: no loop */
        MCC_CB_CHANNELS(MCC_CB_FIRST MCC_CB_ONE MCC_CB_ONE MCC_CB_ONE);
    } else if ((words & 3) == 1) {
        MCC_CB_CHANNELS(MCC_CB_FIRST MCC_CB_FOUR);
    } else if ((words & 3) == 2) {
        MCC_CB_CHANNELS(MCC_CB_FIRST MCC_CB_ONE MCC_CB_FOUR);
    } else if ((words & 3) == 3) {
        MCC_CB_CHANNELS(MCC_CB_FIRST MCC_CB_ONE MCC_CB_ONE MCC_CB_FOUR);
    } else {
        MCC_CB_CHANNELS(MCC_CB_FIRST MCC_CB_ONE MCC_CB_ONE MCC_CB_ONE MCC_CB_FOUR);
    }
#undef MCC_CB_CHANNELS
#undef MCC_CB_FOUR
#undef MCC_CB_ONE
#undef MCC_CB_FIRST
#undef MCC_CB_TWO
#undef MCC_CB_TWO_ON
#undef MCC_CB_TBL
#undef MCC_CB_OPERANDS
#undef MCC_CB_END
#undef MCC_CB_OUT
#undef MCC_CB_LOOP_END
#undef MCC_CB_START
#undef MCC_CB_QTWO
#undef MCC_CB_QONE
#undef MCC_CB_QFIRST
#undef MCC_CB_QUAD
#undef MCC_CB_QUAD_ON
#undef MCC_CB_STEP
#undef MCC_CB_IDX
#undef MCC_CB_PAIR_BIAS
#undef MCC_CB_PAIR
#undef MCC_CB_PAIR_ON
    return ri;
}
#else
/* The CB_PIXELS sums of `count` output channels in turn into sums (CB_PIXELS a channel), each
 * from its bias (ch[0] of its channel row) and `words` index words from idx on, fields of
 * `field_bits` bits. Returns the index words of the next channel. */
static const uint32_t *dot_channels(const uint32_t *idx, int32_t words, int32_t field_bits,
                                    const uint32_t *table, const uint32_t *col, const int32_t *ch,
                                    int32_t count, int32_t *sums)
{
    const uint32_t mask = (1u << field_bits) - 1u;
    const int32_t fields = 32 / field_bits;
    int32_t oc;
    for (oc = 0; oc < count; ++oc) {
        const uint32_t *end = idx + words;
        const uint32_t *c = col;
        int32_t a0 = ch[0], a1 = ch[0], a2 = ch[0], a3 = ch[0], a4 = ch[0], a5 = ch[0];
        while (idx != end) {
            uint32_t f = *idx++;
            int32_t q;
            for (q = 0; q < fields; ++q) {
                const uint32_t w = table[f & mask];
                f >>= field_bits;
                a0 = mcc_nn_smlad(c[0], w, a0);
                a1 = mcc_nn_smlad(c[1], w, a1);
                a2 = mcc_nn_smlad(c[2], w, a2);
                a3 = mcc_nn_smlad(c[3], w, a3);
                a4 = mcc_nn_smlad(c[4], w, a4);
                a5 = mcc_nn_smlad(c[5], w, a5);
                c += CB_PIXELS;
            }
        }
        sums[0] = a0;
        sums[1] = a1;
        sums[2] = a2;
        sums[3] = a3;
        sums[4] = a4;
        sums[5] = a5;
        sums += CB_PIXELS;
        ch += 4;
    }
    return idx;
}
#endif

#if MCC_HAVE_DSP_ASM
/* Pixel p's bytes of `count` channels (bytes[p * CB_CHANNELS + c]) to out + p * out_c, clamped
 * to [lo, hi] 4 at a time when the range is not all of int8 (they are saturated already). */
static void store_channels(const int8_t *bytes, int32_t n, int32_t count, int8_t *out, int32_t out_c,
                           int32_t lo, int32_t hi)
{
    const uint32_t lo4 = (uint32_t)(uint8_t)lo * 0x01010101u;
    const uint32_t hi4 = (uint32_t)(uint8_t)hi * 0x01010101u;
    const int full_range = lo == -128 && hi == 127;
    int32_t p, c;
    for (p = 0; p < n; ++p) {
        const int8_t *b = bytes + p * CB_CHANNELS;
        int8_t *o = out + p * out_c;
        for (c = 0; c + 4 <= count; c += 4) {
            uint32_t w;
            memcpy(&w, b + c, 4);
            if (!full_range) {
                w = mcc_nn_clamp4_s8(w, lo4, hi4);
            }
            memcpy(o + c, &w, 4);
        }
        for (; c < count; ++c) {
            o[c] = (int8_t)(b[c] < lo ? lo : b[c] > hi ? hi : b[c]);
        }
    }
}
#endif

#if MCC_HAVE_MVE_ASM
/* MVE: the tables hold int8 weights per index byte (mcc_nn_codebook_byte_tables), so a VLDRB
 * gather turns 16 index bytes of a channel into 16 weights and VMLADAVA.S8 sums 16 products.
 * Columns stay int8 for CB_MVE_PIXELS pixels, interleaved by chunks (32 products for 4-bit
 * indices, 64 for 2-bit: chunk j of pixel p at (j * CB_MVE_PIXELS + p) chunks), so one pointer
 * walks them; a chunk's input is deinterleaved by VLD2 (halfwords: the low fields of a 4-bit
 * byte are k0 k1 of a group of 4, the high ones k2 k3) or VLD4 (bytes: the 2-bit fields of a
 * byte are k0, k2, k1, k3 from bit 0) into the order of the tables. Per channel and chunk: one
 * load of 16 index bytes, 2 or 4 gathers, then per pixel 2 or 4 loads and VMLADAVA. */
static const int32_t cb_mve_shifts4[2] = {0, 4};
static const int32_t cb_mve_shifts2[4] = {0, 4, 2, 6};

/* The staged pixel's k_padded bytes into column p's chunks (the bytes past them up to a whole
 * chunk stay the zeros written once per call). */
MCC_INLINE void interleave_column(const int8_t *stage, int32_t k_padded, int32_t chunk, int32_t p, int8_t *col)
{
    int32_t off;
    col += p * chunk;
    for (off = 0; off + 16 <= k_padded; off += 16) {
        vstrbq_s8(col + off % chunk + off / chunk * (CB_MVE_PIXELS * chunk), vldrbq_s8(stage + off));
    }
    if (off < k_padded) {
        vstrbq_s8(col + off % chunk + off / chunk * (CB_MVE_PIXELS * chunk),
                  vldrbq_z_s8(stage + off, vctp8q((uint32_t)(k_padded - off))));
    }
}

/* What the channel loop reads from memory (every core register is in use inside it); the
 * assembly names the byte offsets of the fields. */
typedef struct {
    int32x4_t lo4;           /*  0: the clamp */
    int32x4_t hi4;           /* 16 */
    uint32x4_t offsets;      /* 32: p * out_c, the byte offsets of the block's pixels in the output */
    const int8_t *col;       /* 48: the interleaved columns */
    int32_t full;            /* 52: whole chunks of 16 index bytes a channel */
    int32_t tail;            /* 56: index bytes after them (a multiple of 4, 0 for none) */
    uint32_t pixels;         /* 60: the lanes to store, VPR.P0 of the block's pixel count */
} channel_loop_mve;

/* Every output channel of a block of CB_MVE_PIXELS pixels, from the channel's index bytes at
 * idx on (the channels' bytes follow each other) and its constants ch (4 a channel), stored to
 * out + p * out_c + channel. Per channel: the sums from 0 in r0 r2 r4 r6 (VMLADAVA wants even
 * registers), per chunk one load of 16 index bytes, 2 or 4 gathers, per pixel 2 or 4 loads and
 * VMLADAVA; the last bytes predicated. Then the 4 sums on 4 lanes: doubled plus the bias,
 * VRMULH (SMMLAR without the accumulate) plus the round, the sign, the shift by a negative
 * register amount (truncating like ASR), the clamp, one predicated byte scatter. Assembly:
 * GCC 12 spills the Q registers of the intrinsics and finds no registers for this loop's. */
#define CB_MVE_X4(A) "vld20.16 {q0, q1}, [%[x]]\n\tvld21.16 {q0, q1}, [%[x]]!\n\t"                  \
    "vmladava.s8 %[" #A "], q0, q2\n\tvmladava.s8 %[" #A "], q1, q3\n\t"
#define CB_MVE_CHUNK4                                                                            \
    "vldrb.u8 q2, [%[t0], q0]\n\t"                                                               \
    "add %[u], %[t0], #256\n\t"                                                                  \
    "vldrb.u8 q3, [%[u], q0]\n\t"                                                                \
    CB_MVE_X4(a0) CB_MVE_X4(a1) CB_MVE_X4(a2) CB_MVE_X4(a3)
#define CB_MVE_X2(A)                                                                             \
    "vld40.8 {q0, q1, q2, q3}, [%[x]]\n\tvld41.8 {q0, q1, q2, q3}, [%[x]]\n\t"                     \
    "vld42.8 {q0, q1, q2, q3}, [%[x]]\n\tvld43.8 {q0, q1, q2, q3}, [%[x]]!\n\t"                    \
    "vmladava.s8 %[" #A "], q0, q4\n\tvmladava.s8 %[" #A "], q1, q5\n\t"                          \
    "vmladava.s8 %[" #A "], q2, q6\n\tvmladava.s8 %[" #A "], q3, q7\n\t"
/* (the four tables 256 bytes apart from one address register) */
#define CB_MVE_CHUNK2                                                                            \
    "vldrb.u8 q4, [%[t0], q0]\n\t"                                                               \
    "add %[u], %[t0], #256\n\t"                                                                  \
    "vldrb.u8 q5, [%[u], q0]\n\t"                                                                \
    "add %[u], %[u], #256\n\t"                                                                   \
    "vldrb.u8 q6, [%[u], q0]\n\t"                                                                \
    "add %[u], %[u], #256\n\t"                                                                   \
    "vldrb.u8 q7, [%[u], q0]\n\t"                                                                \
    CB_MVE_X2(a0) CB_MVE_X2(a1) CB_MVE_X2(a2) CB_MVE_X2(a3)
#define CB_MVE_CHANNELS(CHUNK)                                                                   \
    "2:\n\t"                                                                                     \
    "movs %[a0], #0\n\t"                                                                         \
    "movs %[a1], #0\n\t"                                                                         \
    "movs %[a2], #0\n\t"                                                                         \
    "movs %[a3], #0\n\t"                                                                         \
    "ldr %[x], [%[st], #48]\n\t"                                                                 \
    "ldr %[n], [%[st], #52]\n\t"                                                                 \
    "cmp %[n], #0\n\t"                                                                           \
    "beq 4f\n"                                                                                   \
    "1:\n\t"                                                                                     \
    "vldrb.u8 q0, [%[i]], #16\n\t"                                                               \
    CHUNK                                                                                        \
    "subs %[n], %[n], #1\n\t"                                                                    \
    "bne 1b\n"                                                                                   \
    "4:\n\t"                                                                                     \
    "ldr %[n], [%[st], #56]\n\t"                                                                 \
    "cmp %[n], #0\n\t"                                                                           \
    "beq 3f\n\t"                                                                                 \
    "vctp.8 %[n]\n\t"                                                                            \
    "vpst\n\t"                                                                                   \
    "vldrbt.u8 q0, [%[i]]\n\t"                                                                   \
    "add %[i], %[i], %[n]\n\t"                                                                   \
    CHUNK                                                                                        \
    "3:\n\t"                                                                                     \
    "vmov q0[2], q0[0], %[a0], %[a2]\n\t" /* lanes 0 and 2: the first register to the lower lane */\
    "vmov q0[3], q0[1], %[a1], %[a3]\n\t"                                                        \
    "ldm %[ch]!, {%[a0], %[a1], %[a2], %[a3]}\n\t"                                               \
    "vshl.i32 q0, q0, #1\n\t"                                                                    \
    "vadd.i32 q0, q0, %[a0]\n\t"                                                                 \
    "vdup.32 q1, %[a1]\n\t"                                                                      \
    "vrmulh.s32 q1, q0, q1\n\t"                                                                  \
    "vadd.i32 q1, q1, %[a2]\n\t"                                                                 \
    "vshr.s32 q0, q0, #31\n\t"                                                                   \
    "vadd.i32 q1, q1, q0\n\t"                                                                    \
    "rsbs %[a3], %[a3], #0\n\t"                                                                  \
    "vshl.s32 q1, %[a3]\n\t"                                                                     \
    "vldrw.u32 q0, [%[st]]\n\t"                                                                  \
    "vldrw.u32 q2, [%[st], #16]\n\t"                                                             \
    "vldrw.u32 q3, [%[st], #32]\n\t"                                                             \
    "vmax.s32 q1, q1, q0\n\t"                                                                    \
    "vmin.s32 q1, q1, q2\n\t"                                                                    \
    "ldr %[n], [%[st], #60]\n\t"                                                                 \
    "vmsr p0, %[n]\n\t"                                                                          \
    "vpst\n\t"                                                                                   \
    "vstrbt.32 q1, [%[o], q3]\n\t"                                                               \
    "adds %[o], %[o], #1\n\t"                                                                    \
    "cmp %[o], %[oe]\n\t"                                                                        \
    "bne 2b"
static void channels_mve(const uint8_t *idx, const int32_t *ch, int32_t bits, const int8_t *tables,
                         const channel_loop_mve *st, int8_t *out, const int8_t *out_end)
{
    register int32_t a0 __asm__("r0");
    register int32_t a1 __asm__("r2");
    register int32_t a2 __asm__("r4");
    register int32_t a3 __asm__("r6");
    const int8_t *x;
    const int8_t *u;
    int32_t n;
#define CB_MVE_OPERANDS                                                                          \
    : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [i] "+r"(idx), [ch] "+r"(ch), \
      [o] "+r"(out), [x] "=&r"(x), [n] "=&r"(n), [u] "=&r"(u)                                    \
    : [t0] "r"(tables), [st] "r"(st), [oe] "r"(out_end)                                          \
    : "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12", "d13", "d14", \
      "d15", "cc", "memory"
    if (bits == 4) {
        __asm__ volatile(CB_MVE_CHANNELS(CB_MVE_CHUNK4) CB_MVE_OPERANDS);
    } else {
        __asm__ volatile(CB_MVE_CHANNELS(CB_MVE_CHUNK2) CB_MVE_OPERANDS);
    }
#undef CB_MVE_OPERANDS
}
#undef CB_MVE_CHANNELS
#undef CB_MVE_CHUNK2
#undef CB_MVE_X2
#undef CB_MVE_CHUNK4
#undef CB_MVE_X4

/* The whole layer on MVE: the byte tables once, then per block of CB_MVE_PIXELS pixels their
 * interleaved columns and every output channel's sums, requantized (a last block of fewer
 * pixels computes on zero columns and stores only its own). */
static void conv_mve(const mcc_conv_fast_params *params, const mcc_codebook_fast_s8 *filter,
                     const mcc_dims *input_dims, const int8_t *input, const mcc_dims *output_dims,
                     int8_t *output, void *scratch)
{
    const int32_t bits = filter->index_bits;
    const int32_t k_padded = params->k_padded;
    const int32_t chunk = bits == 4 ? 32 : 64;
    const int32_t chunks = (k_padded + chunk - 1) / chunk;
    const int32_t index_bytes = k_padded * bits / 8;
    const int32_t out_c = output_dims->c;
    const int32_t out_w = output_dims->w;
    const int32_t pixels = output_dims->h * out_w;
    const int32_t n_tables = bits == 4 ? 2 : 4;
    const int8_t *tables = (const int8_t *)scratch;
    int8_t *col = (int8_t *)scratch + 256 * n_tables;
    int8_t *stage = col + CB_MVE_PIXELS * chunks * chunk;
    channel_loop_mve st;
    int32_t b, px;
    st.lo4 = vdupq_n_s32(params->activation.min);
    st.hi4 = vdupq_n_s32(params->activation.max);
    st.offsets = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)out_c);
    st.col = col;
    st.full = index_bytes / 16;
    st.tail = index_bytes % 16;
    memset(col, 0, (size_t)(CB_MVE_PIXELS * chunks * chunk));
    mcc_nn_codebook_byte_tables(filter->codebook, bits, bits == 4 ? cb_mve_shifts4 : cb_mve_shifts2, n_tables,
                                (uint32_t *)scratch);
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in_batch = input + b * input_dims->h * input_dims->w * input_dims->c;
        for (px = 0; px < pixels; px += CB_MVE_PIXELS) {
            const int32_t n = pixels - px < CB_MVE_PIXELS ? pixels - px : CB_MVE_PIXELS;
            int32_t p;
            st.pixels = vctp32q((uint32_t)n);
            for (p = 0; p < CB_MVE_PIXELS; ++p) {
                if (p < n) {
                    stage_pixel(params, input_dims, in_batch, (px + p) / out_w, (px + p) % out_w, stage);
                } else {
                    fill_run(stage, 0, k_padded);
                }
                interleave_column(stage, k_padded, chunk, p, col);
            }
            channels_mve((const uint8_t *)filter->indices, params->channels, bits, tables, &st, output,
                         output + out_c);
            output += n * out_c;
        }
    }
}
#endif

mcc_status mcc_conv2d_codebook_fast_s8(const mcc_conv_fast_params *params,
                                       const mcc_codebook_fast_s8 *filter,
                                       const mcc_dims *input_dims, const int8_t *input,
                                       const mcc_dims *output_dims, int8_t *output, void *scratch)
{
    const int32_t bits = filter->index_bits;
    const int32_t field_bits = 2 * bits;
    const int32_t k_padded = params->k_padded;
    const int32_t words = k_padded / (64 / field_bits); /* a word holds 32 / field_bits pairs */
    const int32_t out_c = output_dims->c;
    const int32_t out_w = output_dims->w;
    const int32_t pixels = output_dims->h * out_w;
    const int32_t lo = params->activation.min;
    const int32_t hi = params->activation.max;
#if MCC_HAVE_DSP_ASM
    /* the columns first: their end is the table's address, so the channel loop's end test needs
     * no register and no load of its own */
    uint32_t *col = (uint32_t *)scratch;
    uint32_t *quad = col + CB_PIXELS * (k_padded >> 1); /* 2-bit indices: the table of pair pairs */
    uint32_t *table = quad + (bits == 2 ? CB_QUAD_WORDS : 0);
    int8_t *stage = (int8_t *)(table + (1 << field_bits));
#else
    uint32_t *quad = (uint32_t *)scratch;
    uint32_t *table = quad + (bits == 2 ? CB_QUAD_WORDS : 0);
    uint32_t *col = table + (1 << field_bits);
    int8_t *stage = (int8_t *)(col + CB_PIXELS * (k_padded >> 1));
#endif
    const int direct = (params->in_c & 3) == 0 && params->in_c >= CB_DIRECT_MIN;
#if MCC_HAVE_DSP_ASM
    const int full_range = lo == -128 && hi == 127;
#endif
    int32_t b, px;

    if ((bits != 2 && bits != 4) || k_padded % (64 / field_bits) != 0 || out_c != params->out_c ||
        input_dims->c != params->in_c || input_dims->n != output_dims->n ||
        k_padded < params->kernel.h * params->kernel.w * params->in_c) {
        return MCC_ERROR_ARGUMENT;
    }
#if MCC_HAVE_MVE_ASM
    conv_mve(params, filter, input_dims, input, output_dims, output, scratch);
    return MCC_OK;
#endif
    mcc_nn_codebook_pair_table(filter->codebook, bits, table);
#if MCC_HAVE_DSP_ASM
    if (bits == 2) {
        mcc_nn_codebook_quad_table(table, quad);
        table = quad;
    }
#endif
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in_batch = input + b * input_dims->h * input_dims->w * input_dims->c;
        for (px = 0; px < pixels; px += CB_PIXELS) {
            const int32_t n = pixels - px < CB_PIXELS ? pixels - px : CB_PIXELS;
            const uint32_t *idx = filter->indices;
            const int32_t *ch = params->channels;
#if MCC_HAVE_DSP_ASM
            int8_t bytes[CB_CHANNELS * CB_PIXELS];
#else
            int32_t sums[CB_CHANNELS * CB_PIXELS];
#endif
            int32_t p, oc;
            if (direct) {
                widen_pixels(params, input_dims, in_batch, px, n, out_w, col);
            }
            for (p = direct ? n : 0; p < CB_PIXELS; ++p) {
                if (p < n) {
                    stage_pixel(params, input_dims, in_batch, (px + p) / out_w, (px + p) % out_w, stage);
                } else {
                    fill_run(stage, 0, k_padded);
                }
                widen_column(stage, k_padded, col + p);
            }
#if MCC_HAVE_DSP_ASM
            if (n == CB_PIXELS && full_range) { /* every channel's bytes straight to the output */
                dot_channels_s8(idx, words, field_bits, table, col, ch, out_c, output, out_c);
                output += n * out_c;
                continue;
            }
#endif
            for (oc = 0; oc < out_c; oc += CB_CHANNELS) {
                const int32_t count = out_c - oc < CB_CHANNELS ? out_c - oc : CB_CHANNELS;
#if MCC_HAVE_DSP_ASM
                idx = dot_channels_s8(idx, words, field_bits, table, col, ch, count, bytes, CB_CHANNELS);
                store_channels(bytes, n, count, output + oc, out_c, lo, hi);
                ch += 4 * count;
#else
                const int32_t *sum = sums;
                int32_t c;
                idx = dot_channels(idx, words, field_bits, table, col, ch, count, sums);
                for (c = 0; c < count; ++c) {
                    const int32_t mult = ch[1], round = ch[2], shift = ch[3];
                    int8_t *out = output + oc + c;
                    if (n == CB_PIXELS) { /* unrolled: the constants stay in registers */
                        out[0] = mcc_nn_fast_requantize(sum[0], mult, round, shift, lo, hi);
                        out[out_c] = mcc_nn_fast_requantize(sum[1], mult, round, shift, lo, hi);
                        out[2 * out_c] = mcc_nn_fast_requantize(sum[2], mult, round, shift, lo, hi);
                        out[3 * out_c] = mcc_nn_fast_requantize(sum[3], mult, round, shift, lo, hi);
                        out[4 * out_c] = mcc_nn_fast_requantize(sum[4], mult, round, shift, lo, hi);
                        out[5 * out_c] = mcc_nn_fast_requantize(sum[5], mult, round, shift, lo, hi);
                    } else {
                        for (p = 0; p < n; ++p) {
                            out[p * out_c] = mcc_nn_fast_requantize(sum[p], mult, round, shift, lo, hi);
                        }
                    }
                    sum += CB_PIXELS;
                    ch += 4;
                }
#endif
            }
            output += n * out_c;
        }
    }
    return MCC_OK;
}

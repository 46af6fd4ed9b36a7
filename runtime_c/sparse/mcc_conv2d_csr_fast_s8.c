/* mcc_conv2d_csr_fast_s8 - int8 2-D convolution with CSR weights, several output pixels per
 * stored entry.
 *
 * Same weights, arguments and output as mcc_conv2d_csr_s8, plus a scratch buffer
 * (mcc_conv2d_csr_fast_s8_get_buffer_size). Once per call every entry's column is decoded into
 * a 16-bit offset into a "band": the k_h input rows one output row reads, each padded left and
 * right with the input zero point, so every output pixel's window lies inside it and an entry is
 * one offset from the pixel's start. The zero point adds (zp + input_offset) * w = 0, so the sum
 * is sum(x * w) + input_offset * (sum of the channel's weights), the same int32 as the portable
 * kernel's. With `channels` ({2 * folded bias, multiplier, round, shift} per output channel, as
 * mcc_conv2d_fast_s8's) the requantization is the dense fast kernels' (SMMLAR and a shift); without
 * it, mcc_conv2d_s8's. Per output row the band is filled once; per output channel the entries are walked
 * once for PIXELS pixels of the row (one offset and weight load shared by all of them). On an
 * MVE core eight entries go at a time: one gather of eight activations per pixel, and a group's
 * PIXELS outputs of a channel are requantized as one vector; on other DSP cores a whole group
 * runs in one block of assembly (csr_group_pairs). */
#include <string.h>

#include "mcc.h"
#include "mcc_nn.h"

#if MCC_HAVE_MVE_ASM
#include <arm_mve.h>
#endif

#define PIXELS 4 /* output pixels per walk of a channel's entries */
#define LANES 8  /* each channel's decoded entries are padded to a multiple of this */
/* DSP cores (not MVE ones) walk windows of two positions (csr_decode_pairs) */
#define CSR_PAIRS (MCC_HAVE_DSP_ASM && !MCC_HAVE_MVE_ASM)

typedef struct {
    int32_t wp;      /* band columns (pixels, padding included) */
    int32_t row;     /* bytes of one band row: wp * in_c */
    int32_t rows;    /* k_h */
    int32_t span;    /* values of one kernel row of a window: ((k_w - 1) * dilation.w + 1) * in_c */
} csr_band;

/* Without MVE the entries are 32-bit: byte offset into the window table (8 bytes, the PIXELS
 * pixels' int16 values, per window position) in the low half, the weight in the high half. */

static void csr_band_geometry(const mcc_conv_params *params, const mcc_dims *filter_dims,
                              const mcc_dims *output_dims, int32_t in_c, csr_band *band)
{
    band->wp = (output_dims->w - 1) * params->stride.w + (filter_dims->w - 1) * params->dilation.w + 1;
    band->row = band->wp * in_c;
    band->rows = filter_dims->h;
    band->span = ((filter_dims->w - 1) * params->dilation.w + 1) * in_c;
}

static int32_t csr_align4(int32_t n)
{
    return (n + 3) & ~3;
}

/* Bytes of the decoded entries (offsets and weights) in scratch; on a DSP core also the
 * windows' counts, the pair table and the band widened to int16 (the exporter reserves the
 * largest of the three layouts, codegen/csr_fast.py). */
static int32_t csr_entry_bytes(int32_t entries, int32_t out_c, const csr_band *band)
{
    const int32_t padded = entries + (LANES - 1) * out_c;
#if MCC_HAVE_MVE_ASM
    const int32_t mve = csr_align4(2 * padded) + csr_align4(padded) + 4 * PIXELS * out_c; /* + the sums */
#else
    const int32_t mve = csr_align4(2 * padded) + csr_align4(padded);
#endif
    const int32_t scalar = 4 * entries + 2 * PIXELS * band->rows * band->span;
#if CSR_PAIRS
    const int32_t dsp = 8 * entries + 28 * out_c + 4 * PIXELS * band->rows * band->span + 2 * band->rows * band->row;
    if (dsp > mve && dsp > scalar) {
        return dsp;
    }
#endif
    return mve > scalar ? mve : scalar;
}


int32_t mcc_conv2d_csr_fast_s8_get_buffer_size(const mcc_conv_params *params,
                                               const mcc_dims *filter_dims,
                                               const mcc_dims *output_dims, int32_t entries)
{
    csr_band band;
    csr_band_geometry(params, filter_dims, output_dims, filter_dims->c, &band);
    return csr_entry_bytes(entries, filter_dims->n, &band) + 4 * filter_dims->n +
           band.rows * band.row;
}

#if !CSR_PAIRS
/* Offsets of every entry into the band, its weight, and each channel's weight sum; each
 * channel's entries padded to a multiple of LANES with offset 0 and weight 0 (so whole vectors
 * need no tail). -1 on malformed data. */
static int csr_decode(const mcc_csr_s8 *filter, const mcc_conv_params *params,
                      const mcc_dims *filter_dims, const csr_band *band, void *entries,
                      int32_t *weight_sums)
{
    const int32_t in_c = filter_dims->c;
    const int32_t tap_step = params->dilation.w * in_c;
    int32_t k = 0, kp = 0, oc;
#if MCC_HAVE_MVE_ASM
    uint16_t *const offsets = (uint16_t *)entries;
    int8_t *const values =
        (int8_t *)entries + csr_align4(2 * (filter->entries + (LANES - 1) * filter_dims->n));
#else
    uint32_t *const words = (uint32_t *)entries;
#endif
    for (oc = 0; oc < filter_dims->n; ++oc) {
        const int32_t end = k + filter->row_entries[oc];
        int32_t ci = -1, kx = 0, ky = 0, sum = 0;
        if (filter->row_entries[oc] > filter->entries - k) {
            return -1;
        }
        for (; k < end; ++k) {
            const uint32_t gap = filter->gap_bits == 8
                                     ? (uint32_t)filter->gaps[k]
                                     : ((uint32_t)filter->gaps[k >> 1] >> ((k & 1) * 4)) & 15u;
            ci += 1 + (int32_t)gap;
            while (ci >= in_c) { /* carry into kx, then ky */
                ci -= in_c;
                if (++kx == filter_dims->w) {
                    kx = 0;
                    if (++ky == filter_dims->h) {
                        return -1;
                    }
                }
            }
#if MCC_HAVE_MVE_ASM
            offsets[kp] = (uint16_t)(ky * band->row + kx * tap_step + ci);
            values[kp++] = filter->values[k];
#else
            words[kp++] = (uint32_t)(2 * PIXELS * (ky * band->span + kx * tap_step + ci)) |
                          ((uint32_t)(int32_t)filter->values[k] << 16);
#endif
            sum += filter->values[k];
        }
#if MCC_HAVE_MVE_ASM
        for (; kp & (LANES - 1); ++kp) {
            offsets[kp] = 0;
            values[kp] = 0;
        }
#endif
        weight_sums[oc] = sum;
    }
    return 0;
}

/* The k_h input rows of output row oy, each padded to band->wp pixels with the zero point. */
static void csr_fill_band(const mcc_conv_params *params, const mcc_dims *input_dims,
                          const int8_t *in_batch, int32_t oy, const csr_band *band, int8_t *out)
{
    const int32_t in_c = input_dims->c;
    const int32_t left = params->padding.w;
    const int8_t zero_point = (int8_t)(-params->input_offset);
    int32_t ky;
    for (ky = 0; ky < band->rows; ++ky, out += band->row) {
        const int32_t y = oy * params->stride.h - params->padding.h + ky * params->dilation.h;
        int32_t first = left, last = left + input_dims->w; /* band columns from the input */
        if (y < 0 || y >= input_dims->h) {
            memset(out, zero_point, (size_t)band->row);
            continue;
        }
        if (last > band->wp) {
            last = band->wp;
        }
        if (first > last) {
            first = last;
        }
        memset(out, zero_point, (size_t)(first * in_c));
        memcpy(out + first * in_c, in_batch + ((int64_t)y * input_dims->w + (first - left)) * in_c,
               (size_t)((last - first) * in_c));
        memset(out + last * in_c, zero_point, (size_t)((band->wp - last) * in_c));
    }
}

#endif

#if CSR_PAIRS
/* One channel's entries with 8-bit gaps decoded into its windows (csr_decode_pairs) in assembly:
 * the C loop spills most of its state, and every call decodes all entries of the layer. The
 * column is tracked as the pair-table address alone: an entry lies at the address after the last
 * one (nx) plus 16 per skipped column, it leaves its tap when it reaches lim (the address of column
 * in_c), and it is the second weight of the open window exactly when its gap is 0 (unless a carry
 * moved it). Two copies of the entry's code keep whether a window is open (after a pair none is).
 * The carries into the next tap and kernel row stay in memory (taken once per in_c columns). */
typedef struct {
    const uint8_t *gaps;  /*  0: in and out */
    const int8_t *values; /*  4: in and out */
    int32_t n;            /*  8: entries in; out: 0, or -1 past the last kernel row */
    uint32_t step;        /* 12: pair-table bytes of one tap's in_c columns */
    uint32_t *at;         /* 16: the windows, in and out */
    uint32_t addr;        /* 20: the pair-table address of position -1 */
    uint32_t carry_x;     /* 24: the address's move into the next tap */
    int32_t row_left;     /* 28: carries until kx wraps (k_w at a channel's start) */
    uint32_t carry_y;     /* 32: the extra move when kx wraps into the next kernel row */
    int32_t kw;           /* 36 */
    int32_t taps_left;    /* 40: carries allowed (k_h * k_w - 1 at a channel's start) */
    int32_t sum;          /* 44: out, the channel's weight sum */
} csr_row8;

__attribute__((noinline)) static void csr_decode_row8(csr_row8 *row)
{
    register uint32_t g __asm__("r0");
    register uint32_t vp __asm__("r1");
    register int32_t n __asm__("r2");
    register uint32_t t __asm__("r3");
    register uint32_t step __asm__("r4");
    register uint32_t addr __asm__("r5");
    register uint32_t nx __asm__("r6");
    register uint32_t at __asm__("r8");
    register int32_t sum __asm__("r9");
    register int32_t v __asm__("r10");
    register uint32_t lim __asm__("r11");
    register csr_row8 *st __asm__("lr") = row;
    __asm__ volatile("ldm    %[st], {%[g], %[vp], %[n], %[step], %[at]}\n\t"
                     "ldr    %[addr], [%[st], #20]\n\t"
                     "mov    %[sum], #0\n\t"
                     "add    %[nx], %[addr], #16\n\t"
                     "add    %[lim], %[nx], %[step]\n\t"
                     "cmp    %[n], #0\n\t"
                     "beq    9f\n\t"
                     "b      3f\n\t"
                     "1:\n\t" /* a window open: its first position is nx - 16 */
                     "ldrb   %[t], [%[g]], #1\n\t"
                     "ldrsb  %[v], [%[vp]], #1\n\t"
                     "add    %[addr], %[nx], %[t], lsl #4\n\t"
                     "cmp    %[addr], %[lim]\n\t"
                     "bhs    6f\n\t"
                     "cbz    %[t], 8f\n\t"
                     "7:\n\t" /* a new window (UXTAH: the weight doubled as int16) */
                     "add    %[sum], %[sum], %[v]\n\t"
                     "uxtah  %[v], %[v], %[v]\n\t"
                     "strd   %[addr], %[v], [%[at]], #8\n\t"
                     "add    %[nx], %[addr], #16\n\t"
                     "subs   %[n], %[n], #1\n\t"
                     "bne    1b\n\t"
                     "b      9f\n\t"
                     "8:\n\t" /* the second weight of the open window */
                     "add    %[sum], %[sum], %[v]\n\t"
                     "uxtah  %[v], %[v], %[v]\n\t"
                     "ldr    %[t], [%[at], #-4]\n\t"
                     "orr    %[t], %[t], %[v], lsl #16\n\t"
                     "str    %[t], [%[at], #-4]\n\t"
                     "add    %[nx], %[addr], #16\n\t"
                     "subs   %[n], %[n], #1\n\t"
                     "beq    9f\n\t"
                     "3:\n\t" /* no window open */
                     "ldrb   %[t], [%[g]], #1\n\t"
                     "ldrsb  %[v], [%[vp]], #1\n\t"
                     "add    %[addr], %[nx], %[t], lsl #4\n\t"
                     "cmp    %[addr], %[lim]\n\t"
                     "blo    7b\n\t"
                     "mov    %[nx], #0\n\t" /* nothing to pair with after the carries */
                     "6:\n\t" /* carry into kx, then the kernel row */
                     "ldr    %[t], [%[st], #24]\n\t"
                     "add    %[addr], %[addr], %[t]\n\t"
                     "add    %[lim], %[lim], %[t]\n\t"
                     "add    %[lim], %[lim], %[step]\n\t"
                     "ldr    %[t], [%[st], #28]\n\t"
                     "subs   %[t], %[t], #1\n\t"
                     "bne    5f\n\t"
                     "ldr    %[t], [%[st], #32]\n\t"
                     "add    %[addr], %[addr], %[t]\n\t"
                     "add    %[lim], %[lim], %[t]\n\t"
                     "ldr    %[t], [%[st], #36]\n\t"
                     "5:\n\t"
                     "str    %[t], [%[st], #28]\n\t"
                     "ldr    %[t], [%[st], #40]\n\t"
                     "subs   %[t], %[t], #1\n\t"
                     "str    %[t], [%[st], #40]\n\t"
                     "bmi    4f\n\t"
                     "cmp    %[addr], %[lim]\n\t"
                     "bhs    6b\n\t"
                     "cmp    %[addr], %[nx]\n\t"
                     "beq    8b\n\t"
                     "b      7b\n\t"
                     "4:\n\t"
                     "mov    %[n], #-1\n\t"
                     "9:\n\t"
                     "stm    %[st], {%[g], %[vp], %[n]}\n\t"
                     "str    %[at], [%[st], #16]\n\t"
                     "str    %[sum], [%[st], #44]\n\t"
                     : [g] "=&r"(g), [vp] "=&r"(vp), [n] "=&r"(n), [t] "=&r"(t), [step] "=&r"(step),
                       [addr] "=&r"(addr), [nx] "=&r"(nx), [at] "=&r"(at), [sum] "=&r"(sum), [v] "=&r"(v),
                       [lim] "=&r"(lim), [st] "+r"(st)
                     :
                     : "cc", "memory");
}

/* DSP cores walk windows of two adjacent window positions (kernel row, then span: the order
 * of the pair table below), decoded once per call into one stream: per channel a word of its
 * window count less one (a channel without entries gets one window of weight 0, so a walk needs
 * no test for none), then per window a word of its address in the pair table (the table stays in
 * place for the call, so the walk adds no base) and a word of its two weights as int16 (the
 * second 0 when the next position holds none), so one SMLAD per pixel takes both; about 1.3
 * entries a window at 70% zeros. The weights are stored doubled (csr_group_pairs starts the sums
 * from 2 x bias); with channel constants a channel's 2 x bias follows its count (one LDRD takes
 * both) and its multiplier, round and shift its windows. */
static int csr_decode_pairs(const mcc_csr_s8 *filter, const mcc_conv_params *params, const mcc_dims *filter_dims,
                            const csr_band *band, const int32_t *channels, const uint32_t *table, uint32_t *windows,
                            int32_t *weight_sums)
{
    const int32_t in_c = filter_dims->c;
    const int32_t constants = channels != 0;
    /* an entry's pair-table address moves with its position: by one position a column, by these
     * when the column carries into the next tap (kx), and when kx wraps into the next kernel row */
    const uint32_t carry_x = (uint32_t)(4 * PIXELS * (params->dilation.w * in_c - in_c));
    const uint32_t carry_y = (uint32_t)(4 * PIXELS * (band->span - filter_dims->w * params->dilation.w * in_c));
    const int eight = filter->gap_bits == 8;
    int32_t k = 0, oc;
    uint32_t *at = windows;
    csr_row8 row;
    row.step = (uint32_t)(4 * PIXELS * in_c);
    row.addr = (uint32_t)(uintptr_t)table - 4 * PIXELS;
    row.carry_x = carry_x;
    row.carry_y = carry_y;
    row.kw = filter_dims->w;
    for (oc = 0; oc < filter_dims->n; ++oc) {
        const int32_t end = k + filter->row_entries[oc];
        uint32_t *const count = at;
        uint32_t addr = (uint32_t)(uintptr_t)table - 4 * PIXELS; /* position -1 */
        uint32_t pending = 0; /* the address that would be the open window's second position */
        int32_t ci = -1, kx = 0, ky = 0, sum = 0;
        if (filter->row_entries[oc] > filter->entries - k) {
            return -1;
        }
        at += 1 + constants;
        if (eight) {
            row.gaps = filter->gaps + k;
            row.values = filter->values + k;
            row.n = filter->row_entries[oc];
            row.at = at;
            row.row_left = filter_dims->w;
            row.taps_left = filter_dims->h * filter_dims->w - 1;
            csr_decode_row8(&row);
            if (row.n != 0) {
                return -1;
            }
            at = row.at;
            k = end;
            sum = row.sum;
        }
        for (; k < end; ++k) {
            const int32_t v = filter->values[k];
            const uint32_t gap = eight ? (uint32_t)filter->gaps[k] : ((uint32_t)filter->gaps[k >> 1] >> ((k & 1) * 4)) & 15u;
            ci += 1 + (int32_t)gap;
            addr += 4 * PIXELS * (1 + gap);
            while (ci >= in_c) { /* carry into kx, then ky */
                ci -= in_c;
                addr += carry_x;
                if (++kx == filter_dims->w) {
                    kx = 0;
                    addr += carry_y;
                    if (++ky == filter_dims->h) {
                        return -1;
                    }
                }
            }
            if (addr == pending) { /* the second weight of the open window */
                at[-1] |= (uint32_t)(2 * v) << 16;
                pending = 0;
            } else {
                at[0] = addr;
                at[1] = (uint16_t)(int16_t)(2 * v);
                at += 2;
                pending = addr + 4 * PIXELS;
            }
            sum += v;
        }
        if (at == count + 1 + constants) { /* no window: one of weight 0 */
            at[0] = (uint32_t)(uintptr_t)table;
            at[1] = 0;
            at += 2;
        }
        *count = (uint32_t)(at - count - 1 - constants) / 2 - 1;
        weight_sums[oc] = sum;
        if (constants) { /* 2 x bias before the windows, the others after them */
            const int32_t *const ch = channels + 4 * oc;
            count[1] = (uint32_t)ch[0];
            at[0] = (uint32_t)ch[1];
            at[1] = (uint32_t)ch[2];
            at[2] = (uint32_t)ch[3];
            at += 3;
        }
    }
    return 0;
}

/* The k_h input rows of output row oy as int16, each padded to band->wp pixels with the zero
 * point (mcc_conv2d_csr_fast_s8's band, widened so a word load brings two neighbours). */
static void csr_fill_band_wide(const mcc_conv_params *params, const mcc_dims *input_dims, const int8_t *in_batch,
                               int32_t oy, const csr_band *band, int16_t *out)
{
    const int32_t in_c = input_dims->c;
    const int32_t left = params->padding.w;
    const int16_t zero_point = (int16_t)(-params->input_offset);
    int32_t ky, i;
    for (ky = 0; ky < band->rows; ++ky, out += band->row) {
        const int32_t y = oy * params->stride.h - params->padding.h + ky * params->dilation.h;
        int32_t first = left, last = left + input_dims->w; /* band columns from the input */
        const int8_t *src;
        if (y < 0 || y >= input_dims->h) {
            for (i = 0; i < band->row; ++i) {
                out[i] = zero_point;
            }
            continue;
        }
        if (last > band->wp) {
            last = band->wp;
        }
        if (first > last) {
            first = last;
        }
        for (i = 0; i < first * in_c; ++i) {
            out[i] = zero_point;
        }
        src = in_batch + ((int64_t)y * input_dims->w + (first - left)) * in_c - first * in_c;
        for (; i + 4 <= last * in_c; i += 4) { /* four a turn: SXTB16 splits a word into even and odd */
            uint32_t v, even, odd;
            memcpy(&v, src + i, 4);
            mcc_nn_widen4(v, &even, &odd);
            v = (even & 0xFFFFu) | (odd << 16);
            memcpy(out + i, &v, 4);
            v = (odd & 0xFFFF0000u) | (even >> 16);
            memcpy(out + i + 2, &v, 4);
        }
        for (; i < last * in_c; ++i) {
            out[i] = src[i];
        }
        for (; i < band->row; ++i) {
            out[i] = zero_point;
        }
    }
}

/* The pair table of PIXELS pixels: per window position (kernel row, then span) each pixel's
 * value there and at the next position (0 after the last), one word each, so one LDM serves a
 * window for all of them. */
static void csr_fill_pairs(const int16_t *const *pixel, const csr_band *band, uint32_t *table)
{
    int32_t ky, r, p;
    for (ky = 0; ky < band->rows; ++ky) {
        const int32_t start = ky * band->row;
        r = band->span - 1;
        if (r > 0) { /* one word load per pixel (two neighbours), one STM a position */
            register uint32_t v0 __asm__("r8");
            register uint32_t v1 __asm__("r9");
            register uint32_t v2 __asm__("r10");
            register uint32_t v3 __asm__("r11");
            const int16_t *q0 = pixel[0] + start, *q1 = pixel[1] + start;
            const int16_t *q2 = pixel[2] + start, *q3 = pixel[3] + start;
            int32_t n = r;
            __asm__ volatile("1:\n\t"
                             "ldr    %[v0], [%[q0]], #2\n\t"
                             "ldr    %[v1], [%[q1]], #2\n\t"
                             "ldr    %[v2], [%[q2]], #2\n\t"
                             "ldr    %[v3], [%[q3]], #2\n\t"
                             "stmia  %[t]!, {%[v0], %[v1], %[v2], %[v3]}\n\t"
                             "subs   %[n], %[n], #1\n\t"
                             "bne    1b\n\t"
                             : [q0] "+r"(q0), [q1] "+r"(q1), [q2] "+r"(q2), [q3] "+r"(q3), [t] "+r"(table),
                               [n] "+r"(n), [v0] "=&r"(v0), [v1] "=&r"(v1), [v2] "=&r"(v2), [v3] "=&r"(v3)
                             :
                             : "cc", "memory");
        }
        for (p = 0; p < PIXELS; ++p) { /* the last position of a kernel row: the next row's first */
            const int16_t next = ky + 1 < band->rows ? pixel[p][start + band->row] : 0;
            table[p] = (uint16_t)pixel[p][start + r] | ((uint32_t)(uint16_t)next << 16);
        }
        table += PIXELS;
    }
}

/* One window: its address and weights (LDRD), the four pixels' pairs (LDM into p0..p3, ascending
 * registers), four SMLAD. */
#define CSR_PAIR_WINDOW                                                                            \
    "ldrd   %[o], %[w], [%[e]], #8\n\t"                                                            \
    "ldm    %[o], {%[p0], %[p1], %[p2], %[p3]}\n\t"                                                \
    "smlad  %[a0], %[p0], %[w], %[a0]\n\t"                                                         \
    "smlad  %[a1], %[p1], %[w], %[a1]\n\t"                                                         \
    "smlad  %[a2], %[p2], %[w], %[a2]\n\t"                                                         \
    "smlad  %[a3], %[p3], %[w], %[a3]\n\t"

/* acc[p] = sum over the n windows at e of pixel p's pair * the window's weights: an odd window
 * first, then an odd pair, then four a turn. Returns the windows' end. */
MCC_INLINE const uint32_t *csr_walk_pairs(const uint32_t *e, int32_t n, int32_t *acc)
{
    register uint32_t p0 __asm__("r8");
    register uint32_t p1 __asm__("r9");
    register uint32_t p2 __asm__("r10");
    register uint32_t p3 __asm__("r11");
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    uint32_t o, w;
    __asm__ volatile("lsrs   %[n], %[n], #1\n\t"
                     "bcc    3f\n\t" CSR_PAIR_WINDOW
                     "3:\n\t"
                     "lsrs   %[n], %[n], #1\n\t"
                     "bcc    4f\n\t" CSR_PAIR_WINDOW CSR_PAIR_WINDOW
                     "4:\n\t"
                     "cmp    %[n], #0\n\t"
                     "beq    5f\n\t"
                     "2:\n\t" CSR_PAIR_WINDOW CSR_PAIR_WINDOW CSR_PAIR_WINDOW CSR_PAIR_WINDOW
                     "subs   %[n], %[n], #1\n\t"
                     "bne    2b\n\t"
                     "5:\n\t"
                     : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [e] "+r"(e), [n] "+r"(n),
                       [o] "=&r"(o), [w] "=&r"(w), [p0] "=&r"(p0), [p1] "=&r"(p1), [p2] "=&r"(p2), [p3] "=&r"(p3)
                     :
                     : "cc", "memory");
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    return e;
}

/* What csr_group_pairs reads besides its stream (offsets fixed by its assembly). */
typedef struct {         /* one LDM into a1 a2 o w n p0 p1 */
    uint32_t lo4;      /*  0: the lower clamp in each byte */
    uint32_t hi4;      /*  4: the upper clamp in each byte */
    int8_t *out;       /*  8: the next channel's output at the group's first pixel */
    int32_t out_c;     /* 12: bytes between two pixels' outputs */
    const int8_t *end; /* 16: out past the last channel */
    int32_t out_c2;    /* 20: 2 * out_c */
    int32_t out_c3;    /* 24: 3 * out_c */
} csr_group_state;

/* One pixel's sum (a: 2 * sum + 2 * folded bias, the weights doubled and the sums started from
 * the bias) requantized as mcc_nn_fast_requantize does, saturated to int8 (o: scratch; p1..p3:
 * the channel's multiplier, round and shift). */
#define CSR_PAIR_REQUANTIZE(a)                                                                     \
    "smmlar %[o], %[" a "], %[p1], %[p2]\n\t"                                                      \
    "add    %[" a "], %[o], %[" a "], asr #31\n\t"                                                 \
    "asr    %[" a "], %[" a "], %[p3]\n\t"                                                         \
    "ssat   %[" a "], #8, %[" a "]\n\t"

/* The walk of csr_group_pairs: per channel its window count less one and its walk from the stream
 * (the first window starts the four sums from 2 x the folded bias), then its PIXELS sums
 * requantized in straight-line code, saturated to int8 in a0..a3. */
#define CSR_GROUP_WALK                                                                             \
    "1:\n\t"                                                                                        \
    "ldrd   %[n], %[a0], [%[e]], #8\n\t" /* windows - 1, 2 x bias */                                \
    "ldrd   %[o], %[w], [%[e]], #8\n\t"                                                             \
    "ldm    %[o], {%[p0], %[p1], %[p2], %[p3]}\n\t"                                                 \
    "smlad  %[a1], %[p1], %[w], %[a0]\n\t"                                                          \
    "smlad  %[a2], %[p2], %[w], %[a0]\n\t"                                                          \
    "smlad  %[a3], %[p3], %[w], %[a0]\n\t"                                                          \
    "smlad  %[a0], %[p0], %[w], %[a0]\n\t"                                                          \
    "lsrs   %[n], %[n], #1\n\t"                                                                     \
    "bcc    3f\n\t" CSR_PAIR_WINDOW                                                                 \
    "3:\n\t"                                                                                        \
    "lsrs   %[n], %[n], #1\n\t"                                                                     \
    "bcc    4f\n\t" CSR_PAIR_WINDOW CSR_PAIR_WINDOW                                                 \
    "4:\n\t"                                                                                        \
    "cbz    %[n], 5f\n\t"                                                                           \
    "2:\n\t" CSR_PAIR_WINDOW CSR_PAIR_WINDOW CSR_PAIR_WINDOW CSR_PAIR_WINDOW                        \
    "subs   %[n], %[n], #1\n\t"                                                                     \
    "bne    2b\n\t"                                                                                 \
    "5:\n\t"                                                                                        \
    "ldm    %[e]!, {%[p1], %[p2], %[p3]}\n\t"                                                       \
    CSR_PAIR_REQUANTIZE("a0") CSR_PAIR_REQUANTIZE("a1") CSR_PAIR_REQUANTIZE("a2")                   \
    CSR_PAIR_REQUANTIZE("a3")

/* The clamp to the activation's bounds: the four outputs packed into the bytes of one word and
 * clamped together (SSUB8 and SEL take the maximum, then the minimum, of four bytes at once),
 * stored out_c bytes apart; then the next channel. */
#define CSR_GROUP_CLAMP_STORE                                                                      \
    "bfi    %[a0], %[a1], #8, #8\n\t"                                                               \
    "bfi    %[a0], %[a2], #16, #8\n\t"                                                              \
    "bfi    %[a0], %[a3], #24, #8\n\t"                                                              \
    "ldm    %[st], {%[a1], %[a2], %[o], %[w], %[n], %[p0], %[p1]}\n\t"                              \
    "ssub8  %[a3], %[a0], %[a1]\n\t"                                                                \
    "sel    %[a0], %[a0], %[a1]\n\t"                                                                \
    "ssub8  %[a3], %[a2], %[a0]\n\t"                                                                \
    "sel    %[a0], %[a0], %[a2]\n\t"                                                                \
    "strb   %[a0], [%[o]]\n\t"                                                                      \
    "lsrs   %[a1], %[a0], #8\n\t"                                                                   \
    "strb   %[a1], [%[o], %[w]]\n\t"                                                                \
    "lsrs   %[a2], %[a0], #16\n\t"                                                                  \
    "strb   %[a2], [%[o], %[p0]]\n\t"                                                               \
    "lsrs   %[a3], %[a0], #24\n\t"                                                                  \
    "strb   %[a3], [%[o], %[p1]]\n\t"                                                               \
    "adds   %[o], %[o], #1\n\t"                                                                     \
    "str    %[o], [%[st], #8]\n\t"                                                                  \
    "cmp    %[o], %[n]\n\t"                                                                         \
    "bne    1b\n\t"

/* Without a clamp (the bounds are int8's, SSAT already took them): the four outputs stored as
 * they are (LDM of the state: the bounds land in o and w, unused). */
#define CSR_GROUP_STORE                                                                            \
    "ldm    %[st], {%[o], %[w], %[n], %[p0], %[p1], %[p2], %[p3]}\n\t"                             \
    "strb   %[a0], [%[n]]\n\t"                                                                     \
    "strb   %[a1], [%[n], %[p0]]\n\t"                                                              \
    "strb   %[a2], [%[n], %[p2]]\n\t"                                                              \
    "strb   %[a3], [%[n], %[p3]]\n\t"                                                              \
    "adds   %[n], %[n], #1\n\t"                                                                    \
    "str    %[n], [%[st], #8]\n\t"                                                                 \
    "cmp    %[n], %[p1]\n\t"                                                                       \
    "bne    1b\n\t"

/* PIXELS whole pixels of one output row, every channel, in one block of assembly (the state in
 * memory, so that the walk keeps all its registers): CSR_GROUP_WALK, then CSR_GROUP_CLAMP_STORE,
 * or with clamp 0 (bounds -128 and 127: ReLU with the output zero point at -128, or no
 * activation) CSR_GROUP_STORE. The clamp bounds must lie in -128..127. */
__attribute__((noinline)) static void csr_group_pairs(const uint32_t *stream, csr_group_state *state, int clamp)
{
    register int32_t a0 __asm__("r0");
    register int32_t a1 __asm__("r1");
    register int32_t a2 __asm__("r2");
    register int32_t a3 __asm__("r3");
    register uint32_t o __asm__("r4");
    register uint32_t w __asm__("r5");
    register uint32_t n __asm__("r6");
    register uint32_t p0 __asm__("r8");
    register uint32_t p1 __asm__("r9");
    register uint32_t p2 __asm__("r10");
    register uint32_t p3 __asm__("r11");
    register const uint32_t *e __asm__("r12") = stream;
    register csr_group_state *st __asm__("lr") = state;
    if (clamp) {
        __asm__ volatile(CSR_GROUP_WALK CSR_GROUP_CLAMP_STORE
                         : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [o] "=&r"(o), [w] "=&r"(w),
                           [n] "=&r"(n), [p0] "=&r"(p0), [p1] "=&r"(p1), [p2] "=&r"(p2), [p3] "=&r"(p3), [e] "+r"(e),
                           [st] "+r"(st)
                         :
                         : "cc", "memory");
    } else {
        __asm__ volatile(CSR_GROUP_WALK CSR_GROUP_STORE
                         : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [o] "=&r"(o), [w] "=&r"(w),
                           [n] "=&r"(n), [p0] "=&r"(p0), [p1] "=&r"(p1), [p2] "=&r"(p2), [p3] "=&r"(p3), [e] "+r"(e),
                           [st] "+r"(st)
                         :
                         : "cc", "memory");
    }
}
#endif

#if MCC_HAVE_MVE_ASM
/* LANES entries: their offsets and weights, then per pixel one gather of LANES activations and
 * a VMLADAVA into its accumulator. */
#define CSR_MVE_TURN                                                                               \
    "vldrh.u16   q0, [%[o]], #16\n\t"                                                               \
    "vldrb.s16   q1, [%[v]], #8\n\t"                                                                \
    "vldrb.s16   q2, [%[p0], q0]\n\t"                                                               \
    "vmladava.s16 %[a0], q2, q1\n\t"                                                                \
    "vldrb.s16   q2, [%[p1], q0]\n\t"                                                               \
    "vmladava.s16 %[a1], q2, q1\n\t"                                                                \
    "vldrb.s16   q2, [%[p2], q0]\n\t"                                                               \
    "vmladava.s16 %[a2], q2, q1\n\t"                                                                \
    "vldrb.s16   q2, [%[p3], q0]\n\t"                                                               \
    "vmladava.s16 %[a3], q2, q1\n\t"

/* acc[p] = sum over the n entries (a multiple of LANES: the padding adds 0) of pixel p's band
 * value at the entry's offset * weight: per LANES entries one load of offsets and one of
 * weights, then one gather of LANES activations and a VMLADAVA per pixel (its accumulator an
 * even register; the loads with write-back take low ones). */
MCC_INLINE void csr_walk(const uint16_t *offsets, const int8_t *values, int32_t n, const int8_t *const *pixel,
                         int32_t *acc)
{
    register int32_t a0 __asm__("r0") = 0;
    register int32_t a1 __asm__("r8") = 0;
    register int32_t a2 __asm__("r10") = 0;
    register int32_t a3 __asm__("r12") = 0;
    int32_t turns = n / LANES;
    __asm__ volatile("wls         lr, %[t], 2f\n\t"
                     "1:\n\t" CSR_MVE_TURN
                     "le          lr, 1b\n\t"
                     "2:\n\t"
                     : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [o] "+l"(offsets),
                       [v] "+l"(values)
                     : [t] "r"(turns), [p0] "r"(pixel[0]), [p1] "r"(pixel[1]), [p2] "r"(pixel[2]),
                       [p3] "r"(pixel[3])
                     : "d0", "d1", "d2", "d3", "d4", "d5", "lr", "memory");
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* PIXELS whole pixels of one output row, every channel: first each channel's walk (csr_walk's
 * loop), its PIXELS sums stored by one STM into sums (scratch), then the sums of a channel
 * loaded as one vector and requantized as its lanes with the channel constants ch (VRMULH is
 * SMMLAR without the accumulate), stored by one scatter (the pixels lie out_c bytes apart). */
__attribute__((noinline)) static void csr_group_mve(const uint16_t *offsets, const int8_t *values, const uint16_t *row_entries, int32_t out_c,
                          const int32_t *ch, int32_t lo, int32_t hi, const int8_t *const *pixel, int32_t *sums,
                          int8_t *out)
{
    const uint32x4_t at = vmulq_n_u32(vidupq_n_u32(0u, 1), (uint32_t)out_c);
    const int32x4_t lo4 = vdupq_n_s32(lo), hi4 = vdupq_n_s32(hi);
    const int8_t *const p0 = pixel[0], *const p1 = pixel[1], *const p2 = pixel[2], *const p3 = pixel[3];
    int32_t *s = sums;
    int32_t oc;
    for (oc = 0; oc < out_c; ++oc) {
        register int32_t a0 __asm__("r0") = 0;
        register int32_t a1 __asm__("r8") = 0;
        register int32_t a2 __asm__("r10") = 0;
        register int32_t a3 __asm__("r12") = 0;
        register int32_t turns __asm__("lr") = (row_entries[oc] + LANES - 1) / LANES;
        __asm__ volatile("wls         lr, lr, 2f\n\t"
                         "1:\n\t" CSR_MVE_TURN
                         "le          lr, 1b\n\t"
                         "2:\n\t"
                         "stmia       %[s]!, {%[a0], %[a1], %[a2], %[a3]}\n\t"
                         : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [o] "+l"(offsets),
                           [v] "+l"(values), [s] "+r"(s), [t] "+r"(turns)
                         : [p0] "r"(p0), [p1] "r"(p1), [p2] "r"(p2), [p3] "r"(p3)
                         : "d0", "d1", "d2", "d3", "d4", "d5", "memory");
    }
    for (oc = 0; oc < out_c; ++oc, ch += 4, ++out, sums += PIXELS) {
        const int32x4_t a = vshlq_n_s32(vldrwq_s32(sums), 1);
        const int32x4_t t = vaddq_n_s32(a, ch[0]);
        int32x4_t v = vaddq_n_s32(vrmulhq_s32(t, vdupq_n_s32(ch[1])), ch[2]);
        v = vshlq_r_s32(vaddq_s32(v, vshrq_n_s32(t, 31)), -ch[3]);
        vstrbq_scatter_offset_s32(out, at, vminq_s32(vmaxq_s32(v, lo4), hi4));
    }
}
#elif !CSR_PAIRS
/* The window table of PIXELS pixels: per window position (kernel row, then span) their int16
 * values side by side, so one 8-byte load serves all of them. */
static void csr_fill_window(const int8_t *const *pixel, const csr_band *band, int16_t *table)
{
    int32_t ky, r;
    for (ky = 0; ky < band->rows; ++ky) {
        const int32_t start = ky * band->row;
        for (r = 0; r < band->span; ++r, table += PIXELS) {
            table[0] = pixel[0][start + r];
            table[1] = pixel[1][start + r];
            table[2] = pixel[2][start + r];
            table[3] = pixel[3][start + r];
        }
    }
}

/* acc[p] = sum over the n entries of pixel p's value * weight: per entry one 8-byte load of the
 * four pixels' values and four 16 x 16 multiply-accumulates with the entry's high half (SMLABT,
 * SMLATT on a DSP core). */
static void csr_walk(const uint32_t *entries, int32_t n, const int16_t *table, int32_t *acc)
{
    const uint8_t *const base = (const uint8_t *)table;
    const uint32_t *const end = entries + n;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (; entries != end; ++entries) {
        const uint32_t v = *entries;
        const uint32_t *const xs = (const uint32_t *)(const void *)(base + (v & 0xFFFFu));
        const int32_t w = (int32_t)v >> 16;
        const uint32_t x01 = xs[0], x23 = xs[1];
        a0 += (int16_t)x01 * w;
        a1 += ((int32_t)x01 >> 16) * w;
        a2 += (int16_t)x23 * w;
        a3 += ((int32_t)x23 >> 16) * w;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}
#endif

mcc_status mcc_conv2d_csr_fast_s8(const mcc_conv_params *params, const mcc_quant *quant,
                                  const mcc_dims *input_dims, const int8_t *input,
                                  const mcc_dims *filter_dims, const mcc_csr_s8 *filter,
                                  const int32_t *bias, const int32_t *channels,
                                  const mcc_dims *output_dims, int8_t *output, void *scratch)
{
    const int32_t in_c = input_dims->c;
    const int32_t out_c = output_dims->c;
    const int32_t out_w = output_dims->w;
    const int32_t pixel_step = params->stride.w * in_c;
    csr_band band;
    int32_t *weight_sums;
    const int32_t lo = params->activation.min, hi = params->activation.max;
    int8_t *band_rows;
    int32_t b, oy, ox, oc;
#if CSR_PAIRS
    uint32_t *windows, *table;
    int16_t *wide;
    csr_group_state group;
#endif

    if (filter_dims->c != in_c || filter_dims->n != out_c || input_dims->n != output_dims->n ||
        in_c <= 0 || filter_dims->h <= 0 || filter_dims->w <= 0 || out_w <= 0 ||
        filter->entries < 0 || (filter->gap_bits != 4 && filter->gap_bits != 8) ||
        params->stride.w <= 0 || params->stride.h <= 0 || params->dilation.w <= 0 ||
        params->dilation.h <= 0 || params->input_offset < -127 || params->input_offset > 128) {
        return MCC_ERROR_ARGUMENT;
    }
    csr_band_geometry(params, filter_dims, output_dims, in_c, &band);
    /* offsets are 16-bit: into the band (MVE), into the window table (8 bytes per position) */
    if ((int64_t)band.rows * band.row > 65536 || (int64_t)2 * PIXELS * band.rows * band.span > 65536) {
        return MCC_ERROR_ARGUMENT;
    }
    weight_sums = (int32_t *)((int8_t *)scratch + csr_entry_bytes(filter->entries, out_c, &band));
    band_rows = (int8_t *)(weight_sums + out_c);
#if CSR_PAIRS /* windows, their counts, the pair table, the widened band (csr_entry_bytes) */
    (void)band_rows;
    windows = (uint32_t *)scratch;
    table = windows + 2 * filter->entries + 7 * out_c; /* the stream (csr_decode_pairs) */
    wide = (int16_t *)(void *)(table + PIXELS * band.rows * band.span);
    if (csr_decode_pairs(filter, params, filter_dims, &band, channels, table, windows, weight_sums)) {
        return MCC_ERROR_ARGUMENT;
    }
#else
    if (csr_decode(filter, params, filter_dims, &band, scratch, weight_sums)) {
        return MCC_ERROR_ARGUMENT;
    }
#endif
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in_batch = input + (int64_t)b * input_dims->h * input_dims->w * in_c;
        for (oy = 0; oy < output_dims->h; ++oy) {
            int8_t *out_row = output + ((int64_t)b * output_dims->h + oy) * out_w * out_c;
#if CSR_PAIRS
            csr_fill_band_wide(params, input_dims, in_batch, oy, &band, wide);
#else
            csr_fill_band(params, input_dims, in_batch, oy, &band, band_rows);
#endif
            for (ox = 0; ox < out_w; ox += PIXELS) {
                const int32_t pixels = out_w - ox < PIXELS ? out_w - ox : PIXELS;
#if CSR_PAIRS
                const int16_t *pixel[PIXELS];
                int16_t *const rows = wide;
                const uint32_t *walk = windows;
#else
                const int8_t *pixel[PIXELS];
                int8_t *const rows = band_rows;
#endif
                int32_t p;
#if !CSR_PAIRS
                int32_t k = 0;
#endif
                for (p = 0; p < PIXELS; ++p) { /* missing pixels read pixel 0's values */
                    pixel[p] = rows + (p < pixels ? (ox + p) * pixel_step : ox * pixel_step);
                }
#if CSR_PAIRS
                csr_fill_pairs(pixel, &band, table);
                if (channels != 0 && pixels == PIXELS && lo >= -128 && lo <= hi && hi <= 127) {
                    group.out = out_row + ox * out_c;
                    group.out_c = out_c;
                    group.lo4 = (uint32_t)(uint8_t)lo * 0x01010101u;
                    group.hi4 = (uint32_t)(uint8_t)hi * 0x01010101u;
                    group.end = group.out + out_c;
                    group.out_c2 = 2 * out_c;
                    group.out_c3 = 3 * out_c;
                    csr_group_pairs(windows, &group, lo != -128 || hi != 127);
                    continue;
                }
#elif MCC_HAVE_MVE_ASM
                if (channels != 0 && pixels == PIXELS) {
                    const int32_t padded = filter->entries + (LANES - 1) * out_c;
                    const int8_t *const values = (const int8_t *)scratch + csr_align4(2 * padded);
                    csr_group_mve((const uint16_t *)scratch, values, filter->row_entries, out_c, channels, lo, hi,
                                  pixel, (int32_t *)(void *)((int8_t *)scratch + csr_align4(2 * padded) +
                                                             csr_align4(padded)),
                                  out_row + ox * out_c);
                    continue;
                }
#else
                csr_fill_window(pixel, &band, (int16_t *)(void *)((uint32_t *)scratch + filter->entries));
#endif
                for (oc = 0; oc < out_c; ++oc) {
                    const int32_t n = filter->row_entries[oc];
                    int32_t acc[PIXELS];
                    int8_t *out = out_row + ox * out_c + oc;
#if MCC_HAVE_MVE_ASM
                    const uint16_t *const offsets = (const uint16_t *)scratch;
                    const int8_t *const values =
                        (const int8_t *)scratch +
                        csr_align4(2 * (filter->entries + (LANES - 1) * out_c));
                    const int32_t padded = (n + LANES - 1) & ~(LANES - 1);
                    csr_walk(offsets + k, values + k, padded, pixel, acc);
                    k += padded;
#elif CSR_PAIRS
                    (void)n;
                    walk = csr_walk_pairs(walk + 1 + (channels != 0), (int32_t)walk[0] + 1, acc);
                    if (channels != 0) { /* the channel's constants follow */
                        walk += 3;
                    }
                    for (p = 0; p < PIXELS; ++p) { /* the weights were doubled */
                        acc[p] = (int32_t)((uint32_t)acc[p] >> 1 | ((uint32_t)acc[p] & 0x80000000u));
                    }
#else
                    csr_walk((const uint32_t *)scratch + k, n,
                             (const int16_t *)(const void *)((const uint32_t *)scratch + filter->entries),
                             acc);
                    k += n;
#endif
                    if (channels != 0) { /* the dense fast kernels' requantization */
                        const int32_t bias2 = channels[4 * oc], mult = channels[4 * oc + 1];
                        const int32_t round = channels[4 * oc + 2], shift = channels[4 * oc + 3];
                        for (p = 0; p < pixels; ++p, out += out_c) {
                            *out = mcc_nn_fast_requantize(2 * acc[p] + bias2, mult, round, shift, lo,
                                                          hi);
                        }
                    } else {
                        const int32_t q = quant->per_channel ? oc : 0;
                        int32_t base = params->input_offset * weight_sums[oc];
                        if (bias != 0) {
                            base += bias[oc];
                        }
                        for (p = 0; p < pixels; ++p, out += out_c) {
                            *out = (int8_t)mcc_nn_requantize_output(acc[p] + base, quant, q,
                                                                    params->output_offset,
                                                                    &params->activation);
                        }
                    }
                }
            }
        }
    }
    return MCC_OK;
}

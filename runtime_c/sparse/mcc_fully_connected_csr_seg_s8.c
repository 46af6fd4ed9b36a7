/* mcc_fully_connected_csr_seg_s8 - int8 fully connected layer with sparse rows stored as
 * absolute 8-bit column offsets inside 256-column segments (mcucompress/encode/csr_seg.py).
 *
 * Per row and segment a count, then that many (offset, value) entries. Segment s starts at
 * column 256 * s, the last one at depth - 256, so every offset 0..255 lands inside the row: no
 * entry needs a bounds check and no column depends on the one before, which lets the M4 load
 * each activation with one register-offset load and the M55 gather 16 at a time. Only the
 * counts are checked (against the entries left), and for a row shorter than 256 (one segment)
 * every offset once per call, so corrupt data ends in MCC_ERROR_ARGUMENT and never in an
 * out-of-bounds read.
 *
 * When both offsets are 0 (code generation folds input_offset * row sum into the bias) the rows
 * run the lean dot products below; otherwise every product takes the offsets. */
#include "mcc.h"
#include "mcc_nn.h"

#define SEGMENT 256

/* Where a row's walk stands: the next segment count, entries, and the entries left. */
typedef struct {
    const uint16_t *counts;
    const uint8_t *offsets;
    const int8_t *values;
    int32_t left;
} seg_cursor;

#if MCC_HAVE_MVE_ASM
/* One segment: its count checked against the entries left, then a tail-predicated loop
 * (WLSTP/LETP; an empty segment skips it) of 16 entries a turn, one gather of 16 activations
 * from x and VMLADAVA; lanes past the entries read nothing. The loads' write-back overshoots
 * the segment (by the same for both pointers): the next one starts from the end taken before. */
#define SEG_MVE_SEGMENT                                                                            \
    "ldrh        %[n], [%[c]], #2\n\t"                                                             \
    "subs        %[left], %[left], %[n]\n\t"                                                       \
    "bmi         9f\n\t"                                                                           \
    "add         %[on], %[o], %[n]\n\t"                                                            \
    "wlstp.8     lr, %[n], 2f\n\t"                                                                 \
    "1:\n\t"                                                                                       \
    "vldrb.u8    q0, [%[o]], #16\n\t"                                                              \
    "vldrb.u8    q1, [%[v]], #16\n\t"                                                              \
    "vldrb.u8    q2, [%[x], q0]\n\t"                                                               \
    "vmladava.s8 %[sum], q2, q1\n\t"                                                               \
    "letp        lr, 1b\n\t"                                                                       \
    "2:\n\t"                                                                                       \
    "sub         %[n], %[on], %[o]\n\t" /* the overshoot, the same for both */                    \
    "mov         %[o], %[on]\n\t"                                                                  \
    "add         %[v], %[v], %[n]\n\t"

/* Sum of the row's products over its segments (row: the first one's start, last: the last
 * one's); -1 when a count passes the entries left. VMLADAVA takes an even register. */
MCC_INLINE int seg_row(const int8_t *row, const int8_t *last, int32_t segments, seg_cursor *at,
                   int32_t *acc)
{
    register int32_t sum __asm__("r4") = 0;
    const uint16_t *c = at->counts;
    const uint8_t *o = at->offsets;
    const int8_t *v = at->values;
    const int8_t *x = row;
    int32_t left = at->left, before = segments - 1, n;
    const uint8_t *on;
    __asm__ volatile("cmp         %[before], #0\n\t"
                     "beq         3f\n\t"
                     "4:\n\t" SEG_MVE_SEGMENT
                     "add         %[x], %[x], #256\n\t"
                     "subs        %[before], %[before], #1\n\t"
                     "bne         4b\n\t"
                     "3:\n\t"
                     "mov         %[x], %[last]\n\t" SEG_MVE_SEGMENT
                     "9:\n\t" /* a count past the entries left leaves left negative */
                     : [sum] "+r"(sum), [c] "+r"(c), [o] "+r"(o), [v] "+r"(v), [x] "+r"(x),
                       [left] "+r"(left), [before] "+r"(before), [n] "=&r"(n), [on] "=&r"(on)
                     : [last] "r"(last)
                     : "d0", "d1", "d2", "d3", "d4", "d5", "lr", "cc", "memory");
    at->counts = c;
    at->offsets = o;
    at->values = v;
    at->left = left;
    *acc = sum;
    return left < 0 ? -1 : 0;
}
#else
#if MCC_HAVE_DSP_ASM
/* Four entries: one word of values split into (v0, v2) and (v1, v3) int16 pairs (SXTB16), four
 * offsets, four activations, four 16 x 16 multiply-accumulates. */
#define SEG_QUAD                                                                                   \
    "ldr    %[w], [%[v]], #4\n\t"                                                                  \
    "ldrb   %[o0], [%[o]], #1\n\t"                                                                 \
    "ldrb   %[o1], [%[o]], #1\n\t"                                                                 \
    "ldrb   %[o2], [%[o]], #1\n\t"                                                                 \
    "ldrb   %[o3], [%[o]], #1\n\t"                                                                 \
    "ldrsb  %[o0], [%[x], %[o0]]\n\t"                                                              \
    "ldrsb  %[o1], [%[x], %[o1]]\n\t"                                                              \
    "ldrsb  %[o2], [%[x], %[o2]]\n\t"                                                              \
    "ldrsb  %[o3], [%[x], %[o3]]\n\t"                                                              \
    "sxtb16 %[wa], %[w]\n\t"                                                                       \
    "sxtb16 %[w], %[w], ror #8\n\t"                                                                \
    "smlabb %[acc], %[o0], %[wa], %[acc]\n\t"                                                      \
    "smlabt %[acc], %[o2], %[wa], %[acc]\n\t"                                                      \
    "smlabb %[acc], %[o1], %[w], %[acc]\n\t"                                                       \
    "smlabt %[acc], %[o3], %[w], %[acc]\n\t"

/* acc + sum of x[offsets[i]] * values[i] over n entries: eight a loop turn, then four, then
 * one at a time (the value words may be unaligned: ARMv7E-M loads them in one LDR). */
MCC_INLINE int32_t seg_dot(const int8_t *x, const uint8_t *offsets, const int8_t *values, int32_t n,
                           int32_t acc)
{
    int32_t w, wa, o0, o1, o2, o3;
    int32_t eights = n >> 3;
    if (eights > 0) {
        __asm__ volatile("1:\n\t" SEG_QUAD SEG_QUAD
                         "subs   %[n], %[n], #1\n\t"
                         "bne    1b\n\t"
                         : [acc] "+r"(acc), [o] "+r"(offsets), [v] "+r"(values), [n] "+r"(eights),
                           [w] "=&r"(w), [wa] "=&r"(wa), [o0] "=&r"(o0), [o1] "=&r"(o1),
                           [o2] "=&r"(o2), [o3] "=&r"(o3)
                         : [x] "r"(x)
                         : "cc", "memory");
    }
    if (n & 4) {
        __asm__ volatile(SEG_QUAD
                         : [acc] "+r"(acc), [o] "+r"(offsets), [v] "+r"(values), [w] "=&r"(w),
                           [wa] "=&r"(wa), [o0] "=&r"(o0), [o1] "=&r"(o1), [o2] "=&r"(o2),
                           [o3] "=&r"(o3)
                         : [x] "r"(x)
                         : "memory");
    }
    for (n &= 3; n > 0; --n) {
        acc += x[*offsets++] * *values++;
    }
    return acc;
}
#else
/* acc + sum of x[offsets[i]] * values[i] over n entries. */
MCC_INLINE int32_t seg_dot(const int8_t *x, const uint8_t *offsets, const int8_t *values, int32_t n,
                           int32_t acc)
{
    int32_t i;
    for (i = 0; i < n; ++i) {
        acc += x[offsets[i]] * values[i];
    }
    return acc;
}
#endif

/* Sum of the row's products over its segments (row: the first one's start, last: the last
 * one's); -1 when a count passes the entries left. */
MCC_INLINE int seg_row(const int8_t *row, const int8_t *last, int32_t segments, seg_cursor *at,
                   int32_t *acc)
{
    const uint16_t *c = at->counts;
    const uint8_t *o = at->offsets;
    const int8_t *v = at->values;
    int32_t left = at->left, s, sum = 0;
    for (s = 1; s <= segments; ++s, row += SEGMENT) {
        const int32_t n = *c++;
        if (n > left) {
            return -1;
        }
        left -= n;
        sum = seg_dot(s == segments ? last : row, o, v, n, sum);
        o += n;
        v += n;
    }
    at->counts = c;
    at->offsets = o;
    at->values = v;
    at->left = left;
    *acc = sum;
    return 0;
}
#endif

/* seg_row with both offsets: sum of (x + input_offset) * (value + filter_offset). */
static int seg_row_offsets(const int8_t *row, const int8_t *last, int32_t segments, seg_cursor *at,
                           int32_t input_offset, int32_t filter_offset, int32_t *acc)
{
    int32_t s, i, sum = 0;
    for (s = 1; s <= segments; ++s, row += SEGMENT) {
        const int32_t n = *at->counts++;
        const int8_t *const x = s == segments ? last : row;
        if (n > at->left) {
            return -1;
        }
        at->left -= n;
        for (i = 0; i < n; ++i) {
            sum += (x[at->offsets[i]] + input_offset) * (at->values[i] + filter_offset);
        }
        at->offsets += n;
        at->values += n;
    }
    *acc = sum;
    return 0;
}

mcc_status mcc_fully_connected_csr_seg_s8(const mcc_fc_params *params, const mcc_quant *quant,
                                          const mcc_dims *input_dims, const int8_t *input,
                                          const mcc_dims *filter_dims, const mcc_csr_seg_s8 *filter,
                                          const int32_t *bias, const int32_t *channels,
                                          const mcc_dims *output_dims, int8_t *output)
{
    const int32_t depth = filter_dims->c;
    const int32_t units = filter_dims->n;
    const int32_t batches = input_dims->n;
    const int32_t segments = (depth + SEGMENT - 1) / SEGMENT;
    const int folded = params->input_offset == 0 && params->filter_offset == 0;
    const int32_t lo = params->activation.min, hi = params->activation.max;
    int32_t b, u;

    if (output_dims->c != units || depth <= 0 || filter->segments != segments ||
        (int64_t)input_dims->h * input_dims->w * input_dims->c != depth || filter->entries < 0 ||
        (channels != 0 && !folded)) {
        return MCC_ERROR_ARGUMENT;
    }
    if (depth < SEGMENT) {
        int32_t k;
        for (k = 0; k < filter->entries; ++k) {
            if (filter->offsets[k] >= depth) {
                return MCC_ERROR_ARGUMENT;
            }
        }
    }
    for (b = 0; b < batches; ++b) {
        const int8_t *const row = input + (int64_t)b * depth;
        const int8_t *const last = depth > SEGMENT ? row + depth - SEGMENT : row;
        seg_cursor at;
        at.counts = filter->counts;
        at.offsets = filter->offsets;
        at.values = filter->values;
        at.left = filter->entries;
        if (channels != 0) { /* folded (checked above): the dense fast kernels' requantization */
            for (u = 0; u < units; ++u, channels += 4) {
                int32_t acc;
                if (seg_row(row, last, segments, &at, &acc)) {
                    return MCC_ERROR_ARGUMENT;
                }
                *output++ = mcc_nn_fast_requantize(2 * acc + channels[0], channels[1], channels[2],
                                                   channels[3], lo, hi);
            }
            channels -= 4 * units;
            continue;
        }
        for (u = 0; u < units; ++u) {
            int32_t acc;
            const int failed = folded ? seg_row(row, last, segments, &at, &acc)
                                      : seg_row_offsets(row, last, segments, &at, params->input_offset,
                                                        params->filter_offset, &acc);
            if (failed) {
                return MCC_ERROR_ARGUMENT;
            }
            if (bias != 0) {
                acc += bias[u];
            }
            *output++ = (int8_t)mcc_nn_requantize_output(acc, quant, quant->per_channel ? u : 0,
                                                         params->output_offset, &params->activation);
        }
    }
    return MCC_OK;
}

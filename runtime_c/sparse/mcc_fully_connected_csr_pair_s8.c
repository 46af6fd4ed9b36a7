/* mcc_fully_connected_csr_pair_s8 - int8 fully connected layer with sparse rows stored as
 * windows of two adjacent columns (mcucompress/encode/csr_pair.py).
 *
 * A window is an 8-bit offset inside a 256-column segment (the segments of csr_seg: segment s
 * at column 256 * s, the last at depth - 256) and the weights of its two columns. Each call
 * first widens the input row into int16 scratch (with the input offset added, and zeros from
 * column depth to 256), so one word load brings the two activations of a window and one SMLAD
 * (two 16 x 16 products) takes them with the window's weight pair: on a DSP core a window costs
 * about 4.3 instructions whether it holds one non-zero weight or two, where one CSR entry costs 4.
 * Every offset 0..255 of every segment lands inside the widened row (its last window column
 * included), so no offset is checked; only the counts are, against the groups left, so corrupt
 * data ends in MCC_ERROR_ARGUMENT and never in an out-of-bounds read.
 *
 * Windows come in groups of 4 (three words, word-aligned), per row and segment a count of groups:
 *   word 0: offset 0, weight 0a, offset 1, weight 0b    (a: the window's first column, b: next)
 *   word 1: offset 2, weight 2a, offset 3, weight 2b
 *   word 2: weight 1a, weight 3a, weight 1b, weight 3b
 * so SXTB16 (ROR 8) of words 0 and 1 gives windows 0 and 2 their pairs, SXTB16 of word 2 (and
 * ROR 8) windows 1 and 3. Unused windows hold offset 0 and the zero point. */
#include <string.h>

#include "mcc.h"
#include "mcc_nn.h"

#define SEGMENT 256

/* Where a row's walk stands: the next segment count, the next group, the groups left. */
typedef struct {
    const uint8_t *counts;
    const uint32_t *groups;
    int32_t left;
} pair_cursor;

#if MCC_HAVE_DSP_ASM
/* One group of 4 windows into acc. The three words come in with one LDM (a, b, c: ascending
 * registers); a window's activation pair is one word at xb + 2 * offset. */
#define PAIR_GROUP                                                                                 \
    "ldm    %[g]!, {%[a], %[b], %[c]}\n\t"                                                         \
    "uxtb   %[x0], %[a]\n\t"                                                                       \
    "uxtb   %[x1], %[a], ror #16\n\t"                                                              \
    "ldr    %[x0], [%[xb], %[x0], lsl #1]\n\t"                                                     \
    "ldr    %[x1], [%[xb], %[x1], lsl #1]\n\t"                                                     \
    "sxtb16 %[a], %[a], ror #8\n\t"                                                                \
    "smlad  %[acc], %[x0], %[a], %[acc]\n\t"                                                       \
    "uxtb   %[x0], %[b]\n\t"                                                                       \
    "uxtb   %[a], %[b], ror #16\n\t"                                                               \
    "ldr    %[x0], [%[xb], %[x0], lsl #1]\n\t"                                                     \
    "ldr    %[a], [%[xb], %[a], lsl #1]\n\t"                                                       \
    "sxtb16 %[b], %[b], ror #8\n\t"                                                                \
    "smlad  %[acc], %[x0], %[b], %[acc]\n\t"                                                       \
    "sxtb16 %[b], %[c]\n\t"                                                                        \
    "smlad  %[acc], %[x1], %[b], %[acc]\n\t"                                                       \
    "sxtb16 %[b], %[c], ror #8\n\t"                                                                \
    "smlad  %[acc], %[a], %[b], %[acc]\n\t"

/* Every row's sum of windows over its segments into sums (x: the widened row; xlast: its last
 * segment); the groups left after the walk, negative when a count passed them. Per segment its
 * count, then an odd group and turns of two; the segment base moves 256 columns a segment, to
 * xlast for the last one. The row count and the output pointer live in memory (registers are
 * all taken by the walk). */
static int32_t pair_rows_dsp(const int16_t *x, const int16_t *xlast, int32_t segments, int32_t units,
                             const uint8_t *cnt, const uint32_t *g, int32_t left, int32_t *sums)
{
    register uint32_t a __asm__("r4");
    register uint32_t b __asm__("r5");
    register uint32_t c __asm__("r6");
    const int16_t *xb;
    int32_t before, sum;
    uint32_t n, x0, x1;
    const int32_t last_index = segments - 1;
    __asm__ volatile("1:\n\t"
                     "movs   %[acc], #0\n\t"
                     "ldr    %[xb], %[x]\n\t"
                     "ldr    %[before], %[last_index]\n\t"
                     "4:\n\t"
                     "ldrb   %[n], [%[cnt]], #1\n\t"
                     "subs   %[left], %[left], %[n]\n\t"
                     "bmi    9f\n\t"
                     "lsrs   %[n], %[n], #1\n\t"
                     "bcc    3f\n\t" PAIR_GROUP
                     "3:\n\t"
                     "cmp    %[n], #0\n\t"
                     "beq    5f\n\t"
                     "2:\n\t" PAIR_GROUP PAIR_GROUP
                     "subs   %[n], %[n], #1\n\t"
                     "bne    2b\n\t"
                     "5:\n\t"
                     "subs   %[before], %[before], #1\n\t"
                     "bmi    6f\n\t"
                     "add    %[xb], %[xb], #512\n\t"
                     "bne    4b\n\t"
                     "ldr    %[xb], %[xlast]\n\t"
                     "b      4b\n\t"
                     "6:\n\t"
                     "ldr    %[n], %[sums]\n\t"
                     "str    %[acc], [%[n]], #4\n\t"
                     "str    %[n], %[sums]\n\t"
                     "ldr    %[n], %[units]\n\t"
                     "subs   %[n], %[n], #1\n\t"
                     "str    %[n], %[units]\n\t"
                     "bne    1b\n\t"
                     "9:\n\t"
                     : [acc] "=&r"(sum), [g] "+r"(g), [cnt] "+r"(cnt), [left] "+r"(left), [before] "=&r"(before),
                       [xb] "=&r"(xb), [n] "=&r"(n), [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c), [x0] "=&r"(x0),
                       [x1] "=&r"(x1), [sums] "+m"(sums), [units] "+m"(units)
                     : [x] "m"(x), [xlast] "m"(xlast), [last_index] "m"(last_index)
                     : "cc", "memory");
    return left;
}
#endif

/* acc + the products of n groups at g against the widened segment x, with the filter offset
 * added to every weight (windows' unused columns hold the zero point: they add nothing). */
static int32_t pair_dot_portable(const int16_t *x, const uint32_t *g, int32_t n, int32_t filter_offset,
                                 int32_t acc)
{
    for (; n > 0; --n, g += 3) {
        const uint32_t w0 = g[0], w1 = g[1], w2 = g[2];
        const int32_t o[4] = {(int32_t)(w0 & 0xFFu), (int32_t)((w0 >> 16) & 0xFFu), (int32_t)(w1 & 0xFFu),
                              (int32_t)((w1 >> 16) & 0xFFu)};
        const int32_t va[4] = {(int8_t)(w0 >> 8), (int8_t)w2, (int8_t)(w1 >> 8), (int8_t)(w2 >> 8)};
        const int32_t vb[4] = {(int8_t)(w0 >> 24), (int8_t)(w2 >> 16), (int8_t)(w1 >> 24), (int8_t)(w2 >> 24)};
        int32_t k;
        for (k = 0; k < 4; ++k) {
            acc += x[o[k]] * (va[k] + filter_offset) + x[o[k] + 1] * (vb[k] + filter_offset);
        }
    }
    return acc;
}

/* Sum of one row's windows over its segments (x: the widened row; last: the last segment's
 * start); -1 when a count passes the groups left. */
static int pair_row(const int16_t *x, int32_t last, int32_t segments, pair_cursor *at, int32_t filter_offset,
                    int32_t *acc)
{
    int32_t s, sum = 0;
    for (s = 1; s <= segments; ++s) {
        const int32_t n = *at->counts++;
        const int16_t *const seg = x + (s == segments ? last : SEGMENT * (s - 1));
        if (n > at->left) {
            return -1;
        }
        if (n == 0) {
            continue;
        }
        at->left -= n;
        sum = pair_dot_portable(seg, at->groups, n, filter_offset, sum);
        at->groups += 3 * n;
    }
    *acc = sum;
    return 0;
}

/* Words of the widened row: at least 256 columns and the one past the row, as int16. */
static int32_t widened_words(int32_t depth)
{
    return ((depth > SEGMENT ? depth : SEGMENT) + 2) / 2;
}

int32_t mcc_fully_connected_csr_pair_s8_get_buffer_size(int32_t depth, int32_t units)
{
    return 4 * (widened_words(depth) + units);
}

/* The input row plus input_offset as int16 into x, zeros up to the end of the scratch. */
static void widen_row(const int8_t *row, int32_t depth, int32_t input_offset, int16_t *x)
{
    const int32_t slots = (depth > SEGMENT ? depth : SEGMENT) + 1;
    int32_t i = 0;
    if (input_offset == 0) { /* four a turn: SXTB16 splits a word into its even and odd values */
        uint32_t *const out = (uint32_t *)(void *)x;
        for (; i + 4 <= depth; i += 4) {
            uint32_t v, even, odd;
            memcpy(&v, row + i, 4);
            mcc_nn_widen4(v, &even, &odd);
            out[i / 2] = (even & 0xFFFFu) | (odd << 16);
            out[i / 2 + 1] = (odd & 0xFFFF0000u) | (even >> 16);
        }
    }
    for (; i < depth; ++i) {
        x[i] = (int16_t)(row[i] + input_offset);
    }
    for (; i < slots; ++i) {
        x[i] = 0;
    }
}

mcc_status mcc_fully_connected_csr_pair_s8(const mcc_fc_params *params, const mcc_quant *quant,
                                           const mcc_dims *input_dims, const int8_t *input,
                                           const mcc_dims *filter_dims, const mcc_csr_pair_s8 *filter,
                                           const int32_t *bias, const int32_t *channels,
                                           const mcc_dims *output_dims, int8_t *output, void *scratch)
{
    const int32_t depth = filter_dims->c;
    const int32_t units = filter_dims->n;
    const int32_t batches = input_dims->n;
    const int32_t segments = (depth + SEGMENT - 1) / SEGMENT;
    const int32_t last = depth > SEGMENT ? depth - SEGMENT : 0;
    const int32_t lo = params->activation.min, hi = params->activation.max;
    int16_t *const x = (int16_t *)scratch;
    int32_t *const sums = (int32_t *)scratch + widened_words(depth);
    int32_t b, u;

    if (output_dims->c != units || depth <= 0 || units <= 0 || filter->segments != segments || scratch == 0 ||
        (int64_t)input_dims->h * input_dims->w * input_dims->c != depth || filter->groups_count < 0 ||
        (channels != 0 && (params->input_offset != 0 || params->filter_offset != 0))) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < batches; ++b) {
        widen_row(input + (int64_t)b * depth, depth, params->input_offset, x);
#if MCC_HAVE_DSP_ASM
        if (params->filter_offset == 0) {
            if (pair_rows_dsp(x, x + last, segments, units, filter->counts, filter->groups, filter->groups_count,
                              sums) < 0) {
                return MCC_ERROR_ARGUMENT;
            }
        } else
#endif
        {
            pair_cursor at;
            at.counts = filter->counts;
            at.groups = filter->groups;
            at.left = filter->groups_count;
            for (u = 0; u < units; ++u) {
                if (pair_row(x, last, segments, &at, params->filter_offset, &sums[u])) {
                    return MCC_ERROR_ARGUMENT;
                }
            }
        }
        if (channels != 0) { /* the dense fast kernels' requantization (offsets 0, checked above) */
            const int32_t *ch = channels;
            for (u = 0; u < units; ++u, ch += 4) {
                *output++ = mcc_nn_fast_requantize(2 * sums[u] + ch[0], ch[1], ch[2], ch[3], lo, hi);
            }
            continue;
        }
        for (u = 0; u < units; ++u) {
            const int32_t acc = sums[u] + (bias != 0 ? bias[u] : 0);
            *output++ = (int8_t)mcc_nn_requantize_output(acc, quant, quant->per_channel ? u : 0,
                                                         params->output_offset, &params->activation);
        }
    }
    return MCC_OK;
}

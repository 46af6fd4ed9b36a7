/* mcc_fully_connected_vertical_b1 - binary fully connected layer with sign output, counted
 * "vertically": 32 output channels at a time, as bit-sliced counters.
 *
 * The rows' dot products share one input vector a, so instead of a popcount per (row, word) the
 * kernel lists once the positions i where a holds its rarer value (at most n / 2 of them) and,
 * for each group of 32 rows, adds up the column words col[i] (bit r = weight bit of row 32g + r
 * at input i) in carry-save adders: 16 column words cost 15 adders and one ripple into the
 * higher bit planes. With S = the number of listed positions where a row's weight bit is 1:
 *   listing the 1s of a:  agreements on +1 inputs  A = S
 *   listing the 0s of a:  A = row_ones[u] - S
 *   mismatches = ones(a) + row_ones[u] - 2 A,  dot = n - 2 mismatches,  bit = dot >= threshold[u],
 * the same integers as mcc_fully_connected_b1. Needs n <= MCC_B1_VERTICAL_MAX_BITS (the list of
 * n / 2 positions lives on the stack, MCC_B1_VERTICAL_MAX_BITS bytes). */
#include "mcc.h"
#include "mcc_b1.h"

/* Bit-sliced counter planes above the eights (weights 16, 32, ...): counts up to
 * MCC_B1_VERTICAL_MAX_BITS / 2. */
#define MCC_B1_HIGH_PLANES 8

/* Adds the vector c (weight 16) into the high planes; returns how many planes are in use. */
MCC_INLINE int32_t mcc_b1_ripple(uint32_t *planes, uint32_t c, int32_t top)
{
    int32_t j;
    for (j = 0; c != 0u && j < MCC_B1_HIGH_PLANES; ++j) {
        const uint32_t carry = planes[j] & c;
        planes[j] ^= c;
        c = carry;
    }
    return j > top ? j : top;
}

/* Eight columns into the ones, twos and fours; returns their carry of weight 8. */
#define MCC_B1_CSA8(eights, at)                                             \
    do {                                                                    \
        uint32_t twos_a_, twos_b_, fours_a_, fours_b_;                      \
        MCC_B1_CSA(twos_a_, ones, ones, col[(at)[0]], col[(at)[1]]);        \
        MCC_B1_CSA(twos_b_, ones, ones, col[(at)[2]], col[(at)[3]]);        \
        MCC_B1_CSA(fours_a_, twos, twos, twos_a_, twos_b_);                 \
        MCC_B1_CSA(twos_a_, ones, ones, col[(at)[4]], col[(at)[5]]);        \
        MCC_B1_CSA(twos_b_, ones, ones, col[(at)[6]], col[(at)[7]]);        \
        MCC_B1_CSA(fours_b_, twos, twos, twos_a_, twos_b_);                 \
        MCC_B1_CSA(eights, fours, fours, fours_a_, fours_b_);               \
    } while (0)

mcc_status mcc_fully_connected_vertical_b1(const mcc_fc_b1_params *params, const int8_t *input,
                                           const mcc_dims *filter_dims, const uint32_t *columns,
                                           const int32_t *row_ones, const int32_t *threshold,
                                           int8_t *output)
{
    const int32_t n = params->in_bits;
    const int32_t units = filter_dims->n;
    const int32_t words = (n + 31) / 32;
    uint16_t index[MCC_B1_VERTICAL_MAX_BITS / 2];
    int32_t count = 0, ones_a = 0, list_zeros, k, g;

    if (n < 1 || n > MCC_B1_VERTICAL_MAX_BITS || units < 1 || filter_dims->c != n ||
        params->words < words) {
        return MCC_ERROR_ARGUMENT;
    }
    for (k = 0; k < words; ++k) {
        ones_a += mcc_b1_popcount_swar(mcc_b1_load(input + 4 * k));  /* padding bits are 0 */
    }
    list_zeros = 2 * ones_a > n;
    for (k = 0; k < words; ++k) {
        const uint32_t valid = n - 32 * k >= 32 ? 0xFFFFFFFFu : ((uint32_t)1 << (n - 32 * k)) - 1u;
        uint32_t x = mcc_b1_load(input + 4 * k);
        x = (list_zeros ? ~x : x) & valid;
        while (x != 0u) {
            index[count++] = (uint16_t)(32 * k + mcc_b1_lowest_bit(x));
            x &= x - 1u;
        }
    }
    for (g = 0; 32 * g < units; ++g) {
        const uint32_t *col = columns + (int32_t)g * n;
        uint32_t ones = 0, twos = 0, fours = 0, eights = 0, out_word = 0, carry;
        uint32_t high[MCC_B1_HIGH_PLANES] = {0};
        int32_t top = 0, i = 0, r, j;
        for (; i + 16 <= count; i += 16) { /* 16 columns: 15 adders, one ripple */
            uint32_t eights_a, eights_b, sixteens;
            MCC_B1_CSA8(eights_a, index + i);
            MCC_B1_CSA8(eights_b, index + i + 8);
            MCC_B1_CSA(sixteens, eights, eights, eights_a, eights_b);
            top = mcc_b1_ripple(high, sixteens, top);
        }
        for (; i < count; ++i) { /* the last < 16 columns, one half-adder chain each */
            uint32_t c = col[index[i]];
            carry = ones & c; ones ^= c; c = carry;
            carry = twos & c; twos ^= c; c = carry;
            carry = fours & c; fours ^= c; c = carry;
            carry = eights & c; eights ^= c;
            top = mcc_b1_ripple(high, carry, top);
        }
        for (r = 0; r < 32 && 32 * g + r < units; ++r) {
            const int32_t u = 32 * g + r;
            int32_t s = (int32_t)((ones >> r) & 1u) + (int32_t)(((twos >> r) & 1u) << 1) +
                        (int32_t)(((fours >> r) & 1u) << 2) + (int32_t)(((eights >> r) & 1u) << 3);
            int32_t agree, dot;
            for (j = 0; j < top; ++j) {
                s += (int32_t)(((high[j] >> r) & 1u) << (j + 4));
            }
            agree = list_zeros ? row_ones[u] - s : s;
            dot = n - 2 * (ones_a + row_ones[u] - 2 * agree);
            out_word |= (uint32_t)(dot >= threshold[u]) << r;
        }
        mcc_b1_store(output + 4 * g, out_word);
    }
    return MCC_OK;
}

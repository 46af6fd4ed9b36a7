/* mcc_fully_connected_vertical_b1 - binary fully connected layer with sign output, counted
 * "vertically": 32 output channels at a time, as bit-sliced counters.
 *
 * The rows' dot products share one input vector a, so instead of a popcount per (row, word) the
 * kernel lists once the positions i where a holds its rarer value (at most n / 2 of them) and,
 * for each group of 32 rows, adds up the column words col[i] (bit r = weight bit of row 32g + r
 * at input i) in carry-save adders: 16 column words cost 15 adders and one ripple into the
 * higher bit planes. The count S is then finished lane-parallel, in bit-sliced arithmetic:
 *   agree = S (listing the 1s of a) or row_ones - S (listing the 0s): 1s of a meeting 1s of w
 *   dot = n - 2 (ones(a) + row_ones - 2 agree) >= threshold
 *   <=>  4 agree + 2n - 2 ones(a)  >=  threshold + n + 2 row_ones  (= Y, clamped at export)
 * so the same integers as mcc_fully_connected_b1 decide each output bit. Needs
 * n <= MCC_B1_VERTICAL_MAX_BITS (the list of n / 2 positions lives on the stack). */
#include "mcc.h"
#include "mcc_b1.h"

/* Bit-sliced counter planes above the eights (weights 16, 32, ...): counts up to
 * MCC_B1_VERTICAL_MAX_BITS / 2. */
#define MCC_B1_HIGH_PLANES 8

/* Adds the vector c (weight 16) into the high planes. */
MCC_INLINE void mcc_b1_ripple(uint32_t *planes, uint32_t c)
{
    int32_t j;
    for (j = 0; c != 0u && j < MCC_B1_HIGH_PLANES; ++j) {
        const uint32_t carry = planes[j] & c;
        planes[j] ^= c;
        c = carry;
    }
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

/* Planes of the lane-parallel numbers: 6n + 1 < 2^14 for n <= 1024. */
#define MCC_B1_LANE_PLANES 14

mcc_status mcc_fully_connected_vertical_b1(const mcc_fc_b1_params *params, const int8_t *input,
                                           const mcc_dims *filter_dims, const uint32_t *columns,
                                           const uint32_t *lane_planes, int8_t *output)
{
    const int32_t n = params->in_bits;
    const int32_t units = filter_dims->n;
    const int32_t words = (n + 31) / 32;
    uint16_t index[MCC_B1_VERTICAL_MAX_BITS / 2];
    int32_t count = 0, ones_a = 0, list_zeros, k, g;
    uint32_t bias;

    if (n < 1 || n > MCC_B1_VERTICAL_MAX_BITS || units < 1 || filter_dims->c != n ||
        params->words < words) {
        return MCC_ERROR_ARGUMENT;
    }
    for (k = 0; k < words; ++k) {
        ones_a += mcc_b1_popcount_swar(mcc_b1_load(input + 4 * k));  /* padding bits are 0 */
    }
    list_zeros = 2 * ones_a > n;
    bias = (uint32_t)(2 * n - 2 * ones_a);
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
        const uint32_t *y = lane_planes + (int32_t)g * 2 * MCC_B1_LANE_PLANES; /* Y, then row_ones */
        const uint32_t *row_ones = y + MCC_B1_LANE_PLANES;
        uint32_t ones = 0, twos = 0, fours = 0, eights = 0, carry, borrow = 0, greater = 0;
        uint32_t equal = 0xFFFFFFFFu;
        uint32_t high[MCC_B1_HIGH_PLANES] = {0};
        uint32_t number[MCC_B1_LANE_PLANES];
        int32_t i = 0, p;
        for (; i + 16 <= count; i += 16) { /* 16 columns: 15 adders, one ripple */
            uint32_t eights_a, eights_b, sixteens;
            MCC_B1_CSA8(eights_a, index + i);
            MCC_B1_CSA8(eights_b, index + i + 8);
            MCC_B1_CSA(sixteens, eights, eights, eights_a, eights_b);
            mcc_b1_ripple(high, sixteens);
        }
        for (; i < count; ++i) { /* the last < 16 columns, one half-adder chain each */
            uint32_t c = col[index[i]];
            carry = ones & c; ones ^= c; c = carry;
            carry = twos & c; twos ^= c; c = carry;
            carry = fours & c; fours ^= c; c = carry;
            carry = eights & c; eights ^= c;
            mcc_b1_ripple(high, carry);
        }
        /* number = agree, bit-sliced: S, or row_ones - S (no borrow out: S <= row_ones). */
        number[0] = ones;
        number[1] = twos;
        number[2] = fours;
        number[3] = eights;
        for (p = 0; p < MCC_B1_HIGH_PLANES; ++p) {
            number[4 + p] = high[p];
        }
        for (p = 4 + MCC_B1_HIGH_PLANES; p < MCC_B1_LANE_PLANES; ++p) {
            number[p] = 0;
        }
        for (p = 0; p < MCC_B1_LANE_PLANES; ++p) {
            const uint32_t s = number[p];
            if (list_zeros) {
                const uint32_t w = row_ones[p];
                number[p] = w ^ s ^ borrow;
                borrow = (~w & (s | borrow)) | (w & s & borrow);
            } else {
                number[p] = s;
            }
        }
        /* number = 4 agree + bias (bias the same for every lane), then compare with Y from the top. */
        carry = 0;
        for (p = MCC_B1_LANE_PLANES - 1; p >= 2; --p) {
            number[p] = number[p - 2];
        }
        number[1] = number[0] = 0;
        for (p = 0; p < MCC_B1_LANE_PLANES; ++p) {
            const uint32_t d = ((bias >> p) & 1u) ? 0xFFFFFFFFu : 0u;
            const uint32_t a = number[p];
            number[p] = a ^ d ^ carry;
            carry = (a & d) | (carry & (a ^ d));
        }
        for (p = MCC_B1_LANE_PLANES - 1; p >= 0; --p) {
            greater |= equal & number[p] & ~y[p];
            equal &= ~(number[p] ^ y[p]);
        }
        mcc_b1_store(output + 4 * g, (greater | equal) &
                     (units - 32 * g >= 32 ? 0xFFFFFFFFu : ((uint32_t)1 << (units - 32 * g)) - 1u));
    }
    return MCC_OK;
}

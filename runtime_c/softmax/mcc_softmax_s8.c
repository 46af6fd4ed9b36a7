/* mcc_softmax_s8 - int8 softmax in gemmlowp fixed point (TFLite reference integer Softmax).
 *
 * Differences to the row maximum are scaled to Q5.26, exponentiated to Q0.31, summed in Q12.19,
 * and the sum's reciprocal found by Newton-Raphson; the output has scale 1/256, zero point -128.
 */
#include "mcc.h"
#include "mcc_nn.h"

#define MCC_SOFTMAX_DIFF_INT_BITS 5
#define MCC_SOFTMAX_ACCUM_INT_BITS 12

/* Fixed-point product of two Q0.31 values (also any Qm x Qn -> Q(m+n)). */
#define MCC_FX_MUL(a, b) mcc_nn_doubling_high_mul((a), (b))

/* exp(a) for a in [-1/4, 0), a and the result in Q0.31: Taylor series around -1/8. */
static int32_t mcc_nn_exp_quarter(int32_t a)
{
    const int32_t exp_minus_one_eighth = 1895147668;
    const int32_t one_third = 715827883;
    const int32_t x = a + (1 << 28);
    const int32_t x2 = MCC_FX_MUL(x, x);
    const int32_t x3 = MCC_FX_MUL(x2, x);
    const int32_t x4 = MCC_FX_MUL(x2, x2);
    const int32_t x4_over_4 = mcc_nn_divide_by_pot(x4, 2);
    const int32_t poly = mcc_nn_divide_by_pot(MCC_FX_MUL(x4_over_4 + x3, one_third) + x2, 1);
    return exp_minus_one_eighth + MCC_FX_MUL(exp_minus_one_eighth, x + poly);
}

/* exp(a) for a <= 0 given in Q5.26; result in Q0.31 (gemmlowp exp_on_negative_values). */
static int32_t mcc_nn_exp_negative(int32_t a)
{
    /* exp(-2^k) in Q0.31 for k = -2 .. 4, applied for each set bit of the remainder. */
    static const int32_t factors[7] = {1672461947, 1302514674, 790015084, 290630308,
                                       39332535,   720401,     242};
    const int32_t frac_bits = 31 - MCC_SOFTMAX_DIFF_INT_BITS;
    const int32_t one_quarter = 1 << (frac_bits - 2);
    const int32_t a_mod_quarter_minus_quarter = (a & (one_quarter - 1)) - one_quarter;
    const int32_t remainder = a_mod_quarter_minus_quarter - a;
    int32_t result = mcc_nn_exp_quarter(
        mcc_nn_saturating_shift_left(a_mod_quarter_minus_quarter, MCC_SOFTMAX_DIFF_INT_BITS));
    int32_t k;
    for (k = 0; k < 7; ++k) {
        if (remainder & (1 << (frac_bits - 2 + k))) {
            result = MCC_FX_MUL(result, factors[k]);
        }
    }
    return a == 0 ? MCC_NN_INT32_MAX : result;
}

/* 1 / (1 + x) for x in [0, 1) in Q0.31, by three Newton-Raphson steps in Q2.29. */
static int32_t mcc_nn_one_over_one_plus_x(int32_t x)
{
    const int64_t sum = (int64_t)x + MCC_NN_INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    const int32_t c48_over_17 = 1515870810;
    const int32_t cneg32_over_17 = -1010580540;
    const int32_t one_q2 = 1 << 29;
    int32_t estimate = c48_over_17 + MCC_FX_MUL(half_denominator, cneg32_over_17);
    int32_t i;
    for (i = 0; i < 3; ++i) {
        const int32_t product = MCC_FX_MUL(half_denominator, estimate);
        const int32_t error = one_q2 - product;
        estimate = estimate + mcc_nn_saturating_shift_left(MCC_FX_MUL(estimate, error), 2);
    }
    /* Halve (Q2.29 -> Q1.30 with the same bits), then rescale to Q0.31. */
    return mcc_nn_saturating_shift_left(estimate, 1);
}

static int32_t mcc_nn_count_leading_zeros(uint32_t x)
{
    int32_t n = 0;
    if (x == 0) {
        return 32;
    }
    while ((x & 0x80000000u) == 0) {
        x <<= 1;
        ++n;
    }
    return n;
}

/* Input differences scaled by beta into Q5.26 (TFLite MultiplyByQuantizedMultiplierGreaterThanOne). */
static int32_t mcc_nn_scale_diff(int32_t diff, const mcc_softmax_params *params)
{
    return mcc_nn_doubling_high_mul(diff * (1 << params->input_left_shift),
                                    params->input_multiplier);
}

mcc_status mcc_softmax_s8(const mcc_softmax_params *params, const int8_t *input,
                          int32_t rows, int32_t depth, int8_t *output)
{
    int32_t r, c;
    for (r = 0; r < rows; ++r) {
        const int8_t *in_row = input + (int64_t)r * depth;
        int8_t *out_row = output + (int64_t)r * depth;
        const int32_t max_value = mcc_nn_row_max(in_row, depth);
        int32_t sum = 0;
        int32_t headroom;
        int32_t bits_over_unit;
        int32_t reciprocal;
        for (c = 0; c < depth; ++c) {
            const int32_t diff = in_row[c] - max_value;
            if (diff >= params->diff_min) {
                const int32_t e = mcc_nn_exp_negative(mcc_nn_scale_diff(diff, params));
                sum += mcc_nn_divide_by_pot(e, MCC_SOFTMAX_ACCUM_INT_BITS);
            }
        }
        headroom = mcc_nn_count_leading_zeros((uint32_t)sum);
        bits_over_unit = MCC_SOFTMAX_ACCUM_INT_BITS - headroom;
        reciprocal = mcc_nn_one_over_one_plus_x(
            (int32_t)(((uint32_t)sum << headroom) - 0x80000000u));
        for (c = 0; c < depth; ++c) {
            const int32_t diff = in_row[c] - max_value;
            if (diff >= params->diff_min) {
                const int32_t e = mcc_nn_exp_negative(mcc_nn_scale_diff(diff, params));
                const int32_t unsat = mcc_nn_divide_by_pot(MCC_FX_MUL(reciprocal, e),
                                                           bits_over_unit + 31 - 8);
                out_row[c] = (int8_t)mcc_nn_clamp(unsat - 128, -128, 127);
            } else {
                out_row[c] = -128;
            }
        }
    }
    return MCC_OK;
}

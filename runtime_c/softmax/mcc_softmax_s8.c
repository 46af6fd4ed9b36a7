/* mcc_softmax_s8 - int8 softmax in gemmlowp fixed point (TFLite reference integer Softmax).
 *
 * Differences to the row maximum are scaled to Q5.26, exponentiated to Q0.31, summed in Q12.19,
 * and the sum's reciprocal found by Newton-Raphson; the output has scale 1/256, zero point -128.
 * MVE cores run each row four classes a pass, in the same fixed point lane by lane.
 */
#include "mcc.h"
#include "mcc_nn.h"

#if MCC_HAVE_MVE
#include <arm_mve.h>
#endif

#define MCC_SOFTMAX_DIFF_INT_BITS 5
#define MCC_SOFTMAX_ACCUM_INT_BITS 12

/* exp(-2^k) in Q0.31 for k = -2 .. 4, applied for each set bit of the remainder. */
#define MCC_SOFTMAX_EXP_FACTORS {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242}
#if MCC_HAVE_MVE
static const int32_t mcc_softmax_exp_factors[7] = MCC_SOFTMAX_EXP_FACTORS;
#endif

/* Fixed-point product of two Q0.31 values (also any Qm x Qn -> Q(m+n)). */
#define MCC_FX_MUL(a, b) mcc_nn_doubling_high_mul((a), (b))

/* exp(-1/8) in Q0.31: the centre of the exp's Taylor series (scalar and MVE rows). */
#define MCC_SOFTMAX_EXP_MINUS_ONE_EIGHTH 1895147668

/* exp(a) for a in [-1/4, 0), a and the result in Q0.31: Taylor series around -1/8. */
static int32_t mcc_nn_exp_quarter(int32_t a)
{
    const int32_t exp_minus_one_eighth = MCC_SOFTMAX_EXP_MINUS_ONE_EIGHTH;
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
#if MCC_HAVE_MVE
    const int32_t *factors = mcc_softmax_exp_factors;
#else
    static const int32_t factors[7] = MCC_SOFTMAX_EXP_FACTORS;
#endif
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

#if MCC_HAVE_MVE
/* The same fixed point four lanes at a time. VQRDMULH is gemmlowp's SaturatingRoundingDoublingHighMul
 * exactly: both round the doubled product's high half to nearest, and where they could differ (a
 * negative product at exactly half a unit) gemmlowp's nudge 1 - 2^30 truncated toward zero and
 * VQRDMULH's 2^30 floored give the same value; both saturate only INT32_MIN squared. */

/* RoundingDivideByPOT for exponent 1..31 of a value that is never negative here (the exp's
 * polynomial terms x^4 / 4 and x^4 / 12 + x^3 / 3 + x^2 for |x| <= 1/8, checked over every
 * input of the quarter's range; the exps; their products with the positive reciprocal): VRSHL rounds halves up, which for such values is
 * gemmlowp's rounding away from zero. */
static int32x4_t mcc_softmax_divide_by_pot_q(int32x4_t x, int32_t exponent)
{
    return vrshlq_n_s32(x, -exponent);
}

static int32x4_t mcc_softmax_exp_quarter_q(int32x4_t a)
{
    const int32_t exp_minus_one_eighth = MCC_SOFTMAX_EXP_MINUS_ONE_EIGHTH;
    const int32x4_t x = vaddq_n_s32(a, 1 << 28);
    const int32x4_t x2 = vqrdmulhq_s32(x, x);
    const int32x4_t x3 = vqrdmulhq_s32(x2, x);
    const int32x4_t x4_over_4 = mcc_softmax_divide_by_pot_q(vqrdmulhq_s32(x2, x2), 2);
    const int32x4_t poly = mcc_softmax_divide_by_pot_q(
        vaddq_s32(vqrdmulhq_n_s32(vaddq_s32(x4_over_4, x3), 715827883), x2), 1);
    return vaddq_n_s32(vqrdmulhq_n_s32(vaddq_s32(x, poly), exp_minus_one_eighth), exp_minus_one_eighth);
}

/* exp of each input lane's difference to the row maximum (mcc_nn_scale_diff, then
 * mcc_nn_exp_negative), each remainder bit's factor applied under a predicate. */
#if defined(__GNUC__)
__attribute__((noinline)) /* one copy for both sweeps: code size over a call a pass */
#endif
static int32x4_t mcc_softmax_exp_q(int32x4_t diff, const mcc_softmax_params *params)
{
    const int32_t frac_bits = 31 - MCC_SOFTMAX_DIFF_INT_BITS;
    const int32_t one_quarter = 1 << (frac_bits - 2);
    const int32x4_t a = vqrdmulhq_n_s32(vmulq_n_s32(diff, 1 << params->input_left_shift),
                                        params->input_multiplier);
    const int32x4_t a_mod_quarter_minus_quarter =
        vsubq_s32(vandq_s32(a, vdupq_n_s32(one_quarter - 1)), vdupq_n_s32(one_quarter));
    const int32x4_t remainder = vsubq_s32(a_mod_quarter_minus_quarter, a);
    int32x4_t result = mcc_softmax_exp_quarter_q(vqshlq_n_s32(a_mod_quarter_minus_quarter, MCC_SOFTMAX_DIFF_INT_BITS));
    int32_t k;
    for (k = 0; k < 7; ++k) {
        const mve_pred16_t set = vcmpneq_n_s32(vandq_s32(remainder, vdupq_n_s32(1 << (frac_bits - 2 + k))), 0);
        result = vpselq_s32(vqrdmulhq_n_s32(result, mcc_softmax_exp_factors[k]), result, set);
    }
    return vpselq_s32(vdupq_n_s32(MCC_NN_INT32_MAX), result, vcmpeqq_n_s32(a, 0));
}

/* One row, four classes a pass (the last pass predicated), when the output's shift is 1..31
 * (else 0: the scalar code does the row). Both sweeps over the row, the sum's and the outputs',
 * share one exp's code. */
static int mcc_softmax_row_q(const mcc_softmax_params *params, const int8_t *in_row, int32_t depth,
                             int32_t max_value, int8_t *out_row)
{
    int32_t sum = 0, exponent = 0, reciprocal = 0, sweep, c;
    for (sweep = 0; sweep < 2; ++sweep) {
        for (c = 0; c < depth; c += 4) {
            const mve_pred16_t p = vctp32q((uint32_t)(depth - c));
            const int32x4_t diff = vsubq_n_s32(vldrbq_z_s32(in_row + c, p), max_value);
            const mve_pred16_t valid = vcmpgeq_m_n_s32(diff, params->diff_min, p);
            const int32x4_t e = mcc_softmax_exp_q(diff, params);
            if (sweep == 0) {
                sum += vaddvq_p_s32(mcc_softmax_divide_by_pot_q(e, MCC_SOFTMAX_ACCUM_INT_BITS), valid);
            } else {
                int32x4_t out = mcc_softmax_divide_by_pot_q(vqrdmulhq_n_s32(e, reciprocal), exponent);
                out = vmaxq_s32(vminq_s32(vsubq_n_s32(out, 128), vdupq_n_s32(127)), vdupq_n_s32(-128));
                vstrbq_p_s32(out_row + c, vpselq_s32(out, vdupq_n_s32(-128), valid), p);
            }
        }
        if (sweep == 0) {
            const int32_t headroom = mcc_nn_count_leading_zeros((uint32_t)sum);
            exponent = MCC_SOFTMAX_ACCUM_INT_BITS - headroom + 31 - 8;
            if (exponent < 1 || exponent > 31) {
                return 0;
            }
            reciprocal = mcc_nn_one_over_one_plus_x((int32_t)(((uint32_t)sum << headroom) - 0x80000000u));
        }
    }
    return 1;
}
#endif

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
#if MCC_HAVE_MVE
        if (mcc_softmax_row_q(params, in_row, depth, max_value, out_row)) {
            continue;
        }
#endif
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

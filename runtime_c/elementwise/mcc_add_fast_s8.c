/* mcc_add_fast_s8 - int8 element-wise add (TFLite integer Add, same shapes) through two
 * 256-entry tables: the rescaled value of an input depends only on its int8 value, so each
 * input's 256 rescaled values are computed once per call (exact by construction) and every
 * element then costs two table reads and one requantization of the sum. Worth it when size is
 * well above 512; the exporter chooses it then.
 *
 * The tables are indexed by the input byte read unsigned (entry u holds the value for
 * (int8_t)u). On DSP and MVE cores, when the sum's requantization is exact as a rounding high
 * multiply (see below), the entries are stored doubled.
 *
 * scratch: mcc_add_fast_s8_get_buffer_size() bytes, word aligned.
 */
#include "mcc.h"
#include "mcc_nn.h"

#if MCC_HAVE_DSP
#include <arm_acle.h>
#endif
#if MCC_HAVE_MVE
#include <arm_mve.h>
#endif

int32_t mcc_add_fast_s8_get_buffer_size(void)
{
    return 2 * 256 * (int32_t)sizeof(int32_t);
}

/* Fills one input's table, each entry shifted left by `doubling` (0 or 1). */
static void build_table(int32_t *table, int32_t offset, int32_t multiplier, int32_t shift,
                        int32_t left_shift, int32_t doubling)
{
    const int32_t right = -shift;
    int32_t u;
    if (left_shift >= 0 && left_shift <= 21 && right >= 0 && right <= 30 && multiplier >= 0) {
        /* SMMLAR form of the rescaling (mcc_nn_add_rescale): |2 (v + offset) << ls| < 2^31. */
        const int32_t scale = 1 << (left_shift + 1);
        const int32_t half = (1 << right) >> 1, sign = right ? -1 : 0;
#if MCC_HAVE_MVE
        /* Four entries a pass (VRMULH is SMMLAR's rounding high product). Entry u holds v =
         * (int8_t)u, so in each half of the table d = 2 (v + offset) << ls rises by `scale` from
         * entry to entry: v = 0..127, then v = -128..-1. */
        const int32x4_t vm = vdupq_n_s32(multiplier), vsign = vdupq_n_s32(sign);
        const int32x4_t step = vdupq_n_s32(4 * scale);
        for (u = 0; u < 256; u += 128) {
            int32x4_t d = vaddq_n_s32(vmulq_n_s32(vreinterpretq_s32_u32(vidupq_n_u32(0, 1)), scale),
                                      ((int8_t)u + offset) * scale);
            int32_t k;
            for (k = u; k < u + 128; k += 4) {
                int32x4_t r = vaddq_n_s32(vrmulhq_s32(d, vm), half);
                r = vaddq_s32(r, vandq_s32(vshrq_n_s32(d, 31), vsign));
                vst1q_s32(table + k, vshlq_r_s32(vshlq_r_s32(r, -right), doubling));
                d = vaddq_s32(d, step);
            }
        }
        return;
#endif
        for (u = 0; u < 256; ++u) {
            table[u] = mcc_nn_add_rescale(((int8_t)u + offset) * scale, multiplier, half, sign, right)
                       << doubling;
        }
        return;
    }
    for (u = 0; u < 256; ++u) {
        table[u] = mcc_nn_requantize(((int8_t)u + offset) * (1 << left_shift), multiplier, shift) << doubling;
    }
}

static void build_tables(const mcc_add_params *params, int32_t *table1, int32_t *table2,
                         int32_t doubling)
{
    build_table(table1, params->input1_offset, params->input1_multiplier, params->input1_shift,
                params->left_shift, doubling);
    build_table(table2, params->input2_offset, params->input2_multiplier, params->input2_shift,
                params->left_shift, doubling);
}

#if MCC_HAVE_MVE
/* Four outputs from their inputs' bytes a and b: two table gathers, VRMULH (the rounding high
 * multiply of the doubled sum), the sign's correction and VRSHL (round half up) make the rounding
 * division; then the output offset and the clamp. */
MCC_INLINE int32x4_t add_lanes(const int32_t *table1, const int32_t *table2, uint32x4_t a, uint32x4_t b,
                               int32x4_t mo, int32x4_t minus_ro, int32_t offset, int32x4_t lo,
                               int32x4_t hi)
{
    const int32x4_t sum2 = vaddq_s32(vldrwq_gather_shifted_offset_s32(table1, a),
                                     vldrwq_gather_shifted_offset_s32(table2, b));
    int32x4_t r = vrmulhq_s32(sum2, mo);
    r = vrshlq_s32(vaddq_s32(r, vshrq_n_s32(r, 31)), minus_ro);
    return vminq_s32(vmaxq_s32(vaddq_n_s32(r, offset), lo), hi);
}
#endif

#if MCC_HAVE_DSP && !MCC_HAVE_MVE
/* One output from its doubled sum of table entries, saturated to int8; the output offset rides
 * along the rounding constant ho. */
MCC_INLINE int32_t add_element(int32_t sum2, int32_t mo, int32_t ho, int32_t ro)
{
    return __ssat((mcc_nn_smmlar(sum2, mo, ho) + (sum2 >> 31)) >> ro, 8);
}

/* Four elements per pass, packed into one word, clamped by two SSUB8/SEL pairs (when the
 * activation range is narrower than int8) and stored at once: all four are read before the
 * store, so the output may alias either input. Returns the number of elements done. */
MCC_INLINE int32_t add_words(const int32_t *table1, const int32_t *table2, const uint8_t *in1,
                             const uint8_t *in2, int8_t *output, int32_t size, int32_t mo,
                             int32_t ho, int32_t ro, int32_t lo, int32_t hi, int clamp)
{
    const uint32_t lo4 = (uint32_t)(uint8_t)lo * 0x01010101u;
    const uint32_t hi4 = (uint32_t)(uint8_t)hi * 0x01010101u;
    int32_t i;
    for (i = 0; i + 4 <= size; i += 4) {
        uint32_t word = (uint32_t)add_element(table1[in1[i]] + table2[in2[i]], mo, ho, ro);
        const int32_t r1 = add_element(table1[in1[i + 1]] + table2[in2[i + 1]], mo, ho, ro);
        const int32_t r2 = add_element(table1[in1[i + 2]] + table2[in2[i + 2]], mo, ho, ro);
        const int32_t r3 = add_element(table1[in1[i + 3]] + table2[in2[i + 3]], mo, ho, ro);
        MCC_NN_BFI8(word, r1, 8);
        MCC_NN_BFI8(word, r2, 16);
        MCC_NN_BFI8(word, r3, 24);
        if (clamp) {
            word = mcc_nn_clamp4_s8(word, lo4, hi4);
        }
        __builtin_memcpy(output + i, &word, 4);
    }
    return i;
}
#endif

mcc_status mcc_add_fast_s8(const mcc_add_params *params, const int8_t *input1,
                           const int8_t *input2, int8_t *output, int32_t size, void *scratch)
{
    int32_t *table1 = (int32_t *)scratch;
    int32_t *table2 = table1 + 256;
    const uint8_t *in1 = (const uint8_t *)input1;
    const uint8_t *in2 = (const uint8_t *)input2;
    const int32_t lo = params->activation.min, hi = params->activation.max;
    int32_t i = 0, doubling = 0;
#if MCC_HAVE_DSP || MCC_HAVE_MVE
    /* The sum's requantization as a rounding high multiply of the doubled sum (exact: |sum| <
     * 2^30 because each rescaled input is at most its left-shifted value) when the output is
     * shifted right by 1..21 bits. */
    const int32_t ro = -params->output_shift;
    if (params->left_shift <= 21 && ro >= 1 && ro <= 21 && params->output_multiplier >= 0) {
        const int32_t mo = params->output_multiplier;
        build_tables(params, table1, table2, 1);
#if MCC_HAVE_MVE
        {
            /* 4 elements per pass, the last one predicated. */
            const int32x4_t vmo = vdupq_n_s32(mo);
            const int32x4_t vro = vdupq_n_s32(-ro);
            const int32x4_t vlo = vdupq_n_s32(lo), vhi = vdupq_n_s32(hi);
            const int32_t offset = params->output_offset;
            for (; i + 4 <= size; i += 4) {
                const int32x4_t r = add_lanes(table1, table2, vldrbq_u32(in1 + i), vldrbq_u32(in2 + i),
                                              vmo, vro, offset, vlo, vhi);
                vstrbq_s32(output + i, r);
            }
            if (i < size) {
                const mve_pred16_t p = vctp32q((uint32_t)(size - i));
                const int32x4_t r = add_lanes(table1, table2, vldrbq_z_u32(in1 + i, p),
                                              vldrbq_z_u32(in2 + i, p), vmo, vro, offset, vlo, vhi);
                vstrbq_p_s32(output + i, r, p);
            }
        }
        return MCC_OK;
#else
        {
            const int32_t ho = (1 << (ro - 1)) + params->output_offset * (1 << ro);
            i = add_words(table1, table2, in1, in2, output, size, mo, ho, ro, lo, hi, !(lo == -128 && hi == 127));
            doubling = 1; /* the last size % 4 elements below */
        }
#endif
    }
#endif
    if (!doubling) {
        build_tables(params, table1, table2, 0);
    }
    for (; i < size; ++i) {
        /* Read both inputs before writing: output may alias either of them. */
        const int32_t sum = (table1[in1[i]] + table2[in2[i]]) >> doubling;
        const int32_t r = mcc_nn_requantize(sum, params->output_multiplier, params->output_shift) +
                          params->output_offset;
        output[i] = (int8_t)mcc_nn_clamp(r, lo, hi);
    }
    return MCC_OK;
}

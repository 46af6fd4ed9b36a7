/* mcc_mul_s8 - element-wise int8 multiply with TFLite's broadcasting (a size-1 dimension of an
 * input is repeated): out = clamp(requantize((a + off1) * (b + off2)) + out_offset). */
#include "mcc.h"
#include "mcc_nn.h"

#if MCC_HAVE_MVE
#include <arm_mve.h>
#endif

#if MCC_HAVE_DSP
/* Elements after which `dims`' values repeat when it is read against an output of `out`'s
 * shape: the output's size for the same shape, the channel count for a vector along the
 * channels (a squeeze-excite gate); 0 for any other broadcast. */
static int32_t period(const mcc_dims *dims, const mcc_dims *out)
{
    if (dims->n == out->n && dims->h == out->h && dims->w == out->w && dims->c == out->c) {
        return out->n * out->h * out->w * out->c;
    }
    return dims->n == 1 && dims->h == 1 && dims->w == 1 && dims->c == out->c ? out->c : 0;
}

/* The exact fast requantization of a product: when the doubled product, at most
 * 2 * 255 * 255 << left, stays inside int32, the multiplier is non-negative and the right shift
 * is 1..21, TFLite's double rounding is SMMLAR, the sign's correction and a shift, as the Add
 * kernels' rescaling, with the output offset riding along the rounding constant:
 * (v >> r) + o = (v + (o << r)) >> r. */
typedef struct {
    int32_t scale_shift, multiplier, rounding, right, lo, hi;
} mul_rescale;

static int32_t mul_rescale_init(const mcc_mul_params *params, mul_rescale *r)
{
    const int32_t left = params->shift > 0 ? params->shift : 0, right = params->shift > 0 ? 0 : -params->shift;
    if (left > 14 || right < 1 || right > 21 || params->multiplier < 0) {
        return 0;
    }
    r->scale_shift = left + 1;
    r->multiplier = params->multiplier;
    r->rounding = (1 << (right - 1)) + params->output_offset * (1 << right);
    r->right = right;
    r->lo = params->activation.min;
    r->hi = params->activation.max;
    return 1;
}

/* The rescaling's fields as locals: int8 stores may alias the struct, which would reload them. */
#define MUL_RESCALE_LOCALS(r)                                                                   \
    const int32_t m = (r)->multiplier, rounding = (r)->rounding;                                \
    const int32_t right = (r)->right, lo = (r)->lo, hi = (r)->hi

MCC_INLINE int8_t mul_requantize(int32_t doubled, int32_t m, int32_t rounding, int32_t right, int32_t lo,
                                 int32_t hi)
{
    int32_t v = (mcc_nn_smmlar(doubled, m, rounding) + (doubled >> 31)) >> right;
    v = v < lo ? lo : v;
    return (int8_t)(v > hi ? hi : v);
}

#if MCC_HAVE_MVE
/* The rescaling's constants as vectors, held in registers (int8 stores may alias the struct). */
typedef struct {
    int32x4_t rounding, minus_right, lo, hi, scale;
    int32_t multiplier;
} mul_lanes_rescale;

MCC_INLINE mul_lanes_rescale mul_lanes_init(const mul_rescale *r)
{
    mul_lanes_rescale q;
    q.rounding = vdupq_n_s32(r->rounding);
    q.minus_right = vdupq_n_s32(-r->right);
    q.lo = vdupq_n_s32(r->lo);
    q.hi = vdupq_n_s32(r->hi);
    q.scale = vdupq_n_s32(r->scale_shift);
    q.multiplier = r->multiplier;
    return q;
}

/* Four outputs from their doubled products: VRMULH is SMMLAR's rounding high multiply, then the
 * rounding constant (with the output offset), the sign's correction, the shift and the clamp. */
MCC_INLINE void mul_lanes(int8_t *out, int32x4_t doubled, mul_lanes_rescale q, mve_pred16_t p)
{
    int32x4_t v = vrmulhq_s32(doubled, vdupq_n_s32(q.multiplier));
    v = vaddq_s32(vaddq_s32(v, q.rounding), vshrq_n_s32(doubled, 31));
    v = vshlq_s32(v, q.minus_right);
    vstrbq_p_s32(out, vminq_s32(vmaxq_s32(v, q.lo), q.hi), p);
}

/* The MVE forms of mul_channels and mul_same: pixel by pixel, four channels a vector. */
static void mul_channels_mve(const mul_rescale *r, const int8_t *full, int32_t full_offset, const int8_t *vector,
                             int32_t vector_offset, int32_t channels, int32_t size, int8_t *output)
{
    const mul_lanes_rescale q = mul_lanes_init(r);
    int32_t base, c;
    for (base = 0; base < size; base += channels) {
        const int8_t *in = full + base;
        int8_t *out = output + base;
        for (c = 0; c < channels; c += 4) {
            const mve_pred16_t p = vctp32q((uint32_t)(channels - c));
            const int32x4_t b = vshlq_s32(vaddq_n_s32(vldrbq_z_s32(vector + c, p), vector_offset), q.scale);
            const int32x4_t x = vaddq_n_s32(vldrbq_z_s32(in + c, p), full_offset);
            mul_lanes(out + c, vmulq_s32(x, b), q, p);
        }
    }
}

static void mul_same_mve(const mul_rescale *r, const mcc_mul_params *params, const int8_t *input1,
                         const int8_t *input2, int32_t size, int8_t *output)
{
    const mul_lanes_rescale q = mul_lanes_init(r);
    const int32_t o1 = params->input1_offset, o2 = params->input2_offset;
    int32_t i;
    for (i = 0; i < size; i += 4) {
        const mve_pred16_t p = vctp32q((uint32_t)(size - i));
        const int32x4_t a = vaddq_n_s32(vldrbq_z_s32(input1 + i, p), o1);
        const int32x4_t b = vaddq_n_s32(vldrbq_z_s32(input2 + i, p), o2);
        mul_lanes(output + i, vshlq_s32(vmulq_s32(a, b), q.scale), q, p);
    }
}
#endif

/* A (1, H, W, C) tensor times a vector along its channels, channel by channel: the vector's
 * value (offset and doubling folded in) stays in a register down the channel's column, and the
 * doubled product is one multiply-accumulate, value * b + offset * b. */
static void mul_channels(const mul_rescale *r, const int8_t *full, int32_t full_offset, const int8_t *vector,
                         int32_t vector_offset, int32_t channels, int32_t size, int8_t *output)
{
    MUL_RESCALE_LOCALS(r);
    const int32_t pixels = size / channels;
    int32_t c, n;
#if MCC_HAVE_MVE
    mul_channels_mve(r, full, full_offset, vector, vector_offset, channels, size, output);
    return;
#endif
    for (c = 0; c < channels; ++c) {
        const int32_t b = (vector[c] + vector_offset) * (1 << r->scale_shift), fb = full_offset * b;
        const int8_t *in = full + c;
        int8_t *out = output + c;
        for (n = pixels; n > 0; --n) {
            *out = mul_requantize(*in * b + fb, m, rounding, right, lo, hi);
            in += channels;
            out += channels;
        }
    }
}

/* Two tensors of the output's shape. */
static void mul_same(const mul_rescale *r, const mcc_mul_params *params, const int8_t *input1,
                     const int8_t *input2, int32_t size, int8_t *output)
{
    const int32_t o1 = params->input1_offset, o2 = params->input2_offset, s = r->scale_shift;
    MUL_RESCALE_LOCALS(r);
    int32_t i;
#if MCC_HAVE_MVE
    mul_same_mve(r, params, input1, input2, size, output);
    return;
#endif
    for (i = 0; i < size; ++i) {
        output[i] = mul_requantize(((input1[i] + o1) * (input2[i] + o2)) << s, m, rounding, right, lo, hi);
    }
}
#endif

mcc_status mcc_mul_s8(const mcc_mul_params *params, const mcc_dims *input1_dims, const int8_t *input1,
                      const mcc_dims *input2_dims, const int8_t *input2, const mcc_dims *output_dims,
                      int8_t *output)
{
    mcc_nn_broadcast walk;
    int32_t i;
#if MCC_HAVE_DSP
    {
        const int32_t size = output_dims->n * output_dims->h * output_dims->w * output_dims->c;
        const int32_t p1 = period(input1_dims, output_dims), p2 = period(input2_dims, output_dims);
        mul_rescale r;
        if (mul_rescale_init(params, &r)) {
            /* the product commutes: the input with the output's shape is read in full */
            if (p1 == size && p2 == size) {
                mul_same(&r, params, input1, input2, size, output);
                return MCC_OK;
            }
            if (p1 == size && p2 > 0) {
                mul_channels(&r, input1, params->input1_offset, input2, params->input2_offset, p2, size, output);
                return MCC_OK;
            }
            if (p2 == size && p1 > 0) {
                mul_channels(&r, input2, params->input2_offset, input1, params->input1_offset, p1, size, output);
                return MCC_OK;
            }
        }
    }
#endif
    mcc_nn_broadcast_start(&walk, input1_dims, input2_dims, output_dims);
    for (i = 0; i < walk.size; ++i) {
        const int32_t a = input1[walk.index1] + params->input1_offset;
        const int32_t b = input2[walk.index2] + params->input2_offset;
        const int32_t v = mcc_nn_requantize(a * b, params->multiplier, params->shift) + params->output_offset;
        output[i] = (int8_t)mcc_nn_clamp(v, params->activation.min, params->activation.max);
        mcc_nn_broadcast_next(&walk);
    }
    return MCC_OK;
}

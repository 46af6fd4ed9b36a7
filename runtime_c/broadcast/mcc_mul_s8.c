/* mcc_mul_s8 - element-wise int8 multiply with TFLite's broadcasting (a size-1 dimension of an
 * input is repeated): out = clamp(requantize((a + off1) * (b + off2)) + out_offset). */
#include "mcc.h"
#include "mcc_nn.h"

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

/* A (1, H, W, C) tensor times a vector along its channels, channel by channel: the vector's
 * value (offset and doubling folded in) stays in a register down the channel's column, and the
 * doubled product is one multiply-accumulate, value * b + offset * b. */
static void mul_channels(const mul_rescale *r, const int8_t *full, int32_t full_offset, const int8_t *vector,
                         int32_t vector_offset, int32_t channels, int32_t size, int8_t *output)
{
    MUL_RESCALE_LOCALS(r);
    const int32_t pixels = size / channels;
    int32_t c, n;
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

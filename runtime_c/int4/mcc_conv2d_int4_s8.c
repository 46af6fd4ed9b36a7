/* mcc_conv2d_int4_s8 - 2-D convolution on packed int4 weights (TFLite's INT4 values: -8..7,
 * zero point 0, two per byte): the same results as mcc_conv2d_s8 on those values widened to
 * int8 (TFLM double rounding), bit for bit.
 *
 * A nibble of -8..7 is the 4-bit index of a codebook whose entry i is i sign-extended, so the
 * layer runs on mcc_conv2d_codebook_fast_s8 with that codebook: its pair table, 6-pixel
 * blocks, in-register requantization and MVE path. The exporter (mcucompress/codegen/
 * int4_layout.py) stores the nibbles in that kernel's order (mcc.h: per group of 4 products
 * the bytes k0 | k2 << 4 and k1 | k3 << 4) with the dense fast kernels' channel constants.
 */
#include "mcc.h"

/* Entry i: the nibble i read as a signed 4-bit value. */
static const int8_t int4_values[16] = {0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1};

int32_t mcc_conv2d_int4_s8_get_buffer_size(int32_t k_padded, int32_t out_c)
{
    (void)out_c;
    return mcc_conv2d_codebook_fast_s8_get_buffer_size(k_padded, 4);
}

mcc_status mcc_conv2d_int4_s8(const mcc_conv_fast_params *params, const uint32_t *weights,
                              const mcc_dims *input_dims, const int8_t *input, const mcc_dims *output_dims,
                              int8_t *output, void *scratch)
{
    mcc_codebook_fast_s8 filter;
    if ((params->k_padded & 7) || weights == 0 || params->channels == 0 || scratch == 0 || params->stride.h <= 0 ||
        params->stride.w <= 0 || params->dilation.h <= 0 || params->dilation.w <= 0) {
        return MCC_ERROR_ARGUMENT;
    }
    filter.indices = weights;
    filter.codebook = int4_values;
    filter.index_bits = 4;
    return mcc_conv2d_codebook_fast_s8(params, &filter, input_dims, input, output_dims, output, scratch);
}

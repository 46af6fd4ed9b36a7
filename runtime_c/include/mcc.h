/* mcc.h - public interface of the mcucompress C runtime.
 *
 * Portable int8 kernels with the arithmetic of TensorFlow Lite (Micro)'s reference kernels.
 * Conventions shared by every kernel:
 *   - activations are NHWC int8, batch first; weights are OHWI (conv), 1HWC (depthwise), OI (fc);
 *   - biases are int32, may be NULL;
 *   - offsets are the negated zero points of inputs and the zero point of the output;
 *   - requantization uses (multiplier, shift) pairs: real = multiplier * 2^(shift - 31) with
 *     gemmlowp double rounding; conv, depthwise, fully connected and mean follow MCC_SINGLE_ROUNDING
 *     (see mcc_port.h and mcc_quant);
 *   - no kernel allocates memory or keeps state between calls; floating point appears only in
 *     mcc_softmax_table_s8 and, with MCC_SINGLE_ROUNDING=1, in the conv/depthwise/fc/mean
 *     requantization, both to match LiteRT (XNNPACK) byte for byte;
 *   - every kernel returns MCC_OK or a negative mcc_status for arguments it cannot handle.
 */
#ifndef MCC_H
#define MCC_H

#include <stdint.h>

#include "mcc_port.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { MCC_OK = 0, MCC_ERROR_ARGUMENT = -1 } mcc_status;

/* A 4-D shape: batches, height, width, channels. Vectors use n = 1, h = w = 1, c = length. */
typedef struct {
    int32_t n;
    int32_t h;
    int32_t w;
    int32_t c;
} mcc_dims;

/* A pair of per-axis integers: strides, dilations, leading (top, left) padding, window sizes. */
typedef struct {
    int32_t h;
    int32_t w;
} mcc_tile;

/* Output clamp range after the output offset is added (fused relu / relu6 live here). */
typedef struct {
    int32_t min;
    int32_t max;
} mcc_activation;

/* Requantization of conv / depthwise / fully connected outputs: one entry per output channel
 * when per_channel != 0, else one. multiplier and shift are used when MCC_SINGLE_ROUNDING=0
 * (TFLM), scale (float32, LiteRT's XNNPACK requantization) when MCC_SINGLE_ROUNDING=1; the
 * unused pointers may be NULL. */
typedef struct {
    const int32_t *multiplier;
    const int32_t *shift;
    const float *scale;
    int32_t per_channel;
} mcc_quant;

typedef struct {
    int32_t input_offset;
    int32_t output_offset;
    mcc_tile stride;
    mcc_tile padding; /* top, left; bottom and right follow from the output size */
    mcc_tile dilation;
    mcc_activation activation;
} mcc_conv_params;

typedef struct {
    int32_t input_offset;
    int32_t output_offset;
    int32_t depth_multiplier;
    mcc_tile stride;
    mcc_tile padding;
    mcc_tile dilation;
    mcc_activation activation;
} mcc_dw_conv_params;

typedef struct {
    int32_t input_offset;
    int32_t filter_offset;
    int32_t output_offset;
    mcc_activation activation;
} mcc_fc_params;

typedef struct {
    mcc_tile window;
    mcc_tile stride;
    mcc_tile padding;
    mcc_activation activation;
} mcc_pool_params;

/* TFLite's quantized Add: both inputs are shifted left by left_shift, rescaled to a common
 * scale, summed and rescaled to the output. */
typedef struct {
    int32_t input1_offset;
    int32_t input1_multiplier;
    int32_t input1_shift;
    int32_t input2_offset;
    int32_t input2_multiplier;
    int32_t input2_shift;
    int32_t left_shift;
    int32_t output_offset;
    int32_t output_multiplier;
    int32_t output_shift;
    mcc_activation activation;
} mcc_add_params;

/* TFLite's integer Mul: out = clamp(requantize((a + input1_offset) * (b + input2_offset))
 * + output_offset), requantized by multiplier and shift (double rounding). */
typedef struct {
    int32_t input1_offset;
    int32_t input2_offset;
    int32_t output_offset;
    int32_t multiplier;
    int32_t shift;
    mcc_activation activation;
} mcc_mul_params;

/* One LSTM gate: input weights (units x input_size) and recurrent weights (units x units), int8
 * symmetric; bias (units) int32; each product requantized into Q3.12 by its multiplier / shift. */
typedef struct {
    const int8_t *input_weights;
    const int8_t *recurrent_weights;
    const int32_t *bias;
    int32_t input_multiplier;
    int32_t input_shift;
    int32_t recurrent_multiplier;
    int32_t recurrent_shift;
} mcc_lstm_gate;

/* TFLite's integer UNIDIRECTIONAL_SEQUENCE_LSTM (int8 x int8 -> int16 gates and cell state); the
 * arithmetic is stated in mcucompress/quantize/lstm_ops.py. tanh of the cell state scales it by
 * (c * tanh_multiplier + round) >> tanh_shift; sigmoid_table: 256 points of sigmoid in Q0.16. */
typedef struct {
    int32_t steps;
    int32_t input_size;
    int32_t units;
    int32_t input_offset;
    int32_t hidden_offset;
    mcc_lstm_gate input_gate;
    mcc_lstm_gate forget_gate;
    mcc_lstm_gate cell_gate;
    mcc_lstm_gate output_gate;
    int32_t cell_sigmoid;
    int32_t forget_multiplier;
    int32_t forget_shift;
    int32_t update_multiplier;
    int32_t update_shift;
    int32_t hidden_multiplier;
    int32_t hidden_shift;
    int32_t hidden_zero_point;
    int32_t cell_clip;
    int32_t tanh_multiplier;
    int32_t tanh_shift;
    const uint16_t *sigmoid_table;
} mcc_lstm_params;

/* TFLite's integer PReLU: x + input_offset requantized by the positive multiplier where it is
 * >= 0, else (x + input_offset) * (alpha + alpha_offset) by the negative one. */
typedef struct {
    int32_t input_offset;
    int32_t alpha_offset;
    int32_t output_offset;
    int32_t multiplier_positive;
    int32_t shift_positive;
    int32_t multiplier_negative;
    int32_t shift_negative;
} mcc_prelu_params;

/* TFLite's integer softmax (gemmlowp fixed point); output scale 1/256, zero point -128. */
typedef struct {
    int32_t input_multiplier;
    int32_t input_left_shift;
    int32_t diff_min;
} mcc_softmax_params;

/* LiteRT's table softmax: table[255 - v] = expf(-input_scale * beta * v), v = 0..255. */
typedef struct {
    const float *table;
    float output_scale;
    int32_t output_zero_point;
} mcc_softmax_table_params;

/* Mean over height and width of an NHWC tensor (TFLite's integer Mean, axes (1, 2)).
 * MCC_SINGLE_ROUNDING=1 (LiteRT/XNNPACK): out = clamp(rint(float(sum + input_offset * count) *
 * scale) + output_offset), scale holding 1 / count. Otherwise (TFLM): same_quant != 0 means
 * input and output share scale and zero point and out = sum / count (truncating); else
 * out = clamp(requantize(sum + input_offset * count) + output_offset), the multiplier already
 * holding 1 / count (TFLite's QuantizedMeanOrSum). */
typedef struct {
    float scale;
    int32_t same_quant;
    int32_t input_offset;
    int32_t output_offset;
    int32_t multiplier;
    int32_t shift;
    mcc_activation activation;
} mcc_mean_params;

/* Element-wise rescale: out = clamp(requantize(x + input_offset) + output_offset); standalone
 * relu and relu6 are this with the clamp range of the activation. */
typedef struct {
    int32_t input_offset;
    int32_t output_offset;
    int32_t multiplier;
    int32_t shift;
    mcc_activation activation;
} mcc_requantize_params;

/* 2-D convolution. input (n, h, w, c_in), filter (c_out, kh, kw, c_in), bias (c_out) or NULL,
 * output (n, oh, ow, c_out). Requantized per output channel by quant. */
mcc_status mcc_conv2d_s8(const mcc_conv_params *params, const mcc_quant *quant,
                         const mcc_dims *input_dims, const int8_t *input,
                         const mcc_dims *filter_dims, const int8_t *filter,
                         const int32_t *bias,
                         const mcc_dims *output_dims, int8_t *output);

/* Transpose convolution (TFLite TRANSPOSE_CONV). input (n, h, w, c_in), filter (c_out, kh, kw,
 * c_in), bias (c_out) or NULL, output (n, oh, ow, c_out); input pixel (y, x) reaches output pixel
 * (y * stride - padding + ky, ...); params->dilation is unused. Requantized per channel by quant. */
mcc_status mcc_transpose_conv2d_s8(const mcc_conv_params *params, const mcc_quant *quant,
                                   const mcc_dims *input_dims, const int8_t *input,
                                   const mcc_dims *filter_dims, const int8_t *filter,
                                   const int32_t *bias,
                                   const mcc_dims *output_dims, int8_t *output);

/* Depthwise convolution. filter (1, kh, kw, c_in * depth_multiplier) in filter_dims as
 * (n = 1, h = kh, w = kw, c = c_out). Output channel o reads input channel o / depth_multiplier. */
mcc_status mcc_depthwise_conv2d_s8(const mcc_dw_conv_params *params, const mcc_quant *quant,
                                   const mcc_dims *input_dims, const int8_t *input,
                                   const mcc_dims *filter_dims, const int8_t *filter,
                                   const int32_t *bias,
                                   const mcc_dims *output_dims, int8_t *output);

/* Fully connected: output (batches, units) = input (batches, depth) x filter (units, depth)^T.
 * filter_dims: n = units, c = depth. */
mcc_status mcc_fully_connected_s8(const mcc_fc_params *params, const mcc_quant *quant,
                                  const mcc_dims *input_dims, const int8_t *input,
                                  const mcc_dims *filter_dims, const int8_t *filter,
                                  const int32_t *bias,
                                  const mcc_dims *output_dims, int8_t *output);

/* Average pooling over the part of each window inside the input; rounds half away from zero. */
mcc_status mcc_avgpool_s8(const mcc_pool_params *params,
                          const mcc_dims *input_dims, const int8_t *input,
                          const mcc_dims *output_dims, int8_t *output);

/* Max pooling over the part of each window inside the input. */
mcc_status mcc_maxpool_s8(const mcc_pool_params *params,
                          const mcc_dims *input_dims, const int8_t *input,
                          const mcc_dims *output_dims, int8_t *output);

/* Element-wise add of two tensors of `size` elements. output may alias input1 or input2. */
mcc_status mcc_add_s8(const mcc_add_params *params, const int8_t *input1, const int8_t *input2,
                      int8_t *output, int32_t size);

/* Softmax along the last axis of `rows` rows of `depth` values. */
mcc_status mcc_softmax_s8(const mcc_softmax_params *params, const int8_t *input,
                          int32_t rows, int32_t depth, int8_t *output);

/* Softmax with LiteRT's float table (the only kernel using float; see its source). */
mcc_status mcc_softmax_table_s8(const mcc_softmax_table_params *params, const int8_t *input,
                                int32_t rows, int32_t depth, int8_t *output);

/* Mean over h and w: input (n, h, w, c) -> output (n, 1, 1, c). */
mcc_status mcc_mean_s8(const mcc_mean_params *params,
                       const mcc_dims *input_dims, const int8_t *input, int8_t *output);

/* Element-wise requantization of `size` values; output may alias input. */
mcc_status mcc_requantize_s8(const mcc_requantize_params *params, const int8_t *input,
                             int8_t *output, int32_t size);

/* Element-wise ops of two tensors with TFLite's broadcasting: each input's dims either equal
 * the output's or are 1 (that dimension is repeated). mul and add requantize as TFLite does;
 * maximum / minimum compare raw values (inputs and output share one quantization). */
mcc_status mcc_mul_s8(const mcc_mul_params *params, const mcc_dims *input1_dims, const int8_t *input1,
                      const mcc_dims *input2_dims, const int8_t *input2, const mcc_dims *output_dims,
                      int8_t *output);
mcc_status mcc_add_broadcast_s8(const mcc_add_params *params, const mcc_dims *input1_dims,
                                const int8_t *input1, const mcc_dims *input2_dims, const int8_t *input2,
                                const mcc_dims *output_dims, int8_t *output);
/* a - b with add's parameters and arithmetic (TFLite's Sub), broadcasting as mcc_add_broadcast_s8. */
mcc_status mcc_sub_s8(const mcc_add_params *params, const mcc_dims *input1_dims, const int8_t *input1,
                      const mcc_dims *input2_dims, const int8_t *input2, const mcc_dims *output_dims,
                      int8_t *output);
/* Runs every step of an LSTM: input (steps x input_size) int8, output (steps x units) int8; hidden
 * (units, int8) and cell (units, int16) are read as the state before the first step and left
 * holding the state after the last; scratch holds 4 x units int16. */
mcc_status mcc_lstm_s8(const mcc_lstm_params *params, const int8_t *input, int8_t *hidden, int16_t *cell,
                       int16_t *scratch, int8_t *output);
mcc_status mcc_prelu_s8(const mcc_prelu_params *params, const mcc_dims *input_dims, const int8_t *input,
                        const mcc_dims *alpha_dims, const int8_t *alpha, const mcc_dims *output_dims,
                        int8_t *output);
mcc_status mcc_maximum_s8(const mcc_dims *input1_dims, const int8_t *input1, const mcc_dims *input2_dims,
                          const int8_t *input2, const mcc_dims *output_dims, int8_t *output);
mcc_status mcc_minimum_s8(const mcc_dims *input1_dims, const int8_t *input1, const mcc_dims *input2_dims,
                          const int8_t *input2, const mcc_dims *output_dims, int8_t *output);

/* Nearest-neighbour resize of an NHWC tensor: output (n, y, x) copies input (n, rows[y], cols[x]). */
mcc_status mcc_resize_nearest_s8(const mcc_dims *input_dims, const int8_t *input, const int32_t *rows,
                                 const int32_t *cols, const mcc_dims *output_dims, int8_t *output);

/* Element-wise table lookup: output[i] = table[input[i] + 128]; output may alias input. */
mcc_status mcc_lut_s8(const int8_t table[256], const int8_t *input, int8_t *output, int32_t size);

/* Early exit: returns 1 and copies `probs` (an exit's int8 softmax output, `classes` values)
 * to `output` (buffers may overlap) when its largest value is >= threshold (-128..128, 128:
 * never); else returns 0. */
int32_t mcc_early_exit_s8(const int8_t *probs, int32_t classes, int32_t threshold, int8_t *output);

/* Zero-copy is impossible when buffers differ: copies `size` bytes (buffers may overlap). */
mcc_status mcc_copy_s8(const int8_t *input, int8_t *output, int32_t size);

/* Constant padding of an NHWC tensor: pads (top, bottom, left, right) with pad_value. */
mcc_status mcc_pad_s8(const mcc_dims *input_dims, const int8_t *input, const int32_t pads[4],
                      int8_t pad_value, const mcc_dims *output_dims, int8_t *output);

/* Concatenation along the channel axis of `count` NHWC tensors with equal n, h, w and the
 * same quantization as the output. */
mcc_status mcc_concat_channels_s8(const int8_t *const *inputs, const int32_t *channels,
                                  int32_t count, int32_t outer, int8_t *output);

/* ---- Encoded weights (sparse CSR, codebook, Huffman) -------------------------------------
 * Lossless encodings of an int8 fully connected weight matrix (units x depth, row-major). Each
 * kernel gives byte for byte the output of mcc_fully_connected_s8 on the decoded matrix. The
 * decoders check every length and index against the stated sizes: malformed data makes them
 * return MCC_ERROR_ARGUMENT, never read or write out of bounds. None needs scratch memory. */

/* Compressed sparse rows. Entry k of the layer has a relative column index gaps[k] (gap_bits 4:
 * two per byte, low nibble first; 8: one per byte): column = previous column + 1 + gap, the
 * previous column being -1 at a row start. A gap longer than the largest index is bridged by
 * filler entries holding the weight zero point (they add nothing), as in Deep Compression. */
typedef struct {
    const uint16_t *row_entries; /* units counts: entries of each row, fillers included */
    const uint8_t *gaps;         /* entries relative column indices, packed */
    const int8_t *values;        /* entries weights */
    int32_t entries;
    int32_t gap_bits;            /* 4 or 8 */
} mcc_csr_s8;

/* Fully connected with CSR weights: only stored entries are multiplied. filter_dims gives
 * (units, depth) as for the dense kernel. */
mcc_status mcc_fully_connected_csr_s8(const mcc_fc_params *params, const mcc_quant *quant,
                                      const mcc_dims *input_dims, const int8_t *input,
                                      const mcc_dims *filter_dims, const mcc_csr_s8 *filter,
                                      const int32_t *bias,
                                      const mcc_dims *output_dims, int8_t *output);

/* Sparse rows in 256-column segments (mcc_fully_connected_csr_seg_s8.c): segment s of a row
 * starts at column 256 * s, the last at depth - 256 (at 0 when depth < 256). Per row and segment a count,
 * then that many entries: offset (column - segment start) and weight; weights equal to the zero
 * point are not stored. */
typedef struct {
    const uint16_t *counts; /* units * segments: entries of each row's segments, in order */
    const uint8_t *offsets; /* entries column offsets inside their segment */
    const int8_t *values;   /* entries weights */
    int32_t entries;
    int32_t segments;       /* ceil(depth / 256) */
} mcc_csr_seg_s8;

/* Fully connected with segmented CSR weights: only stored entries are multiplied. With
 * `channels` ({2 * folded bias, multiplier, round, shift} per unit, as mcc_fully_connected_fast_s8's;
 * both offsets of params must then be 0) the requantization is the dense fast kernels' and bias
 * is not read; without it, mcc_fully_connected_s8's. */
mcc_status mcc_fully_connected_csr_seg_s8(const mcc_fc_params *params, const mcc_quant *quant,
                                          const mcc_dims *input_dims, const int8_t *input,
                                          const mcc_dims *filter_dims, const mcc_csr_seg_s8 *filter,
                                          const int32_t *bias, const int32_t *channels,
                                          const mcc_dims *output_dims, int8_t *output);

/* Sparse rows as windows of two adjacent columns (mcc_fully_connected_csr_pair_s8.c), in the
 * segments of mcc_csr_seg_s8: per row and segment a count of groups of 4 windows, then the
 * groups, three words each (word 0: offset 0, weight 0a, offset 1, weight 0b; word 1: the same
 * for windows 2 and 3; word 2: weights 1a, 3a, 1b, 3b; a window's offset is its first column
 * minus the segment start, its weights a and b those of that column and the next). Unused
 * windows and columns hold offset 0 and the zero point. */
typedef struct {
    const uint8_t *counts;   /* units * segments: groups of each row's segments, in order */
    const uint32_t *groups;  /* groups_count * 3 words */
    int32_t groups_count;
    int32_t segments;        /* ceil(depth / 256) */
} mcc_csr_pair_s8;

/* Fully connected with windowed CSR weights; scratch: get_buffer_size(depth, units) bytes,
 * 4-byte aligned (the input row widened to int16, the rows' sums). channels and bias as
 * mcc_fully_connected_csr_seg_s8. */
int32_t mcc_fully_connected_csr_pair_s8_get_buffer_size(int32_t depth, int32_t units);
mcc_status mcc_fully_connected_csr_pair_s8(const mcc_fc_params *params, const mcc_quant *quant,
                                           const mcc_dims *input_dims, const int8_t *input,
                                           const mcc_dims *filter_dims, const mcc_csr_pair_s8 *filter,
                                           const int32_t *bias, const int32_t *channels,
                                           const mcc_dims *output_dims, int8_t *output, void *scratch);

/* Codebook weights: index_bits-bit indices (1..8, LSB-first bit stream, row-major) into an int8
 * codebook of 1 << index_bits entries (unused entries padded), looked up inside the MAC loop. */
typedef struct {
    const uint8_t *indices;
    int32_t index_bytes;         /* stored length of indices */
    const int8_t *codebook;
    int32_t index_bits;
} mcc_codebook_s8;

mcc_status mcc_fully_connected_codebook_s8(const mcc_fc_params *params, const mcc_quant *quant,
                                           const mcc_dims *input_dims, const int8_t *input,
                                           const mcc_dims *filter_dims,
                                           const mcc_codebook_s8 *filter, const int32_t *bias,
                                           const mcc_dims *output_dims, int8_t *output);

/* A canonical Huffman code: counts[l - 1] codes of length l (1 <= l <= max_len <= 15), the
 * symbols listed in code order (shorter codes first, then by symbol). */
#define MCC_HUFFMAN_MAX_BITS 15
typedef struct {
    const uint16_t *counts;
    const int16_t *symbols;
    int32_t num_symbols;
    int32_t max_len;
} mcc_huffman_table;

/* Huffman-coded weights, decoded while computing (no scratch buffer; 808 bytes of stack for the
 * decoding tables). Stream bit i is (bits[i >> 3] >> (7 - (i & 7))) & 1; bits holds
 * (num_bits + 7) / 8 bytes.
 * Dense (runs.num_symbols == 0): units * depth value codes, row-major.
 * Sparse: per row, a sequence of run codes; run r >= 0 skips r zero weights and is followed by
 * one value code, run -1 ends the row. Value symbols are int8 weights. */
typedef struct {
    const uint8_t *bits;
    int32_t num_bits;
    mcc_huffman_table values;
    mcc_huffman_table runs;
} mcc_huffman_s8;

mcc_status mcc_fully_connected_huffman_s8(const mcc_fc_params *params, const mcc_quant *quant,
                                          const mcc_dims *input_dims, const int8_t *input,
                                          const mcc_dims *filter_dims,
                                          const mcc_huffman_s8 *filter, const int32_t *bias,
                                          const mcc_dims *output_dims, int8_t *output);

/* Huffman-coded weights with a lookup table built at export: one value code per weight, codes
 * of at most lookup_bits bits, stream bit i = (bits[i >> 3] >> (i & 7)) & 1 (least significant
 * first, each code's first bit first). Weight order: per pair of rows, chunks of 128 weights of
 * the two rows in turn (row u's weights d..d+127, row u+1's, then d+128...); an odd last row
 * follows whole. lookup[v], v the next lookup_bits stream bits (stream bit pos + j is bit j of v),
 * decodes every code that ends within them, up to three: byte i (0..2) the i-th weight (int8),
 * bits 24-27 the bits they take (at least 1), bits 30-31 their number less one (a count of four,
 * which the exporter never writes, takes the top byte as the fourth weight). The kernel trusts
 * the table to match the code (a wrong table gives wrong weights); it never reads or writes out
 * of bounds whatever the table or the stream hold, and returns MCC_ERROR_ARGUMENT when the last
 * weight's lookup starts past num_bits. 272 bytes of stack buffer (528 on DSP cores: the input
 * widened once when a row is one chunk). With `channels` ({2 * folded bias, multiplier, round,
 * shift} per unit, as mcc_fully_connected_fast_s8's; both offsets of params must then be 0) the
 * requantization is the dense fast kernels' and neither bias nor quant is read (quant may be
 * NULL); without it, mcc_fully_connected_s8's. */
#define MCC_HUFFMAN_LUT_MAX_BITS 12
typedef struct {
    const uint8_t *bits;
    int32_t num_bits;
    const uint32_t *lookup;  /* 1 << lookup_bits entries */
    int32_t lookup_bits;     /* 1..MCC_HUFFMAN_LUT_MAX_BITS */
} mcc_huffman_lut_s8;

mcc_status mcc_fully_connected_huffman_lut_s8(const mcc_fc_params *params, const mcc_quant *quant,
                                              const mcc_dims *input_dims, const int8_t *input,
                                              const mcc_dims *filter_dims,
                                              const mcc_huffman_lut_s8 *filter, const int32_t *bias,
                                              const int32_t *channels, const mcc_dims *output_dims,
                                              int8_t *output);

/* ---- Binary and ternary networks (XNOR-popcount) -----------------------------------------
 * Sign values (+1 -> bit 1, -1 -> bit 0) are packed per pixel into little-endian 32-bit words,
 * channel c at word c / 32, bit c % 32; the unused high bits of a pixel's last word are 0. In the
 * arena a packed pixel of c channels takes 4 * ceil(c / 32) bytes (4-byte aligned). Binary
 * weights are packed the same way per output channel (per kernel tap for conv); ternary weights
 * are two planes per row / tap: sign bits (1 = +1) then mask bits (1 = non-zero); k-bit (DoReFa)
 * weights are k sign planes per row / tap, plane b weighing 2^b. The dot product of a and w is
 * n - 2 * popcount(a XOR w), ternary popcount(mask) - 2 * popcount(mask AND (a XOR sign)), k-bit
 * the sum over planes of 2^b (n - 2 * popcount(a XOR plane_b)); outputs are sign bits dot >= threshold[channel] (batch
 * norm and sign folded into one integer threshold per channel). No float, no scratch memory. */
#define MCC_POPCOUNT_SWAR 0  /* bit-sliced popcount per word */
#define MCC_POPCOUNT_TABLE 1 /* 256-entry byte table */
#define MCC_POPCOUNT_CSA 2   /* Harley-Seal carry-save accumulation over 8 words */
#define MCC_B1_VERTICAL_MAX_BITS 1024 /* input bits of mcc_fully_connected_vertical_b1 */

typedef struct {
    int32_t in_bits;  /* valid input bits n */
    int32_t words;    /* packed input words (ceil(n / 32), or more for flattened pixels) */
    int32_t ternary;  /* 0: `planes` weight planes per row; 1: sign plane then mask plane */
    int32_t popcount; /* MCC_POPCOUNT_*; MVE (Cortex-M55) builds use a vector count instead */
    int32_t planes;   /* k-bit weights: k sign planes, plane b weighing 2^b (1 for binary) */
} mcc_fc_b1_params;

typedef struct {
    int32_t ternary;
    int32_t popcount;
    int32_t planes;
    mcc_tile stride;
    mcc_tile padding; /* top, left */
} mcc_conv_b1_params;

/* int8 (n, h, w, c) -> packed sign bits, bit = (x >= threshold). */
mcc_status mcc_binarize_s8(int32_t threshold, const mcc_dims *dims, const int8_t *input,
                           int8_t *output);

/* Packed sign bits (dims gives the unpacked shape) -> int8 +1 / -1. */
mcc_status mcc_unpack_b1(const mcc_dims *dims, const int8_t *input, int8_t *output);

/* Binary fully connected: filter_dims n = units, c = words per row (words * planes, or 2 * words
 * if ternary). */
mcc_status mcc_fully_connected_b1(const mcc_fc_b1_params *params, const int8_t *input,
                                  const mcc_dims *filter_dims, const uint32_t *filter,
                                  const int32_t *threshold, int8_t *output);

/* Binary fully connected (binary weights only, n <= MCC_B1_VERTICAL_MAX_BITS) counting 32 output
 * channels at once in bit-sliced carry-save counters; same outputs as mcc_fully_connected_b1.
 * columns: ceil(units / 32) groups of n words, word i of group g holding at bit r the weight bit
 * of unit 32g + r at input i (0 beyond units). lane_planes: per group 14 words of Y then 14 words
 * of row_ones, bit-sliced (word p, bit r = bit p of the value of unit 32g + r), where row_ones is
 * the number of 1 bits of the unit's weights and Y = threshold + n + 2 row_ones clamped to
 * [0, 2^14 - 1]. filter_dims: n = units, c = n. Keeps its list of input positions on the stack
 * (1 KB). */
mcc_status mcc_fully_connected_vertical_b1(const mcc_fc_b1_params *params, const int8_t *input,
                                           const mcc_dims *filter_dims, const uint32_t *columns,
                                           const uint32_t *lane_planes, int8_t *output);

/* Binary conv2d: input (n, h, w, c) packed, filter_dims (c_out, kh, kw, c) with packed taps,
 * output (n, oh, ow, c_out) packed. */
mcc_status mcc_conv2d_b1(const mcc_conv_b1_params *params,
                         const mcc_dims *input_dims, const int8_t *input,
                         const mcc_dims *filter_dims, const uint32_t *filter,
                         const int32_t *threshold,
                         const mcc_dims *output_dims, int8_t *output);

/* ---- Q-format fixed point (power-of-two scales) -----------------------------------------
 * Tensors are int8 with scale 2^-FL and zero point 0 (format <IL, FL>), biases int32 at
 * 2^-(FL_in + FL_w). The int32 accumulator is requantized by one rounding right shift
 * (round to nearest, halves up) and clamped to the activation range: no multiply wider than
 * 32 bits, for cores without DSP instructions (Cortex-M0+, M3). shift[] holds FL_in + FL_w[oc]
 * - FL_out in 0..31, one per output channel when per_channel != 0, else one. No float, no
 * scratch memory. Arithmetic: mcucompress/quantize/qformat_params.py. */
typedef struct {
    mcc_tile stride;
    mcc_tile padding; /* top, left */
    mcc_tile dilation;
    int32_t depth_multiplier; /* depthwise only (1 for conv2d) */
    const int8_t *shift;
    int32_t per_channel;
    mcc_activation activation;
} mcc_conv_q7_params;

typedef struct {
    const int8_t *shift;
    int32_t per_channel;
    mcc_activation activation;
} mcc_fc_q7_params;

/* out = clamp(round((in1 << input1_left_shift) + (in2 << input2_left_shift)) >> shift); the
 * left shifts align both inputs to the finer format (0..22). */
typedef struct {
    int32_t input1_left_shift;
    int32_t input2_left_shift;
    int32_t shift;
    mcc_activation activation;
} mcc_add_q7_params;

/* Q-format 2-D convolution; shapes as mcc_conv2d_s8. */
mcc_status mcc_conv2d_q7(const mcc_conv_q7_params *params,
                         const mcc_dims *input_dims, const int8_t *input,
                         const mcc_dims *filter_dims, const int8_t *filter,
                         const int32_t *bias,
                         const mcc_dims *output_dims, int8_t *output);

/* Q-format depthwise convolution; shapes as mcc_depthwise_conv2d_s8. */
mcc_status mcc_depthwise_conv2d_q7(const mcc_conv_q7_params *params,
                                   const mcc_dims *input_dims, const int8_t *input,
                                   const mcc_dims *filter_dims, const int8_t *filter,
                                   const int32_t *bias,
                                   const mcc_dims *output_dims, int8_t *output);

/* Q-format fully connected; shapes as mcc_fully_connected_s8. */
mcc_status mcc_fully_connected_q7(const mcc_fc_q7_params *params,
                                  const mcc_dims *input_dims, const int8_t *input,
                                  const mcc_dims *filter_dims, const int8_t *filter,
                                  const int32_t *bias,
                                  const mcc_dims *output_dims, int8_t *output);

/* Element-wise Q-format add of `size` values; output may alias input1 or input2. */
mcc_status mcc_add_q7(const mcc_add_q7_params *params, const int8_t *input1, const int8_t *input2,
                      int8_t *output, int32_t size);

/* 2-D convolutions with encoded weights: the rows of the im2col weight matrix (output channel
 * oc's (kh, kw, c_in) weights, flattened) stored as for the fully connected kernels above; the
 * weight zero point is 0, as for mcc_conv2d_s8. Same arguments and output as mcc_conv2d_s8.
 * CSR multiplies only the stored entries; no im2col buffer is used. */
mcc_status mcc_conv2d_csr_s8(const mcc_conv_params *params, const mcc_quant *quant,
                             const mcc_dims *input_dims, const int8_t *input,
                             const mcc_dims *filter_dims, const mcc_csr_s8 *filter,
                             const int32_t *bias,
                             const mcc_dims *output_dims, int8_t *output);

/* The same with PIXELS output pixels per walk of a channel's entries (runtime_c/sparse/
 * mcc_conv2d_csr_fast_s8.c): needs a scratch buffer of get_buffer_size bytes (4-byte aligned)
 * holding the entries decoded for the core (offsets and weights; on DSP and MVE cores also the
 * channel constants or sums of a group of pixels), a weight sum per channel and the padded input
 * rows of one output row; k_h * (padded band width) * c_in must not exceed 65536. channels: NULL, or
 * {2 * (bias + input_offset * channel's weight sum), multiplier, round, right shift} per output
 * channel, exact for TFLite's double rounding (codegen/specialize.py). Same output. */
int32_t mcc_conv2d_csr_fast_s8_get_buffer_size(const mcc_conv_params *params,
                                               const mcc_dims *filter_dims,
                                               const mcc_dims *output_dims, int32_t entries);
mcc_status mcc_conv2d_csr_fast_s8(const mcc_conv_params *params, const mcc_quant *quant,
                                  const mcc_dims *input_dims, const int8_t *input,
                                  const mcc_dims *filter_dims, const mcc_csr_s8 *filter,
                                  const int32_t *bias, const int32_t *channels,
                                  const mcc_dims *output_dims, int8_t *output, void *scratch);

mcc_status mcc_conv2d_codebook_s8(const mcc_conv_params *params, const mcc_quant *quant,
                                  const mcc_dims *input_dims, const int8_t *input,
                                  const mcc_dims *filter_dims, const mcc_codebook_s8 *filter,
                                  const int32_t *bias,
                                  const mcc_dims *output_dims, int8_t *output);

/* ---- Fast kernels on export-time specialised weights (codegen/specialize.py) ----------------
 * Same results as mcc_conv2d_s8 / mcc_depthwise_conv2d_s8 / mcc_fully_connected_s8 bit for bit
 * (TFLM double rounding only), with the DSP (SMLAD) and MVE paths in the same body as the
 * portable one. weights are doubled int16 values packed two to an int32 word in the order
 * documented in each kernel's source; channels holds 4 int32 per output channel:
 * {2 * (bias + input_offset * sum(w)), multiplier, 2^(shift-1) + (output_offset << shift),
 *  shift} with shift >= 1 the right shift (the conv kernel groups them by channel pair). */
typedef struct {
    mcc_tile kernel;
    mcc_tile stride;
    mcc_tile padding;
    mcc_tile dilation;
    int32_t in_c;
    int32_t out_c;
    int32_t k_padded;          /* kernel.h * kernel.w * in_c rounded up to a multiple of 8 */
    int32_t input_zero_point;  /* value of padded input positions */
    mcc_activation activation;
    const int32_t *weights;
    const int32_t *channels;
} mcc_conv_fast_params;

/* Scratch bytes mcc_conv2d_fast_s8 needs (word aligned): two widened columns, and a staging
 * row when in_c is not a multiple of 8. */
int32_t mcc_conv2d_fast_s8_get_buffer_size(int32_t k_padded, int32_t in_c);

/* 2-D convolution (and fully connected as a 1x1 convolution) on specialised weights. */
mcc_status mcc_conv2d_fast_s8(const mcc_conv_fast_params *params,
                              const mcc_dims *input_dims, const int8_t *input,
                              const mcc_dims *output_dims, int8_t *output, void *scratch);

/* The same on int8 weights kept one byte each in flash (half the widened layout's bytes),
 * widened as they are read (MVE: one widening load of 8 bytes, what a gather of 4 widened words
 * costs). weights: per output channel pair, per group of 8 products, the even channel's 8 int8
 * weights in order, then the odd channel's; an odd last channel alone, 8 bytes a group; zero
 * padded to k_padded products, packed 4 bytes a word; undoubled (the kernel doubles the sum).
 * channels: 3 int32 per output channel, {bias, multiplier, requant} x {even, odd} per channel
 * pair (an odd last channel {bias, multiplier, requant}), requant = (output_offset << 8) |
 * (-shift & 0xFF): the round constant above is 2^(shift-1) + (output_offset << shift). Scratch
 * as for mcc_conv2d_fast_s8. */
mcc_status mcc_conv2d_fast_w8_s8(const mcc_conv_fast_params *params,
                                 const mcc_dims *input_dims, const int8_t *input,
                                 const mcc_dims *output_dims, int8_t *output, void *scratch);

typedef struct {
    mcc_tile kernel;
    mcc_tile stride;
    mcc_tile padding;
    mcc_tile dilation;
    int32_t channels_n;        /* input = output channels (depth multiplier 1); the kernel
                                  * computes the first channels_n & ~3 of them */
    int32_t input_zero_point;
    mcc_activation activation;
    const int32_t *weights;    /* int8 bytes (4 a word): per block of 8 channels, per tap, the
                                  * block's channels (mcc_depthwise_conv2d_fast_s8.c) */
    const int32_t *channels;   /* per channel {bias, multiplier, round, shift}; a layer a DSP
                                  * core runs on row-pair planes then one word more, the planes
                                  * its scratch holds (1, or 2: two channels filled at once) */
} mcc_dw_conv_fast_params;

/* Scratch bytes mcc_depthwise_conv2d_fast_s8 needs (8-byte aligned): a row of zero points, then
 * the input pixel of each tap of the window (any window size); strip_span: for a 3x3 layer a DSP
 * core runs in strips of widened lines (stride 1; stride 2 too in a build with
 * MCC_DW_STRIDE2_STRIPS=1), the input positions one strip covers along the output's longer side,
 * (outputs - 1) * stride + 3, else 0. A layer an MVE core runs on channel planes (a build with
 * MCC_DW_MVE_FLAT=1) needs its plane and four interleaved rows besides, and one a DSP core runs
 * on row-pair planes (a build with MCC_DW_DSP_PLANES=1) its plane: the export sizes those
 * (codegen/specialize.py, depthwise_mve_flat_bytes and depthwise_dsp_pairs_bytes). */
int32_t mcc_depthwise_conv2d_fast_s8_get_buffer_size(int32_t channels, int32_t taps, int32_t strip_span);

/* input with each channel repeated `multiplier` times (channel c * multiplier + m = channel c):
 * the input of mcc_depthwise_conv2d_fast_s8 for a depth multiplier above 1. */
mcc_status mcc_depthwise_expand_s8(const mcc_dims *input_dims, const int8_t *input,
                                   int32_t multiplier, int8_t *output);

/* Depthwise convolution (depth multiplier 1) on specialised weights. */
mcc_status mcc_depthwise_conv2d_fast_s8(const mcc_dw_conv_fast_params *params,
                                        const mcc_dims *input_dims, const int8_t *input,
                                        const mcc_dims *output_dims, int8_t *output,
                                        void *scratch);

/* The listed output channels of a conv (depthwise: depthwise = 1, channel j reads input channel
 * index[j] only; fully connected: a 1x1 conv over a 1 x rows image), computed with the portable
 * arithmetic (TFLM double rounding) into the full output tensor: the channels a layer's fast
 * kernel leaves to it. weights: per listed channel kernel.h * kernel.w * (depthwise ? 1 : in_c)
 * int8 values, in the order of mcc_conv2d_s8's filter. */
typedef struct {
    mcc_tile kernel;
    mcc_tile stride;
    mcc_tile padding;
    mcc_tile dilation;
    int32_t input_offset;
    int32_t output_offset;
    mcc_activation activation;
    int32_t depthwise;
    int32_t count;
    const int32_t *index;
    const int8_t *weights;
    const int32_t *bias;
    const int32_t *multiplier;
    const int32_t *shift;
} mcc_conv_channels_params;

mcc_status mcc_conv2d_channels_s8(const mcc_conv_channels_params *params,
                                  const mcc_dims *input_dims, const int8_t *input,
                                  const mcc_dims *output_dims, int8_t *output);

/* Fully connected on int8 weights kept one byte each (the --optimize size / none choice; the
 * widened mcc_conv2d_fast_s8 layout takes two). weights: int8 values packed four to a word,
 * rows in blocks of 4 (the last block the 1-3 rows left), per group of 4 inputs one word per
 * row of the block, zero padded to k_padded inputs; channels: 4 int32 per output row as above
 * (not grouped by pair). */
typedef struct {
    int32_t in_features;
    int32_t out_features;
    int32_t k_padded;          /* in_features rounded up to a multiple of 4 */
    mcc_activation activation;
    const int32_t *weights;
    const int32_t *channels;
} mcc_fc_fast_params;

/* Scratch bytes mcc_fully_connected_fast_s8 needs (word aligned): one input row as int16. */
int32_t mcc_fully_connected_fast_s8_get_buffer_size(int32_t k_padded);

/* Fully connected over `rows` input rows of in_features values on specialised int8 weights. */
mcc_status mcc_fully_connected_fast_s8(const mcc_fc_fast_params *params, int32_t rows,
                                       const int8_t *input, int8_t *output, void *scratch);

/* The same on int16 weights (the hot layers' choice on DSP cores: two bytes a weight, no SXTB16
 * in the loop). weights: int16 values packed two to a word, rows in blocks of 4 (the last block
 * the 1-3 rows left), per group of 4 inputs (w0, w2) then (w1, w3) for each row of the block,
 * zero padded to k_padded inputs, undoubled; channels and scratch as for mcc_fully_connected_fast_s8. */
mcc_status mcc_fully_connected_fast_w16_s8(const mcc_fc_fast_params *params, int32_t rows,
                                           const int8_t *input, int8_t *output, void *scratch);

/* Scratch bytes mcc_add_fast_s8 needs (word aligned): two 256-entry int32 tables. */
int32_t mcc_add_fast_s8_get_buffer_size(void);

/* mcc_add_s8 through per-input lookup tables built on each call (for large tensors). */
mcc_status mcc_add_fast_s8(const mcc_add_params *params, const int8_t *input1,
                           const int8_t *input2, int8_t *output, int32_t size, void *scratch);

/* Codebook weights laid out at export time for the fast codebook kernels (index_bits 2 or 4;
 * codegen/codebook_fast.py). Products go in groups of 4 as (k0, k2), (k1, k3) pairs - what
 * SXTB16 / SXTB16 ROR 8 make of 4 int8 activations - and each pair is one field of
 * 2 * index_bits bits (the first index in the low bits), fields filling 32-bit words from bit 0.
 * conv: each output channel's k_padded products (a multiple of one word's products) in turn;
 * fully connected: rows in blocks of 4 (the last block the rows left), per index word position
 * one word per row of the block. Any field is a valid index of the pair table built in scratch
 * on each call, so no index can be out of bounds. */
typedef struct {
    const uint32_t *indices;
    const int8_t *codebook;      /* 1 << index_bits entries */
    int32_t index_bits;          /* 2 or 4 */
} mcc_codebook_fast_s8;

/* Scratch bytes (word aligned): the pair table, widened columns and a staging row. */
int32_t mcc_conv2d_codebook_fast_s8_get_buffer_size(int32_t k_padded, int32_t index_bits);

/* 2-D convolution (params as for mcc_conv2d_fast_s8, its weights unused) on codebook weights. */
mcc_status mcc_conv2d_codebook_fast_s8(const mcc_conv_fast_params *params,
                                       const mcc_codebook_fast_s8 *filter,
                                       const mcc_dims *input_dims, const int8_t *input,
                                       const mcc_dims *output_dims, int8_t *output, void *scratch);

/* Scratch bytes (word aligned): the pair table and one widened input row. */
int32_t mcc_fully_connected_codebook_fast_s8_get_buffer_size(int32_t k_padded, int32_t index_bits);

/* Fully connected over `rows` input rows (params as for mcc_fully_connected_fast_s8, its
 * weights unused; k_padded a multiple of one index word's products) on codebook weights. */
mcc_status mcc_fully_connected_codebook_fast_s8(const mcc_fc_fast_params *params,
                                                const mcc_codebook_fast_s8 *filter, int32_t rows,
                                                const int8_t *input, int8_t *output, void *scratch);

/* ---- Packed int4 weights ------------------------------------------------------------------
 * TFLite's INT4 weights (two values per byte, -8..7, zero point 0, per-channel scales), each
 * output row's products padded with zeros to k_padded (a multiple of 8) and packed 8 to a
 * uint32 word. Fully connected: product k of a word in bits 4k..4k+3 (little endian: the bytes
 * are TFLite's, the lower index in the low nibble). conv: the nibbles in the order of the fast
 * codebook kernels (mcc_codebook_fast_s8 with 4-bit indices), per group of 4 products the bytes
 * k0 | k2 << 4 and k1 | k3 << 4. params as for mcc_fully_connected_fast_s8 /
 * mcc_conv2d_fast_s8 (k_padded a multiple of 8, weights unused, channels their 4 int32 per
 * output channel, one channel after the other); the same results as the int8 kernels on the
 * values widened, bit for bit (TFLM double rounding). */

/* Scratch bytes (word aligned): one input row widened to int16. */
int32_t mcc_fully_connected_int4_s8_get_buffer_size(int32_t k_padded);

mcc_status mcc_fully_connected_int4_s8(const mcc_fc_fast_params *params, const uint32_t *weights, int32_t rows,
                                       const int8_t *input, int8_t *output, void *scratch);

/* Scratch bytes (word aligned): those of mcc_conv2d_codebook_fast_s8 for 4-bit indices, which
 * runs the layer (out_c unused). */
int32_t mcc_conv2d_int4_s8_get_buffer_size(int32_t k_padded, int32_t out_c);

mcc_status mcc_conv2d_int4_s8(const mcc_conv_fast_params *params, const uint32_t *weights,
                              const mcc_dims *input_dims, const int8_t *input, const mcc_dims *output_dims,
                              int8_t *output, void *scratch);

/* ---- Shared weights (HashedNets, product quantization) -----------------------------------
 * Fully connected layers whose int8 weight matrix (units x depth) is built from shared values
 * with one scale (mcucompress/ir/shared_weights.py defines both expansions). Each gives byte
 * for byte the output of mcc_fully_connected_s8 on the expanded matrix. */

/* Hashed weights: w[u][d] = sign * values[bucket] from the hash of u * depth + d (uint32):
 *   h = (i + seed) * 0x9E3779B1; h ^= h >> 15; h *= 0x85EBCA77; h ^= h >> 13;
 *   bucket = ((uint64_t)h * buckets) >> 32; sign = h & 1 ? -1 : +1.
 * values are symmetric int8 (never -128), so negation stays in range. No weight indices are
 * stored. Buckets whose values take at most 16 distinct int8 values may be stored as index_bits
 * (1, 2 or 4) bit fields into a codebook instead: bucket b's value is codebook[(indices[b * bits
 * / 8] >> (b * bits % 8)) & (2^bits - 1)] (values then 0; with index_bits 0, codebook and indices 0). */
typedef struct {
    int32_t buckets;
    uint32_t seed;
    const int8_t *values;
    int32_t index_bits;
    const uint8_t *indices;
    const int8_t *codebook;      /* 2^index_bits entries */
} mcc_hashed_s8;

mcc_status mcc_fully_connected_hashed_s8(const mcc_fc_params *params, const mcc_quant *quant,
                                         const mcc_dims *input_dims, const int8_t *input,
                                         const mcc_dims *filter_dims, const mcc_hashed_s8 *filter,
                                         const int32_t *bias,
                                         const mcc_dims *output_dims, int8_t *output);

/* Product-quantized weights: the depth inputs are cut into subspaces sub-vectors of length
 * values; row u over sub-vector s is codeword k of codebook s (codebooks: subspaces x centroids
 * x length int8), stored as codes[u * subspaces + s] = k + (s % 4) * centroids: the entry's
 * place among the table entries of its group of four sub-spaces. */
typedef struct {
    int32_t subspaces;
    int32_t centroids;           /* 1..64 */
    int32_t length;
    const int8_t *codebooks;
    const uint8_t *codes;        /* units x subspaces */
} mcc_pq_s8;

/* Scratch words mcc_fully_connected_pq_s8 needs: one int32 partial sum per sub-space and
 * codeword, table[s * centroids + k] = sum_j (x[s * length + j] + input_offset) * codeword[j],
 * filled once per input row; each output then adds subspaces table entries. */
int32_t mcc_fully_connected_pq_s8_get_buffer_size(const mcc_pq_s8 *filter);

mcc_status mcc_fully_connected_pq_s8(const mcc_fc_params *params, const mcc_quant *quant,
                                     const mcc_dims *input_dims, const int8_t *input,
                                     const mcc_dims *filter_dims, const mcc_pq_s8 *filter,
                                     const int32_t *bias,
                                     const mcc_dims *output_dims, int8_t *output, int32_t *table);

#ifdef __cplusplus
}
#endif

#endif /* MCC_H */

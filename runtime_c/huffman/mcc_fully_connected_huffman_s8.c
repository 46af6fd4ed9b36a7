/* mcc_fully_connected_huffman_s8 - int8 fully connected layer with Huffman-coded weights.
 *
 * The weights are decoded while computing, one code at a time, with the canonical code's
 * (counts, symbols) tables: a few registers of state and no scratch buffer. Safety: the tables
 * are checked once per call (counts add up to num_symbols, so a decoded index is always inside
 * symbols, and the code is not over-subscribed), every bit read is checked against num_bits, every column against depth, and each
 * row ends after at most depth + 1 run codes, so malformed data returns MCC_ERROR_ARGUMENT. */
#include "mcc.h"
#include "mcc_nn.h"

typedef struct {
    const uint8_t *bits;
    uint32_t pos;
    uint32_t end;
} mcc_nn_bit_reader;

/* 0 when the table is a usable canonical code whose symbols lie in [lo, hi]: counts add up to
 * num_symbols and no length has more codes than remain free (not over-subscribed), which keeps
 * the decoder's code arithmetic below 2^16. */
static int mcc_nn_huffman_check(const mcc_huffman_table *t, int32_t lo, int32_t hi)
{
    int32_t len, i, total = 0, left = 1;
    if (t->max_len < 1 || t->max_len > MCC_HUFFMAN_MAX_BITS || t->num_symbols < 1) {
        return -1;
    }
    for (len = 0; len < t->max_len; ++len) {
        left = 2 * left - t->counts[len];
        if (left < 0) {
            return -1;
        }
        total += t->counts[len];
    }
    if (total != t->num_symbols) {
        return -1;
    }
    for (i = 0; i < t->num_symbols; ++i) {
        if (t->symbols[i] < lo || t->symbols[i] > hi) {
            return -1;
        }
    }
    return 0;
}

/* Decodes one symbol into *symbol; -1 when the stream ends or holds no valid code. */
MCC_INLINE int mcc_nn_huffman_decode(mcc_nn_bit_reader *r, const mcc_huffman_table *t,
                                     int32_t *symbol)
{
    int32_t code = 0, first = 0, index = 0, len;
    for (len = 0; len < t->max_len; ++len) {
        int32_t count;
        if (r->pos >= r->end) {
            return -1;
        }
        code |= (r->bits[r->pos >> 3] >> (r->pos & 7u)) & 1;
        ++r->pos;
        count = t->counts[len];
        if (code - first < count) {
            *symbol = t->symbols[index + code - first];
            return 0;
        }
        index += count;
        first = (first + count) << 1;
        code <<= 1;
    }
    return -1;
}

mcc_status mcc_fully_connected_huffman_s8(const mcc_fc_params *params, const mcc_quant *quant,
                                          const mcc_dims *input_dims, const int8_t *input,
                                          const mcc_dims *filter_dims,
                                          const mcc_huffman_s8 *filter, const int32_t *bias,
                                          const mcc_dims *output_dims, int8_t *output)
{
    const int32_t depth = filter_dims->c;
    const int32_t units = filter_dims->n;
    const int32_t batches = input_dims->n;
    const int32_t input_offset = params->input_offset;
    const int32_t filter_offset = params->filter_offset;
    const int sparse = filter->runs.num_symbols != 0;
    int32_t b, u, d;

    if (output_dims->c != units || depth <= 0 || filter->num_bits < 0 ||
        (int64_t)input_dims->h * input_dims->w * input_dims->c != depth ||
        mcc_nn_huffman_check(&filter->values, -128, 127) != 0 ||
        (sparse && mcc_nn_huffman_check(&filter->runs, -1, depth - 1) != 0)) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < batches; ++b) {
        const int8_t *row = input + (int64_t)b * depth;
        mcc_nn_bit_reader reader;
        reader.bits = filter->bits;
        reader.pos = 0;
        reader.end = (uint32_t)filter->num_bits;
        for (u = 0; u < units; ++u) {
            const int32_t q = quant->per_channel ? u : 0;
            int32_t acc = 0;
            int32_t value;
            if (sparse) {
                int32_t col = -1;
                int32_t run;
                for (;;) { /* each pass moves col on by at least one, checked below depth */
                    if (mcc_nn_huffman_decode(&reader, &filter->runs, &run) != 0) {
                        return MCC_ERROR_ARGUMENT;
                    }
                    if (run < 0) {
                        break; /* end of row */
                    }
                    col += run + 1;
                    if (col >= depth ||
                        mcc_nn_huffman_decode(&reader, &filter->values, &value) != 0) {
                        return MCC_ERROR_ARGUMENT;
                    }
                    acc += (row[col] + input_offset) * (value + filter_offset);
                }
            } else {
                for (d = 0; d < depth; ++d) {
                    if (mcc_nn_huffman_decode(&reader, &filter->values, &value) != 0) {
                        return MCC_ERROR_ARGUMENT;
                    }
                    acc += (row[d] + input_offset) * (value + filter_offset);
                }
            }
            if (bias != 0) {
                acc += bias[u];
            }
            *output++ = (int8_t)mcc_nn_requantize_output(acc, quant, q, params->output_offset,
                                                         &params->activation);
        }
    }
    return MCC_OK;
}

/* mcc_fully_connected_huffman_s8 - int8 fully connected layer with Huffman-coded weights.
 *
 * The weights are decoded while computing, one code at a time: no scratch buffer. Per call the
 * canonical (counts, symbols) tables are turned, on the stack, into a 256-entry lookup table
 * for codes of up to 8 bits, each entry the symbol itself and the code's length, and per-length
 * limits for longer ones (2 x 1,172 bytes for the two tables). A 32-bit bit buffer holds the next
 * stream bits at its top, refilled two bytes at a time whenever 16 bits or fewer are left in it; a
 * longer code's length is found by comparing its top 16 bits with the limits (canonical codes,
 * left-justified, grow with their length). With both offsets 0 (code generation folds the input
 * offset into the bias) a weight costs one multiply-accumulate on its decoded value.
 *
 * Safety: the tables are checked (counts add up to num_symbols and are not over-subscribed, so a
 * decoded index is always inside symbols; symbols lie in range), no code may run past num_bits
 * (a table hit past the end only reads zero bits and is caught when its row ends),
 * every column is checked against depth, and a row ends after at most depth + 1 run codes, so
 * malformed data returns MCC_ERROR_ARGUMENT and never reads or writes out of bounds. */
#include "mcc.h"
#include "mcc_nn.h"

/* Codes of at most this many bits decode with one table lookup. */
#define MCC_NN_HUFFMAN_LUT_BITS 8

typedef struct {
    int32_t lut[1 << MCC_NN_HUFFMAN_LUT_BITS]; /* next 8 bits -> symbol * 16 + length;
                                                * length 0: longer code, search the limits */
    int32_t limit[MCC_HUFFMAN_MAX_BITS + 2];  /* (first code past length l) << (16 - l); a
                                               * sentinel above any 16-bit window at max_len + 1 */
    int32_t offset[MCC_HUFFMAN_MAX_BITS + 2]; /* symbols index of length l's codes - first code */
    const int16_t *symbols;
    int32_t min_len; /* shortest code length in use: the search starts there */
    int32_t max_len;
} mcc_nn_huffman_decoder;

typedef struct {
    const uint8_t *bytes;
    uint32_t next_byte;
    uint32_t num_bytes;
    uint32_t buffer;   /* unread bits, first one at bit 31 */
    int32_t buffered;  /* valid bits in buffer */
    int32_t num_bits;  /* bits in the stream */
} mcc_nn_bit_reader;

/* Bits of the stream not yet consumed (negative once codes ran past its end): the bits loaded
 * so far less those still buffered. */
MCC_INLINE int64_t mcc_nn_bits_left(const mcc_nn_bit_reader *r)
{
    return (int64_t)r->num_bits - 8 * (int64_t)r->next_byte + r->buffered;
}

/* 0 when t is a usable canonical code with symbols in [lo, hi]; fills d. */
static int mcc_nn_huffman_prepare(const mcc_huffman_table *t, int32_t lo, int32_t hi,
                                  mcc_nn_huffman_decoder *d)
{
    int32_t len, i, first = 0, index = 0, left = 1;
    if (t->max_len < 1 || t->max_len > MCC_HUFFMAN_MAX_BITS || t->num_symbols < 1) {
        return -1;
    }
    for (i = 0; i < (1 << MCC_NN_HUFFMAN_LUT_BITS); ++i) {
        d->lut[i] = 0;
    }
    d->limit[0] = 0;
    d->offset[0] = 0;
    d->min_len = 0;
    for (len = 1; len <= t->max_len; ++len) {
        const int32_t count = t->counts[len - 1];
        left = 2 * left - count;
        if (left < 0) { /* over-subscribed: more codes than fit this length */
            return -1;
        }
        if (count != 0 && d->min_len == 0) {
            d->min_len = len;
        }
        d->offset[len] = index - first;
        d->limit[len] = (first + count) << (16 - len);
        if (len <= MCC_NN_HUFFMAN_LUT_BITS) {
            /* Not over-subscribed: first + count <= 2^len, so the entries stay inside lut. */
            const int32_t span = 1 << (MCC_NN_HUFFMAN_LUT_BITS - len);
            int32_t c, j;
            for (c = 0; c < count && index + c < t->num_symbols; ++c) {
                for (j = 0; j < span; ++j) {
                    d->lut[((first + c) << (MCC_NN_HUFFMAN_LUT_BITS - len)) + j] =
                        (int32_t)((uint32_t)t->symbols[index + c] << 4) | len;
                }
            }
        }
        index += count;
        first = (first + count) << 1;
    }
    if (index != t->num_symbols || d->min_len == 0) {
        return -1;
    }
    d->limit[t->max_len + 1] = 0x10000;
    d->offset[t->max_len + 1] = 0;
    for (i = 0; i < t->num_symbols; ++i) {
        if (t->symbols[i] < lo || t->symbols[i] > hi) {
            return -1;
        }
    }
    d->symbols = t->symbols;
    d->max_len = t->max_len;
    return 0;
}

/* Tops the bit buffer up to more than 24 bits while stream bytes are left. */
MCC_INLINE void mcc_nn_refill(mcc_nn_bit_reader *r)
{
    while (r->buffered <= 24 && r->next_byte < r->num_bytes) {
        r->buffer |= (uint32_t)r->bytes[r->next_byte++] << (24 - r->buffered);
        r->buffered += 8;
    }
}

/* A longer code (no table hit): its length from the limits; -1 when none ends in the stream. */
MCC_INLINE int mcc_nn_huffman_decode_long(mcc_nn_bit_reader *r, const mcc_nn_huffman_decoder *d,
                                      int32_t *symbol)
{
    const int32_t window = (int32_t)(r->buffer >> 16);
    /* No table hit: no code of up to MCC_NN_HUFFMAN_LUT_BITS bits matches, so the search
     * starts past them (every shorter limit is at most the window). */
    int32_t len = d->min_len > MCC_NN_HUFFMAN_LUT_BITS ? d->min_len : MCC_NN_HUFFMAN_LUT_BITS + 1;
    if (len > d->max_len) { /* limits past max_len + 1 are not set */
        return -1;
    }
    while (window >= d->limit[len]) { /* ends at max_len + 1 at the latest (sentinel) */
        ++len;
    }
    /* len <= bits left also means len <= buffered: at least 16 bits (>= MCC_HUFFMAN_MAX_BITS)
     * are buffered before each code while stream bytes are left. */
    if (len > d->max_len || len > mcc_nn_bits_left(r)) {
        return -1;
    }
    *symbol = d->symbols[d->offset[len] + (window >> (16 - len))];
    r->buffer <<= len;
    r->buffered -= len;
    return 0;
}

/* Decodes one symbol into *symbol; -1 when no valid code ends within the stream. A table hit
 * is not checked against the stream's end: past it only zero bits are read, the bits left go
 * negative and the caller rejects the row. Everything is inlined, so the caller's reader stays
 * in registers. */
MCC_INLINE int mcc_nn_huffman_decode(mcc_nn_bit_reader *r, const mcc_nn_huffman_decoder *d,
                                     int32_t *symbol)
{
    int32_t entry, len;
    if (r->buffered <= 16) { /* two bytes at once while they last, then byte by byte */
        if (r->next_byte + 1u < r->num_bytes) {
            const uint32_t two = ((uint32_t)r->bytes[r->next_byte] << 8) | r->bytes[r->next_byte + 1u];
            r->buffer |= two << (16 - r->buffered);
            r->buffered += 16;
            r->next_byte += 2u;
        } else {
            mcc_nn_refill(r);
        }
    }
    entry = d->lut[r->buffer >> (32 - MCC_NN_HUFFMAN_LUT_BITS)];
    len = entry & 15;
    if (len == 0) {
        return mcc_nn_huffman_decode_long(r, d, symbol);
    }
    *symbol = entry >> 4;
    r->buffer <<= len;
    r->buffered -= len;
    return 0;
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
    mcc_nn_huffman_decoder values, runs;
    int32_t b, u, d;

    if (output_dims->c != units || depth <= 0 || filter->num_bits < 0 ||
        (int64_t)input_dims->h * input_dims->w * input_dims->c != depth ||
        mcc_nn_huffman_prepare(&filter->values, -128, 127, &values) != 0 ||
        (sparse && mcc_nn_huffman_prepare(&filter->runs, -1, depth - 1, &runs) != 0)) {
        return MCC_ERROR_ARGUMENT;
    }
    for (b = 0; b < batches; ++b) {
        const int8_t *row = input + (int64_t)b * depth;
        mcc_nn_bit_reader reader;
        reader.bytes = filter->bits;
        reader.next_byte = 0;
        reader.num_bytes = ((uint32_t)filter->num_bits + 7u) / 8u;
        reader.buffer = 0;
        reader.buffered = 0;
        reader.num_bits = filter->num_bits;
        for (u = 0; u < units; ++u) {
            const int32_t q = quant->per_channel ? u : 0;
            int32_t acc = 0;
            int32_t value;
            if (sparse) {
                int32_t col = -1;
                int32_t run;
                for (;;) { /* each pass moves col on by at least one, checked below depth */
                    if (mcc_nn_huffman_decode(&reader, &runs, &run) != 0) {
                        return MCC_ERROR_ARGUMENT;
                    }
                    if (run < 0) {
                        break; /* end of row */
                    }
                    col += run + 1;
                    if (col >= depth || mcc_nn_huffman_decode(&reader, &values, &value) != 0) {
                        return MCC_ERROR_ARGUMENT;
                    }
                    acc += (row[col] + input_offset) * (value + filter_offset);
                }
            } else if (input_offset == 0 && filter_offset == 0) {
                for (d = 0; d < depth; ++d) {
                    if (mcc_nn_huffman_decode(&reader, &values, &value) != 0) {
                        return MCC_ERROR_ARGUMENT;
                    }
                    acc += row[d] * value;
                }
            } else {
                for (d = 0; d < depth; ++d) {
                    if (mcc_nn_huffman_decode(&reader, &values, &value) != 0) {
                        return MCC_ERROR_ARGUMENT;
                    }
                    acc += (row[d] + input_offset) * (value + filter_offset);
                }
            }
            if (mcc_nn_bits_left(&reader) < 0) { /* the row read past the stream */
                return MCC_ERROR_ARGUMENT;
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

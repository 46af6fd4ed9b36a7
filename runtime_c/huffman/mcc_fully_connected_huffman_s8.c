/* mcc_fully_connected_huffman_s8 - int8 fully connected layer with Huffman-coded weights.
 *
 * The weights are decoded while computing, one code at a time: no scratch buffer. Per call the
 * canonical (counts, symbols) tables are turned, on the stack, into a 256-entry lookup table
 * for codes of up to 8 bits and per-length limits for longer ones (2 x 1,176 bytes for the two
 * tables). An entry holds the code's length in its low byte, so that a shift by the entry moves
 * a window past the code; a value entry holds the symbol in its top half (a halfword multiply
 * takes it as is), a run entry the column step run + 1 from bit 8 - the end-of-row code and
 * every longer code a step past any row (MCC_NN_HUFFMAN_STOP), so that one column check sends
 * both out of the fast loop. The stream is read most significant bit first. Sparse rows read it
 * by position: the four bytes at bit pos >> 3, as a big-endian word shifted left by pos & 7, hold
 * its next 25 bits or more - a run and a value code of up to 8 bits each per load. Dense rows
 * (shorter codes) read it through a bit buffer refilled two bytes at a time. A longer code's length is found by
 * comparing the window's top 16 bits with the limits (canonical codes, left-justified, grow with
 * their length). With both offsets 0 (code generation folds the input offset into the bias) a
 * weight costs one multiply-accumulate on its decoded value.
 *
 * Safety: the tables are checked (counts add up to num_symbols and are not over-subscribed, so a
 * decoded index is always inside symbols; symbols lie in range), no code may end past num_bits
 * (bytes past the stream read as zero, and the fast loop runs only while the four bytes it
 * loads and the 16 bits its two codes take lie inside the stream), every column is checked
 * against depth, and a row ends after at most depth + 1 run codes, so malformed data returns
 * MCC_ERROR_ARGUMENT and never reads or writes out of bounds. */
#include <string.h>

#include "mcc.h"
#include "mcc_nn.h"

/* Codes of at most this many bits decode with one table lookup. */
#define MCC_NN_HUFFMAN_LUT_BITS 8
/* Column step of the end-of-row code and of a run code longer than the table: past any row
 * (sparse layers are at most this deep), while step * 256 stays inside an int32_t. */
#define MCC_NN_HUFFMAN_STOP (1 << 22)

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
#define MCC_NN_HUFFMAN_BSWAP 1
#else
#define MCC_NN_HUFFMAN_BSWAP 0
#endif

typedef struct {
    int32_t lut[1 << MCC_NN_HUFFMAN_LUT_BITS]; /* next 8 bits -> entry; length byte 0: longer code */
    int32_t limit[MCC_HUFFMAN_MAX_BITS + 2];  /* (first code past length l) << (16 - l); a
                                               * sentinel above any 16-bit window at max_len + 1 */
    int32_t offset[MCC_HUFFMAN_MAX_BITS + 2]; /* symbols index of length l's codes - first code */
    const int16_t *symbols;
    int32_t min_len; /* shortest code length in use: the search starts there */
    int32_t max_len;
    int runs;        /* run table: entries hold column steps */
} mcc_nn_huffman_decoder;

typedef struct {
    const uint8_t *bytes;
    uint32_t num_bytes;
    uint32_t num_bits;
    uint32_t fast_end; /* the fast loops run while pos <= fast_end */
    int fast;          /* the stream is long enough for them at all */
} mcc_nn_bit_reader;

/* The table entry of a code: its length in the low byte, a value in the top half, a run's
 * column step (run + 1, or MCC_NN_HUFFMAN_STOP at the end of a row) from bit 8. */
MCC_INLINE int32_t mcc_nn_huffman_entry(int runs, int32_t symbol, int32_t len)
{
    if (runs) {
        return (symbol < 0 ? MCC_NN_HUFFMAN_STOP : symbol + 1) * 256 + len;
    }
    return (int32_t)((uint32_t)symbol << 16) | len;
}

/* 0 when t is a usable canonical code with symbols in [lo, hi]; fills d. */
static int mcc_nn_huffman_prepare(const mcc_huffman_table *t, int32_t lo, int32_t hi, int runs,
                                  mcc_nn_huffman_decoder *d)
{
    int32_t len, i, first = 0, index = 0, left = 1, filled = 0;
    if (t->max_len < 1 || t->max_len > MCC_HUFFMAN_MAX_BITS || t->num_symbols < 1) {
        return -1;
    }
    d->runs = runs;
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
                const int32_t s = t->symbols[index + c];
                if (s < lo || s > hi) {
                    return -1;
                }
                const int32_t e = mcc_nn_huffman_entry(runs, s, len);
                for (j = 0; j < span; ++j) {
                    d->lut[((first + c) << (MCC_NN_HUFFMAN_LUT_BITS - len)) + j] = e;
                }
            }
            filled = (first + count) << (MCC_NN_HUFFMAN_LUT_BITS - len);
        }
        index += count;
        first = (first + count) << 1;
    }
    if (index != t->num_symbols || d->min_len == 0) {
        return -1;
    }
    /* Canonical codes fill the table from entry 0 up: the rest starts longer codes. */
    for (i = filled; i < (1 << MCC_NN_HUFFMAN_LUT_BITS); ++i) {
        d->lut[i] = runs ? MCC_NN_HUFFMAN_STOP * 256 : 0;
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

/* The four stream bytes at p as a big-endian word: the first stream bit at bit 31. */
MCC_INLINE uint32_t mcc_nn_huffman_load(const uint8_t *p)
{
#if MCC_NN_HUFFMAN_BSWAP
    uint32_t w;
    memcpy(&w, p, 4);
    return __builtin_bswap32(w);
#else
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
#endif
}

/* The stream bits from pos at the top of a word (25 or more of them); bytes past the stream read
 * as 0. */
MCC_INLINE uint32_t mcc_nn_huffman_window(const mcc_nn_bit_reader *r, uint32_t pos)
{
    const uint32_t at = pos >> 3;
    uint32_t w = 0, i;
    if (r->fast && pos <= r->fast_end) {
        w = mcc_nn_huffman_load(r->bytes + at);
    } else {
        for (i = 0; i < 4; ++i) {
            w |= (at + i < r->num_bytes ? (uint32_t)r->bytes[at + i] : 0u) << (24 - 8 * i);
        }
    }
    return w << (pos & 7u);
}

/* The length of the longer code at the top of window w (no table hit), from the limits; 0 when
 * no code of d ends there. */
MCC_INLINE int32_t mcc_nn_huffman_long_length(const mcc_nn_huffman_decoder *d, uint32_t w)
{
    const int32_t window = (int32_t)(w >> 16);
    /* No table hit: no code of up to MCC_NN_HUFFMAN_LUT_BITS bits matches, so the search
     * starts past them (every shorter limit is at most the window). */
    int32_t len = d->min_len > MCC_NN_HUFFMAN_LUT_BITS ? d->min_len : MCC_NN_HUFFMAN_LUT_BITS + 1;
    if (len > d->max_len) { /* limits past max_len + 1 are not set */
        return 0;
    }
    while (window >= d->limit[len]) { /* ends at max_len + 1 at the latest (sentinel) */
        ++len;
    }
    return len > d->max_len ? 0 : len;
}

/* The table entry of the longer code of length len at the top of window w. */
MCC_INLINE int32_t mcc_nn_huffman_long_entry(const mcc_nn_huffman_decoder *d, uint32_t w, int32_t len)
{
    return mcc_nn_huffman_entry(d->runs, d->symbols[d->offset[len] + (int32_t)(w >> (32 - len))], len);
}

/* Position past the code at pos, its table entry in *entry; MCC_NN_HUFFMAN_BAD when no valid
 * code ends within the stream. */
#define MCC_NN_HUFFMAN_BAD 0xFFFFFFFFu
static uint32_t mcc_nn_huffman_decode(const mcc_nn_bit_reader *r, const mcc_nn_huffman_decoder *d,
                                      uint32_t pos, int32_t *entry)
{
    const uint32_t w = mcc_nn_huffman_window(r, pos);
    int32_t e = d->lut[w >> (32 - MCC_NN_HUFFMAN_LUT_BITS)];
    int32_t len = e & 255;
    if (len == 0) {
        len = mcc_nn_huffman_long_length(d, w);
        if (len == 0) {
            return MCC_NN_HUFFMAN_BAD;
        }
        e = mcc_nn_huffman_long_entry(d, w, len);
    }
    if ((uint32_t)len > r->num_bits - pos) { /* pos <= num_bits: every code ended inside */
        return MCC_NN_HUFFMAN_BAD;
    }
    *entry = e;
    return pos + (uint32_t)len;
}

/* Sparse rows: (run, value) pairs while both codes hit the tables and the stream leaves room,
 * from column *col and bit *pos (<= fast_end); stops before the pair it cannot take, or after
 * the stream position passed fast_end. Returns the run entry it stopped at (0 for the latter). */
MCC_INLINE int32_t mcc_nn_huffman_fast_pairs(const mcc_nn_bit_reader *r, const int32_t *run_lut,
                                             const int32_t *value_lut, const int8_t *row, int32_t depth,
                                             uint32_t *pos_io, int32_t *col_io, int32_t *acc_io)
{
    uint32_t pos = *pos_io;
    int32_t acc = *acc_io;
    int32_t e;
#if MCC_HAVE_DSP_ASM
    {
        /* The column as an address: row + col (the steps stay far below the top of memory). */
        uint32_t p = (uint32_t)row + (uint32_t)*col_io;
        const uint32_t end = (uint32_t)row + (uint32_t)depth;
        uint32_t w, t;
        /* 21 instructions per pair: each shift and length add takes the entry's low byte. */
        __asm__ volatile("1:\n\t"
                         "lsr %[t], %[pos], #3\n\t"
                         "ldr %[w], [%[bytes], %[t]]\n\t"
                         "rev %[w], %[w]\n\t"
                         "and %[t], %[pos], #7\n\t"
                         "lsl %[w], %[w], %[t]\n\t"
                         "lsr %[t], %[w], #24\n\t"
                         "ldr %[e], [%[rl], %[t], lsl #2]\n\t"
                         "add %[p], %[p], %[e], asr #8\n\t"
                         "cmp %[p], %[end]\n\t"
                         "bhs 8f\n\t"
                         "lsl %[w], %[w], %[e]\n\t"
                         "uxtab %[pos], %[pos], %[e]\n\t"
                         "lsr %[t], %[w], #24\n\t"
                         "ldr %[t], [%[vl], %[t], lsl #2]\n\t"
                         "tst %[t], #255\n\t"
                         "beq 7f\n\t"
                         "uxtab %[pos], %[pos], %[t]\n\t"
                         "ldrsb %[w], [%[p]]\n\t"
                         "smlatb %[acc], %[t], %[w], %[acc]\n\t"
                         "cmp %[pos], %[fend]\n\t"
                         "bls 1b\n\t"
                         "movs %[e], #0\n\t"
                         "b 9f\n"
                         "7:\n\t" /* a longer value code: back to the pair's start */
                         "uxtb %[t], %[e]\n\t"
                         "sub %[pos], %[pos], %[t]\n"
                         "8:\n\t" /* end of row, longer run code or bad column: the same */
                         "sub %[p], %[p], %[e], asr #8\n"
                         "9:"
                         : [pos] "+r"(pos), [p] "+r"(p), [acc] "+r"(acc), [w] "=&r"(w), [t] "=&r"(t),
                           [e] "=&r"(e)
                         : [bytes] "r"(r->bytes), [rl] "r"(run_lut), [vl] "r"(value_lut), [end] "r"(end),
                           [fend] "r"(r->fast_end)
                         : "cc", "memory");
        *col_io = (int32_t)(p - (uint32_t)row);
    }
#else
    {
        const uint32_t fast_end = r->fast_end;
        int32_t col = *col_io;
        for (;;) {
            uint32_t w = mcc_nn_huffman_load(r->bytes + (pos >> 3)) << (pos & 7u);
            int32_t v;
            e = run_lut[w >> (32 - MCC_NN_HUFFMAN_LUT_BITS)];
            if ((uint32_t)(col + (e >> 8)) >= (uint32_t)depth) {
                break; /* end of row, longer run code or bad column */
            }
            w <<= e & 255;
            v = value_lut[w >> (32 - MCC_NN_HUFFMAN_LUT_BITS)];
            if ((v & 255) == 0) {
                break; /* a longer value code */
            }
            col += e >> 8;
            pos += (uint32_t)(e & 255) + (uint32_t)(v & 255);
            acc += (v >> 16) * row[col];
            if (pos > fast_end) {
                e = 0;
                break;
            }
        }
        *col_io = col;
    }
#endif
    *pos_io = pos;
    *acc_io = acc;
    return e;
}

/* Dense rows: a 32-bit bit buffer holds the next stream bits at its top, refilled two bytes at a
 * time whenever 16 bits or fewer are left in it (cheaper per code than a word load, as dense
 * codes are short); a table hit is not checked against the stream's end: past it only zero bits
 * are read, the bits left go negative and the row is rejected. */
typedef struct {
    const uint8_t *bytes;
    uint32_t next_byte;
    uint32_t num_bytes;
    uint32_t buffer;   /* unread bits, first one at bit 31 */
    int32_t buffered;  /* valid bits in buffer */
    int32_t num_bits;  /* bits in the stream */
} mcc_nn_bit_buffer;

/* Bits of the stream not yet consumed (negative once codes ran past its end). */
MCC_INLINE int64_t mcc_nn_buffer_bits_left(const mcc_nn_bit_buffer *r)
{
    return (int64_t)r->num_bits - 8 * (int64_t)r->next_byte + r->buffered;
}

/* Decodes one value into *value; -1 when no valid code ends within the stream. Inlined, so the
 * caller's buffer stays in registers. */
MCC_INLINE int mcc_nn_buffer_decode(mcc_nn_bit_buffer *r, const mcc_nn_huffman_decoder *d, int32_t *value)
{
    int32_t entry, len;
    if (r->buffered <= 16) { /* two bytes at once while they last, then byte by byte */
        if (r->next_byte + 1u < r->num_bytes) {
            const uint32_t two = ((uint32_t)r->bytes[r->next_byte] << 8) | r->bytes[r->next_byte + 1u];
            r->buffer |= two << (16 - r->buffered);
            r->buffered += 16;
            r->next_byte += 2u;
        } else {
            while (r->buffered <= 24 && r->next_byte < r->num_bytes) {
                r->buffer |= (uint32_t)r->bytes[r->next_byte++] << (24 - r->buffered);
                r->buffered += 8;
            }
        }
    }
    entry = d->lut[r->buffer >> (32 - MCC_NN_HUFFMAN_LUT_BITS)];
    len = entry & 255;
    if (len == 0) {
        /* len <= bits left also means len <= buffered: at least 16 bits (>= MCC_HUFFMAN_MAX_BITS)
         * are buffered before each code while stream bytes are left. */
        len = mcc_nn_huffman_long_length(d, r->buffer);
        if (len == 0 || len > mcc_nn_buffer_bits_left(r)) {
            return -1;
        }
        *value = d->symbols[d->offset[len] + (int32_t)(r->buffer >> (32 - len))];
    } else {
        *value = entry >> 16;
    }
    r->buffer <<= len;
    r->buffered -= len;
    return 0;
}

/* Output u of a row from its accumulator: bias, then mcc_fully_connected_s8's requantization. */
MCC_INLINE int8_t mcc_nn_huffman_output(int32_t acc, int32_t u, const int32_t *bias, const mcc_quant *quant,
                                        const mcc_fc_params *params)
{
    if (bias != 0) {
        acc += bias[u];
    }
    return (int8_t)mcc_nn_requantize_output(acc, quant, quant->per_channel ? u : 0, params->output_offset,
                                            &params->activation);
}

/* The dense layout: every row's depth value codes in turn, read through the bit buffer. A function
 * of its own, so that the buffer and the accumulator keep registers of their own. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static mcc_status mcc_nn_huffman_dense(const mcc_fc_params *params, const mcc_quant *quant, const int8_t *input,
                                       int32_t batches, int32_t depth, int32_t units, const mcc_huffman_s8 *filter,
                                       const mcc_nn_huffman_decoder *values, const int32_t *bias, int8_t *output)
{
    const int32_t input_offset = params->input_offset;
    const int32_t filter_offset = params->filter_offset;
    int32_t b, u, d;
    for (b = 0; b < batches; ++b) {
        const int8_t *row = input + (int64_t)b * depth;
        mcc_nn_bit_buffer buf;
        buf.bytes = filter->bits;
        buf.next_byte = 0;
        buf.num_bytes = ((uint32_t)filter->num_bits + 7u) / 8u;
        buf.buffer = 0;
        buf.buffered = 0;
        buf.num_bits = filter->num_bits;
        for (u = 0; u < units; ++u) {
            int32_t acc = 0;
            int32_t value;
            if (input_offset == 0 && filter_offset == 0) {
                for (d = 0; d < depth; ++d) {
                    if (mcc_nn_buffer_decode(&buf, values, &value) != 0) {
                        return MCC_ERROR_ARGUMENT;
                    }
                    acc += row[d] * value;
                }
            } else {
                for (d = 0; d < depth; ++d) {
                    if (mcc_nn_buffer_decode(&buf, values, &value) != 0) {
                        return MCC_ERROR_ARGUMENT;
                    }
                    acc += (row[d] + input_offset) * (value + filter_offset);
                }
            }
            if (mcc_nn_buffer_bits_left(&buf) < 0) { /* the row read past the stream */
                return MCC_ERROR_ARGUMENT;
            }
            *output++ = mcc_nn_huffman_output(acc, u, bias, quant, params);
        }
    }
    return MCC_OK;
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
    const int folded = input_offset == 0 && filter_offset == 0;
    mcc_nn_huffman_decoder values, runs;
    mcc_nn_bit_reader reader;
    int32_t b, u;

    if (output_dims->c != units || depth <= 0 || filter->num_bits < 0 ||
        (int64_t)input_dims->h * input_dims->w * input_dims->c != depth ||
        (sparse && depth >= MCC_NN_HUFFMAN_STOP) ||
        mcc_nn_huffman_prepare(&filter->values, -128, 127, 0, &values) != 0 ||
        (sparse && mcc_nn_huffman_prepare(&filter->runs, -1, depth - 1, 1, &runs) != 0)) {
        return MCC_ERROR_ARGUMENT;
    }
    if (!sparse) {
        return mcc_nn_huffman_dense(params, quant, input, batches, depth, units, filter, &values, bias, output);
    }
    reader.bytes = filter->bits;
    reader.num_bits = (uint32_t)filter->num_bits;
    reader.num_bytes = (reader.num_bits + 7u) / 8u;
    /* Up to there a word load stays inside the stream and two table codes (16 bits) end in it. */
    reader.fast = reader.num_bytes >= 4u;
    reader.fast_end = reader.fast ? 8u * (reader.num_bytes - 4u) : 0u;
    for (b = 0; b < batches; ++b) {
        const int8_t *row = input + (int64_t)b * depth;
        uint32_t pos = 0;
        for (u = 0; u < units; ++u) {
            int32_t acc = 0;
            int32_t entry;
            {
                int32_t col = -1;
                for (;;) { /* each pass moves col on by at least one, checked below depth */
                    if (folded && reader.fast && pos <= reader.fast_end) {
                        const int32_t stop = mcc_nn_huffman_fast_pairs(&reader, runs.lut, values.lut, row, depth,
                                                                       &pos, &col, &acc);
                        if ((stop >> 8) == MCC_NN_HUFFMAN_STOP && pos <= reader.fast_end) {
                            /* Room for two codes of up to 15 bits after pos (fast_end leaves 32). */
                            const uint32_t w = mcc_nn_huffman_load(reader.bytes + (pos >> 3)) << (pos & 7u);
                            const int32_t len = stop & 255;
                            if (len != 0) { /* end of row */
                                pos += (uint32_t)len;
                                break;
                            } else { /* a longer run code, then its value */
                                const int32_t n = mcc_nn_huffman_long_length(&runs, w);
                                int32_t step;
                                if (n == 0) {
                                    return MCC_ERROR_ARGUMENT;
                                }
                                step = mcc_nn_huffman_long_entry(&runs, w, n) >> 8;
                                pos += (uint32_t)n;
                                if (step == MCC_NN_HUFFMAN_STOP) {
                                    break;
                                }
                                col += step;
                                if (col >= depth) {
                                    return MCC_ERROR_ARGUMENT;
                                }
                                entry = values.lut[(w << n) >> (32 - MCC_NN_HUFFMAN_LUT_BITS)];
                                if ((entry & 255) != 0) {
                                    pos += (uint32_t)(entry & 255);
                                } else if ((pos = mcc_nn_huffman_decode(&reader, &values, pos, &entry)) ==
                                           MCC_NN_HUFFMAN_BAD) {
                                    return MCC_ERROR_ARGUMENT;
                                }
                                acc += row[col] * (entry >> 16);
                                continue;
                            }
                        }
                    }
                    if ((pos = mcc_nn_huffman_decode(&reader, &runs, pos, &entry)) == MCC_NN_HUFFMAN_BAD) {
                        return MCC_ERROR_ARGUMENT;
                    }
                    if ((entry >> 8) == MCC_NN_HUFFMAN_STOP) {
                        break; /* end of row */
                    }
                    col += entry >> 8;
                    if (col >= depth ||
                        (pos = mcc_nn_huffman_decode(&reader, &values, pos, &entry)) == MCC_NN_HUFFMAN_BAD) {
                        return MCC_ERROR_ARGUMENT;
                    }
                    acc += (row[col] + input_offset) * ((entry >> 16) + filter_offset);
                }
            }
            *output++ = mcc_nn_huffman_output(acc, u, bias, quant, params);
        }
    }
    return MCC_OK;
}

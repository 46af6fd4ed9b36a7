/* mcc_fully_connected_huffman_lut_s8 - int8 fully connected layer with Huffman-coded weights
 * and a multi-symbol lookup table made at export (mcucompress/encode/huffman.py).
 *
 * One table lookup on the next lookup_bits stream bits yields every code that ends within them
 * (up to three weights) and the bits they take. The weights of a row are decoded in chunks of
 * up to MCC_NN_LUT_CHUNK into a stack buffer - each lookup stores its entry's three symbol
 * bytes as one word and moves on by its symbol count, so symbols past the chunk stay for the
 * next one (rows follow each other in the stream) - then multiplied with the input, four
 * weights to two SMLADs on DSP cores. A 32-bit window is loaded (one unaligned word, byte
 * swapped) per two lookups: after at most 7 + 12 bits it still holds the next 12.
 *
 * Safety: lookups read only lookup[0 .. 2^lookup_bits - 1] and take at most 15 bits; a fill
 * runs without bounds checks only when every stream word it can read lies inside the stream,
 * otherwise the checked loop (bytes past the stream read as 0) runs. The buffer has room for
 * the largest overshoot. A row set whose last lookup starts past num_bits is rejected. */
#include <string.h>

#include "mcc.h"
#include "mcc_nn.h"

#define MCC_NN_LUT_CHUNK 128
#define MCC_NN_LUT_LEN_SHIFT 28 /* entry bits 28-31: bits taken */
#define MCC_NN_LUT_MAX_TAKEN 15

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define MCC_NN_LUT_LITTLE_ENDIAN 1
#else
#define MCC_NN_LUT_LITTLE_ENDIAN 0
#endif

/* The 32 stream bits starting at byte p, first one at bit 31 (any alignment). */
MCC_INLINE uint32_t mcc_nn_lut_load(const uint8_t *p)
{
#if MCC_NN_LUT_LITTLE_ENDIAN && defined(__GNUC__)
    uint32_t w;
    memcpy(&w, p, 4);
    return __builtin_bswap32(w);
#else
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
#endif
}

/* The same near the end: bytes at or past num_bytes read as 0. */
static uint32_t mcc_nn_lut_load_checked(const uint8_t *bytes, uint32_t at, uint32_t num_bytes)
{
    uint32_t w = 0, i;
    for (i = 0; i < 4; ++i) {
        w = (w << 8) | (at + i < num_bytes ? bytes[at + i] : 0u);
    }
    return w;
}

/* An entry's three symbol bytes at buf (the fourth byte written is overwritten later or unused);
 * returns how many of them are symbols. */
MCC_INLINE int32_t mcc_nn_lut_put(int8_t *buf, uint32_t entry)
{
#if MCC_NN_LUT_LITTLE_ENDIAN
    memcpy(buf, &entry, 4);
#else
    buf[0] = (int8_t)(entry & 0xFFu);
    buf[1] = (int8_t)((entry >> 8) & 0xFFu);
    buf[2] = (int8_t)((entry >> 16) & 0xFFu);
#endif
    return (int32_t)((entry >> 24) & 3u) + 1;
}

typedef struct {
    const uint8_t *bytes;
    uint32_t num_bytes;
    const uint32_t *lookup;
    uint32_t shift;     /* 32 - lookup_bits */
    uint32_t pos;       /* next stream bit */
    uint32_t last;      /* where the latest lookup started */
} mcc_nn_lut_reader;

/* Decodes into buf from index have until need symbols are there; returns the new count. */
static int32_t mcc_nn_lut_fill(mcc_nn_lut_reader *r, int8_t *buf, int32_t have, int32_t need)
{
    const uint32_t *lookup = r->lookup;
    const uint32_t shift = r->shift;
    uint32_t pos = r->pos;
    /* Each lookup adds a symbol: at most need - have + 1 lookups, each at most 15 bits on. */
    const uint32_t reach = (pos + MCC_NN_LUT_MAX_TAKEN * (uint32_t)(need - have + 1)) >> 3;
    if (reach + 4u <= r->num_bytes) {
        const uint8_t *bytes = r->bytes;
        while (have < need) {
            uint32_t window = mcc_nn_lut_load(bytes + (pos >> 3)) << (pos & 7u);
            uint32_t entry = lookup[window >> shift];
            const uint32_t taken = entry >> MCC_NN_LUT_LEN_SHIFT;
            have += mcc_nn_lut_put(buf + have, entry);
            pos += taken;
            window <<= taken; /* 32 - 7 - 12 bits left: the next lookup's 12 are there */
            entry = lookup[window >> shift];
            have += mcc_nn_lut_put(buf + have, entry);
            r->last = pos;
            pos += entry >> MCC_NN_LUT_LEN_SHIFT;
        }
    } else {
        while (have < need) {
            const uint32_t window = mcc_nn_lut_load_checked(r->bytes, pos >> 3, r->num_bytes) << (pos & 7u);
            const uint32_t entry = lookup[window >> shift];
            have += mcc_nn_lut_put(buf + have, entry);
            r->last = pos;
            pos += entry >> MCC_NN_LUT_LEN_SHIFT;
        }
    }
    r->pos = pos;
    return have;
}

/* acc + sum w[k] * x[k], k < n. */
MCC_INLINE int32_t mcc_nn_lut_dot(const int8_t *w, const int8_t *x, int32_t n, int32_t acc)
{
    int32_t k = 0;
#if MCC_HAVE_DSP
    for (; k + 4 <= n; k += 4) {
        uint32_t wv, xv, we, wo, xe, xo;
        memcpy(&wv, w + k, 4);
        memcpy(&xv, x + k, 4);
        mcc_nn_widen4(wv, &we, &wo);
        mcc_nn_widen4(xv, &xe, &xo);
        acc = mcc_nn_smlad(we, xe, acc);
        acc = mcc_nn_smlad(wo, xo, acc);
    }
#endif
    for (; k < n; ++k) {
        acc += w[k] * x[k];
    }
    return acc;
}

mcc_status mcc_fully_connected_huffman_lut_s8(const mcc_fc_params *params, const mcc_quant *quant,
                                              const mcc_dims *input_dims, const int8_t *input,
                                              const mcc_dims *filter_dims,
                                              const mcc_huffman_lut_s8 *filter, const int32_t *bias,
                                              const mcc_dims *output_dims, int8_t *output)
{
    const int32_t depth = filter_dims->c;
    const int32_t units = filter_dims->n;
    const int32_t batches = input_dims->n;
    const int32_t input_offset = params->input_offset;
    const int32_t filter_offset = params->filter_offset;
    /* A fill stops at most two lookups (six symbols) past the chunk and stores a word at its
     * last count: 8 bytes of room, rounded up for the carried symbols' word copies. */
    int8_t buf[MCC_NN_LUT_CHUNK + 16];
    uint32_t carry[2];
    int32_t b, u;

    if (output_dims->c != units || depth <= 0 || filter->num_bits < 0 || filter->lookup == 0 ||
        filter->lookup_bits < 1 || filter->lookup_bits > MCC_HUFFMAN_LUT_MAX_BITS ||
        (int64_t)input_dims->h * input_dims->w * input_dims->c != depth) {
        return MCC_ERROR_ARGUMENT;
    }
    memset(buf, 0, sizeof(buf));
    for (b = 0; b < batches; ++b) {
        const int8_t *row = input + (int64_t)b * depth;
        mcc_nn_lut_reader reader;
        int32_t have = 0;
        reader.bytes = filter->bits;
        reader.num_bytes = ((uint32_t)filter->num_bits + 7u) / 8u;
        reader.lookup = filter->lookup;
        reader.shift = 32u - (uint32_t)filter->lookup_bits;
        reader.pos = 0;
        reader.last = 0;
        for (u = 0; u < units; ++u) {
            const int32_t q = quant->per_channel ? u : 0;
            int32_t acc = 0;
            int32_t d = 0;
            while (d < depth) {
                const int32_t m = depth - d < MCC_NN_LUT_CHUNK ? depth - d : MCC_NN_LUT_CHUNK;
                int32_t k;
                if (have < m) {
                    have = mcc_nn_lut_fill(&reader, buf, have, m);
                }
                if (input_offset == 0 && filter_offset == 0) {
                    acc = mcc_nn_lut_dot(buf, row + d, m, acc);
                } else {
                    for (k = 0; k < m; ++k) {
                        acc += (row[d + k] + input_offset) * (buf[k] + filter_offset);
                    }
                }
                memcpy(carry, buf + m, 8); /* the at most 5 symbols past the chunk */
                memcpy(buf, carry, 8);
                have -= m;
                d += m;
            }
            if (bias != 0) {
                acc += bias[u];
            }
            *output++ = (int8_t)mcc_nn_requantize_output(acc, quant, q, params->output_offset,
                                                         &params->activation);
        }
        if ((int64_t)reader.last >= filter->num_bits) { /* a weight came from past the stream */
            return MCC_ERROR_ARGUMENT;
        }
    }
    return MCC_OK;
}

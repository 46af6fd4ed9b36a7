/* mcc_fully_connected_huffman_lut_s8 - int8 fully connected layer with Huffman-coded weights
 * and a multi-symbol lookup table made at export (mcucompress/encode/huffman.py).
 *
 * One table lookup on the next lookup_bits stream bits yields every code that ends within them
 * (up to three weights) and the bits they take. Weights are decoded in chunks into a stack
 * buffer - each lookup stores its entry's symbol bytes as one word and moves on by its symbol
 * count, so symbols past the chunk stay for the next one - then multiplied with the input. The
 * stream holds, per pair of rows, chunks of MCC_NN_LUT_CHUNK weights of the two rows in turn:
 * one fill decodes a chunk of both, and each widened input word serves both rows (four weights
 * of a row to two SMLADs on DSP cores). The stream is read least significant bit first, so one
 * unaligned little-endian word shifted right by the bit offset holds at least 25 stream bits:
 * two lookups of up to 12 bits each per load.
 *
 * Safety: lookups read only lookup[0 .. 2^lookup_bits - 1] and take at most 15 bits; a fill
 * runs without bounds checks only when every stream word it can read lies inside the stream,
 * otherwise a loop that checks each word load (bytes past the stream read as 0) runs. The
 * buffer has room for the largest overshoot (a malformed count of four included). A layer whose
 * last lookup starts past num_bits is rejected. */
#include <string.h>

#include "mcc.h"
#include "mcc_nn.h"

#define MCC_NN_LUT_CHUNK 128
#define MCC_NN_LUT_LEN_SHIFT 24   /* entry bits 24-27: bits taken */
#define MCC_NN_LUT_COUNT_SHIFT 30 /* entry bits 30-31: symbols less one */
#define MCC_NN_LUT_MAX_TAKEN 15
#define MCC_NN_LUT_SAFE_SHIFT 4 /* 2^4 > MCC_NN_LUT_MAX_TAKEN: bits a lookup may take, bounded by a shift */

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define MCC_NN_LUT_LITTLE_ENDIAN 1
#else
#define MCC_NN_LUT_LITTLE_ENDIAN 0
#endif

/* The 32 stream bits from byte p (any alignment), the first one at bit 0. */
MCC_INLINE uint32_t mcc_nn_lut_load(const uint8_t *p)
{
#if MCC_NN_LUT_LITTLE_ENDIAN
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
#else
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
#endif
}

/* The same near the end: bytes at or past num_bytes read as 0. */
static uint32_t mcc_nn_lut_load_checked(const uint8_t *bytes, uint32_t at, uint32_t num_bytes)
{
    uint32_t w = 0, i;
    for (i = 0; i < 4; ++i) {
        w |= (at + i < num_bytes ? (uint32_t)bytes[at + i] : 0u) << (8 * i);
    }
    return w;
}

/* Stores an entry's four bytes at p - up to three symbols; the fourth byte is overwritten later
 * or unused, unless a malformed count of four takes it - and returns p past its symbols. */
MCC_INLINE int8_t *mcc_nn_lut_put(int8_t *p, uint32_t entry)
{
#if MCC_NN_LUT_LITTLE_ENDIAN
    memcpy(p, &entry, 4);
#else
    p[0] = (int8_t)(entry & 0xFFu);
    p[1] = (int8_t)((entry >> 8) & 0xFFu);
    p[2] = (int8_t)((entry >> 16) & 0xFFu);
    p[3] = (int8_t)(entry >> 24);
#endif
    return p + (entry >> MCC_NN_LUT_COUNT_SHIFT) + 1;
}

typedef struct {
    const uint8_t *bytes;
    uint32_t num_bytes;
    const uint32_t *lookup;
    uint32_t mask;      /* 2^lookup_bits - 1 */
    uint32_t pos;       /* next stream bit */
    uint32_t last;      /* where the latest checked lookup started */
    uint32_t whole_bits; /* 8 * (num_bytes - 4): lookups before it load whole stream words */
} mcc_nn_lut_reader;

/* One word load and two lookups of the assembly fill loop, their entries stored at p + first
 * and p + second; p moves on by the two counts less one. */
#define MCC_NN_LUT_TWO_LOOKUPS(first, second)                   \
    "lsr %[t], %[pos], #3\n\t"                                 \
    "ldr %[w], [%[bytes], %[t]]\n\t"                           \
    "and %[t], %[pos], #7\n\t"                                 \
    "lsr %[w], %[w], %[t]\n\t"                                 \
    "and %[t], %[w], %[mask]\n\t"                              \
    "ldr %[e], [%[lookup], %[t], lsl #2]\n\t"                  \
    "str %[e], [%[p], #" #first "]\n\t"                        \
    "ubfx %[t], %[e], #24, #4\n\t"                             \
    "lsr %[w], %[w], %[t]\n\t"                                 \
    "add %[pos], %[pos], %[t]\n\t"                             \
    "add %[p], %[p], %[e], lsr #30\n\t"                        \
    "and %[t], %[w], %[mask]\n\t"                              \
    "ldr %[e], [%[lookup], %[t], lsl #2]\n\t"                  \
    "str %[e], [%[p], #" #second "]\n\t"                       \
    "ubfx %[t], %[e], #24, #4\n\t"                             \
    "add %[pos], %[pos], %[t]\n\t"                             \
    "add %[p], %[p], %[e], lsr #30\n\t"

/* Decodes symbols to p until it reaches end; returns p (at most 15 symbols past end). */
static int8_t *mcc_nn_lut_fill(mcc_nn_lut_reader *r, int8_t *p, const int8_t *end)
{
    const uint32_t *lookup = r->lookup;
    const uint32_t mask = r->mask;
    uint32_t pos = r->pos;
    /* Lookups that start before bit whole_bits = 8 * (num_bytes - 4) load whole stream words,
     * and each takes at most MCC_NN_LUT_MAX_TAKEN bits (16 here): `safe` lookups from pos need no check. A
     * loop turn makes up to four lookups of at least one symbol each, so filling up to p + k takes
     * at most k + 3: the unchecked loop fills up to `stop`, again from where it got to while that
     * leaves room (codes take about half the bound), and the checked one the rest. Unchecked
     * lookups start before whole_bits < num_bits, so only checked ones can start past the stream:
     * they record where they start (r->last). */
    const uint32_t whole_bits = r->whole_bits;
    uint32_t safe;
    while (p < end && (safe = pos < whole_bits ? (whole_bits - pos) >> MCC_NN_LUT_SAFE_SHIFT : 0u) > 3u) {
        const int8_t *const stop = (uint32_t)(end - p) + 3u <= safe ? end : p + (safe - 3u);
        const uint8_t *bytes = r->bytes;
#if MCC_HAVE_DSP_ASM
        /* The loop below unrolled twice, 37 instructions per four lookups: each lookup stores
         * its word one byte further on and adds its count less one, the four + 1s at once. */
        {
            uint32_t window, entry, t;
            __asm__ volatile("1:\n\t"
                             MCC_NN_LUT_TWO_LOOKUPS(0, 1)
                             MCC_NN_LUT_TWO_LOOKUPS(2, 3)
                             "add %[p], %[p], #4\n\t"
                             "cmp %[p], %[end]\n\t"
                             "blo 1b"
                             : [p] "+r"(p), [pos] "+r"(pos), [w] "=&r"(window), [e] "=&r"(entry), [t] "=&r"(t)
                             : [end] "r"(stop), [bytes] "r"(bytes), [mask] "r"(mask), [lookup] "r"(lookup)
                             : "cc", "memory");
        }
#else
        while (p < stop) {
            uint32_t window = mcc_nn_lut_load(bytes + (pos >> 3)) >> (pos & 7u);
            uint32_t entry = lookup[window & mask];
            const uint32_t taken = (entry >> MCC_NN_LUT_LEN_SHIFT) & 15u;
            p = mcc_nn_lut_put(p, entry);
            pos += taken;
            window >>= taken; /* 32 - 7 - 12 bits left: the next lookup's 12 are there */
            entry = lookup[window & mask];
            p = mcc_nn_lut_put(p, entry);
            pos += (entry >> MCC_NN_LUT_LEN_SHIFT) & 15u;
        }
#endif
    }
    { /* near the end: one lookup at a time, each word load checked */
        const uint32_t whole = r->num_bytes >= 4u ? r->num_bytes - 4u : 0u; /* last whole word's byte */
        while (p < end) {
            const uint32_t at = pos >> 3;
            const uint32_t word = r->num_bytes >= 4u && at <= whole ? mcc_nn_lut_load(r->bytes + at)
                                                                    : mcc_nn_lut_load_checked(r->bytes, at, r->num_bytes);
            const uint32_t entry = lookup[(word >> (pos & 7u)) & mask];
            p = mcc_nn_lut_put(p, entry);
            r->last = pos;
            pos += (entry >> MCC_NN_LUT_LEN_SHIFT) & 15u;
        }
    }
    r->pos = pos;
    return p;
}

/* One row's four SMLADs on its weight words t0 and t1 (widened here) and the input's widened
 * words xe0, xo0, xe1, xo1, into the accumulator acc: the two-row loops' body per row. */
#define MCC_NN_LUT_ROW_MACS(acc)                                \
    "sxtb16 %[t2], %[t0]\n\t"                                   \
    "smlad %[" #acc "], %[t2], %[xe0], %[" #acc "]\n\t"         \
    "sxtb16 %[t0], %[t0], ror #8\n\t"                           \
    "smlad %[" #acc "], %[t0], %[xo0], %[" #acc "]\n\t"         \
    "sxtb16 %[t2], %[t1]\n\t"                                   \
    "smlad %[" #acc "], %[t2], %[xe1], %[" #acc "]\n\t"         \
    "sxtb16 %[t1], %[t1], ror #8\n\t"                           \
    "smlad %[" #acc "], %[t1], %[xo1], %[" #acc "]\n\t"

/* The two-row loops' operands: pointers to the input, the rows and the input's end, the two
 * accumulators, the input's widened words and three temporaries. */
#define MCC_NN_LUT_DOT_OPERANDS                                                                    \
    : [xp] "+r"(xp), [p0] "+r"(p0), [p1] "+r"(p1), [a0] "+r"(a0), [a1] "+r"(a1), [xe0] "=&r"(xe0), \
      [xo0] "=&r"(xo0), [xe1] "=&r"(xe1), [xo1] "=&r"(xo1), [t0] "=&r"(t0), [t1] "=&r"(t1),         \
      [t2] "=&r"(t2)                                                                                \
    : [xend] "r"(xend)                                                                              \
    : "cc", "memory"

/* acc[r] + sum w_r[k] * x[k], k < n, for the rows w0 and (rows 2) w1. */
MCC_INLINE void mcc_nn_lut_dot(const int8_t *w0, const int8_t *w1, int32_t rows, const int8_t *x, int32_t n,
                               int32_t acc[2])
{
    int32_t a0 = acc[0], a1 = acc[1];
    int32_t k = 0;
#if MCC_HAVE_DSP
#if MCC_HAVE_DSP_ASM
    /* 26 instructions per 8 weights of both rows: each input word widened once. */
    if (rows == 2 && n >= 8) {
        const int8_t *xp = x, *p0 = w0, *p1 = w1;
        const int8_t *const xend = x + (n & ~7);
        uint32_t xe0, xo0, xe1, xo1, t0, t1, t2;
        __asm__ volatile("1:\n\t"
                         "ldr %[xe0], [%[xp]], #4\n\t"
                         "ldr %[xe1], [%[xp]], #4\n\t"
                         "sxtb16 %[xo0], %[xe0], ror #8\n\t"
                         "sxtb16 %[xe0], %[xe0]\n\t"
                         "sxtb16 %[xo1], %[xe1], ror #8\n\t"
                         "sxtb16 %[xe1], %[xe1]\n\t"
                         "ldr %[t0], [%[p0]], #4\n\t"
                         "ldr %[t1], [%[p0]], #4\n\t"
                         MCC_NN_LUT_ROW_MACS(a0)
                         "ldr %[t0], [%[p1]], #4\n\t"
                         "ldr %[t1], [%[p1]], #4\n\t"
                         MCC_NN_LUT_ROW_MACS(a1)
                         "cmp %[xp], %[xend]\n\t"
                         "blo 1b"
                         MCC_NN_LUT_DOT_OPERANDS);
        k = n & ~7;
    }
#endif
    for (; k + 4 <= n; k += 4) {
        uint32_t xv, v, xe, xo, we, wo;
        memcpy(&xv, x + k, 4);
        mcc_nn_widen4(xv, &xe, &xo);
        memcpy(&v, w0 + k, 4);
        mcc_nn_widen4(v, &we, &wo);
        a0 = mcc_nn_smlad(we, xe, a0);
        a0 = mcc_nn_smlad(wo, xo, a0);
        if (rows == 2) {
            memcpy(&v, w1 + k, 4);
            mcc_nn_widen4(v, &we, &wo);
            a1 = mcc_nn_smlad(we, xe, a1);
            a1 = mcc_nn_smlad(wo, xo, a1);
        }
    }
#endif
    for (; k < n; ++k) {
        a0 += w0[k] * x[k];
        if (rows == 2) {
            a1 += w1[k] * x[k];
        }
    }
    acc[0] = a0;
    acc[1] = a1;
}

#if MCC_HAVE_DSP_ASM
/* acc[0] + sum w0[k] * x[k], acc[1] + sum w1[k] * x[k] for k < n (a multiple of 8) from the input
 * widened once per call (xw: per 4 inputs the SXTB16 pair of inputs 0 and 2, then of 1 and 3)
 * and word-aligned rows (n >= 8): 22 instructions per 8 weights of both rows, one LDRD per row. */
MCC_INLINE void mcc_nn_lut_dot_widened(const int8_t *w0, const int8_t *w1, const uint32_t *xw, int32_t n,
                                       int32_t acc[2])
{
    int32_t a0 = acc[0], a1 = acc[1];
    const uint32_t *xp = xw;
    const uint32_t *const xend = xw + n / 2;
    const int8_t *p0 = w0, *p1 = w1;
    uint32_t xe0, xo0, xe1, xo1, t0, t1, t2;
    __asm__ volatile("1:\n\t"
                     "ldrd %[xe0], %[xo0], [%[xp]], #8\n\t"
                     "ldrd %[xe1], %[xo1], [%[xp]], #8\n\t"
                     "ldrd %[t0], %[t1], [%[p0]], #8\n\t"
                     MCC_NN_LUT_ROW_MACS(a0)
                     "ldrd %[t0], %[t1], [%[p1]], #8\n\t"
                     MCC_NN_LUT_ROW_MACS(a1)
                     "cmp %[xp], %[xend]\n\t"
                     "blo 1b"
                     MCC_NN_LUT_DOT_OPERANDS);
    acc[0] = a0;
    acc[1] = a1;
}
#endif

/* Output u from its accumulator: the fast requantization with channel constants, else
 * mcc_fully_connected_s8's. */
MCC_INLINE int8_t mcc_nn_lut_output(int32_t acc, int32_t u, const int32_t *channels, const int32_t *bias,
                                    const mcc_quant *quant, const mcc_fc_params *params)
{
    if (channels != 0) {
        const int32_t *ch = channels + 4 * u;
        return mcc_nn_fast_requantize(2 * acc + ch[0], ch[1], ch[2], ch[3], params->activation.min,
                                      params->activation.max);
    }
    return (int8_t)mcc_nn_requantize_output(acc + (bias != 0 ? bias[u] : 0), quant, quant->per_channel ? u : 0,
                                            params->output_offset, &params->activation);
}

mcc_status mcc_fully_connected_huffman_lut_s8(const mcc_fc_params *params, const mcc_quant *quant,
                                              const mcc_dims *input_dims, const int8_t *input,
                                              const mcc_dims *filter_dims,
                                              const mcc_huffman_lut_s8 *filter, const int32_t *bias,
                                              const int32_t *channels, const mcc_dims *output_dims,
                                              int8_t *output)
{
    const int32_t depth = filter_dims->c;
    const int32_t units = filter_dims->n;
    const int32_t batches = input_dims->n;
    const int32_t input_offset = params->input_offset;
    const int32_t filter_offset = params->filter_offset;
    const int folded = input_offset == 0 && filter_offset == 0;
    /* A fill stops at most 15 symbols past the chunks (four lookups of up to four) and its
     * last word store ends at most 15 bytes past them: 16 bytes of room. Words, so that the
     * rows of a chunk are word-aligned when its length is a multiple of 4. */
    uint32_t words[(2 * MCC_NN_LUT_CHUNK + 16) / 4];
    int8_t *const buf = (int8_t *)words;
    uint32_t carry[4];
    int8_t *filled;
    int32_t b, u;
#if MCC_HAVE_DSP_ASM
    /* Rows that are one chunk, a multiple of 8 long: the input widened once per batch (the
     * two-row loop then loads it with LDRD, as it does the word-aligned rows), and a lean loop
     * over the pairs of rows. */
    uint32_t xw[MCC_NN_LUT_CHUNK / 2];
    const int widened = folded && depth <= MCC_NN_LUT_CHUNK && depth % 8 == 0;
#endif

    if (output_dims->c != units || depth <= 0 || filter->num_bits < 0 || filter->lookup == 0 ||
        filter->lookup_bits < 1 || filter->lookup_bits > MCC_HUFFMAN_LUT_MAX_BITS ||
        (int64_t)input_dims->h * input_dims->w * input_dims->c != depth || (channels != 0 && !folded) ||
        (channels == 0 && quant == 0)) {
        return MCC_ERROR_ARGUMENT;
    }
    memset(words, 0, sizeof(words));
    for (b = 0; b < batches; ++b) {
        const int8_t *row = input + (int64_t)b * depth;
        mcc_nn_lut_reader reader;
        reader.bytes = filter->bits;
        reader.num_bytes = ((uint32_t)filter->num_bits + 7u) / 8u;
        reader.whole_bits = reader.num_bytes >= 4u ? 8u * (reader.num_bytes - 4u) : 0u;
        reader.lookup = filter->lookup;
        reader.mask = (1u << filter->lookup_bits) - 1u;
        reader.pos = 0;
        reader.last = 0;
        filled = buf;
#if MCC_HAVE_DSP_ASM
        if (widened) {
            int32_t k;
            for (k = 0; k < depth; k += 4) {
                uint32_t v;
                memcpy(&v, row + k, 4);
                mcc_nn_widen4(v, &xw[k / 2], &xw[k / 2 + 1]);
            }
        }
#endif
        u = 0;
#if MCC_HAVE_DSP_ASM
        if (widened) {
            const int32_t n = 2 * depth;
            for (; u + 1 < units; u += 2) {
                int32_t acc[2] = {0, 0};
                if (filled < buf + n) {
                    filled = mcc_nn_lut_fill(&reader, filled, buf + n);
                }
                mcc_nn_lut_dot_widened(buf, buf + depth, xw, depth, acc);
                memcpy(words, buf + n, 16); /* the at most 15 symbols past the pair (n >= 16) */
                filled -= n;
                *output++ = mcc_nn_lut_output(acc[0], u, channels, bias, quant, params);
                *output++ = mcc_nn_lut_output(acc[1], u + 1, channels, bias, quant, params);
            }
        }
#endif
        for (; u < units; u += 2) {
            const int32_t rows = u + 1 < units ? 2 : 1;
            int32_t acc[2] = {0, 0};
            int32_t d = 0, r;
            while (d < depth) {
                const int32_t m = depth - d < MCC_NN_LUT_CHUNK ? depth - d : MCC_NN_LUT_CHUNK;
                const int32_t n = rows * m;
                if (filled < buf + n) {
                    filled = mcc_nn_lut_fill(&reader, filled, buf + n);
                }
                if (folded) {
                    mcc_nn_lut_dot(buf, buf + m, rows, row + d, m, acc);
                } else {
                    int32_t k;
                    for (r = 0; r < rows; ++r) {
                        for (k = 0; k < m; ++k) {
                            acc[r] += (row[d + k] + input_offset) * (buf[r * m + k] + filter_offset);
                        }
                    }
                }
                memcpy(carry, buf + n, 16); /* the at most 15 symbols past the chunk */
                memcpy(buf, carry, 16);
                filled -= n;
                d += m;
            }
            for (r = 0; r < rows; ++r) {
                *output++ = mcc_nn_lut_output(acc[r], u + r, channels, bias, quant, params);
            }
        }
        if ((int64_t)reader.last >= filter->num_bits) { /* a weight came from past the stream */
            return MCC_ERROR_ARGUMENT;
        }
    }
    return MCC_OK;
}

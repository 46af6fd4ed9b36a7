/* libFuzzer harness for the encoded-weight decoders (CSR, codebook, Huffman fully connected
 * kernels; CSR and codebook conv2d kernels; the fast codebook kernels of both).
 *
 * The fuzz input is read as a small header (which kernel, shapes, claimed lengths) followed by
 * the raw bytes of the encoded arrays. Every array is copied into a heap block of exactly the
 * length its descriptor states, so AddressSanitizer reports any read or write outside it; the
 * kernels must return MCC_OK or MCC_ERROR_ARGUMENT whatever the bytes say. The fast codebook
 * kernels (any index is valid there) are checked differentially: their outputs must equal the
 * portable dense kernel's on the decoded weights, byte for byte, or the harness aborts.
 *
 * Build and run: scripts/fuzz_decoders.sh (clang -fsanitize=fuzzer,address,undefined); kinds:
 * 0 CSR, 1 codebook, 2 Huffman fully connected; 3 CSR (portable against the fast CSR kernel,
 * differentially), 4 codebook conv2d; 5 fast codebook conv2d, 6 fast codebook fully connected;
 * 7 Huffman with a lookup table (fully connected), checked differentially against weights decoded
 * here from the format's statement; 8 CSR in 256-column segments (fully connected, rows up to 700
 * long), checked differentially against sums taken here from the format's statement; 9 packed int4
 * weights (conv2d and fully connected), checked differentially against the portable dense kernels
 * on the unpacked values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcc.h"
#include "mcc_nn.h"

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t pos;
} stream;

static uint32_t take(stream *s, uint32_t bytes)
{
    uint32_t v = 0, i;
    for (i = 0; i < bytes; ++i) {
        v |= (uint32_t)(s->pos < s->size ? s->data[s->pos++] : 0) << (8 * i);
    }
    return v;
}

/* A heap block of exactly n bytes (at least 1 so malloc(0) is never asked), filled from s. */
static void *block(stream *s, size_t n)
{
    uint8_t *p = (uint8_t *)malloc(n ? n : 1);
    size_t i;
    for (i = 0; i < n; ++i) {
        p[i] = (uint8_t)take(s, 1);
    }
    return p;
}

/* Frees the first count owned blocks and the input and output buffers; 0, the harness's result. */
static int release(void **owned, int count, int8_t *input, int8_t *output)
{
    int i;
    for (i = 0; i < count; ++i) {
        free(owned[i]);
    }
    free(input);
    free(output);
    return 0;
}

static void huffman_table(stream *s, mcc_huffman_table *t, void **owned)
{
    const int32_t max_len = (int32_t)(take(s, 1) % 18); /* 16, 17: out of range on purpose */
    const int32_t num_symbols = (int32_t)(take(s, 2) % 300) - 2;
    t->max_len = max_len;
    t->num_symbols = num_symbols;
    owned[0] = block(s, (size_t)(max_len > 0 ? max_len : 0) * sizeof(uint16_t));
    owned[1] = block(s, (size_t)(num_symbols > 0 ? num_symbols : 0) * sizeof(int16_t));
    t->counts = (const uint16_t *)owned[0];
    t->symbols = (const int16_t *)owned[1];
}

/* mcc_conv2d_csr_fast_s8 on the same weights, with a scratch block of exactly its size: same
 * status as mcc_conv2d_csr_s8 and, when valid, the same bytes, or the harness aborts. */
static void fuzz_csr_fast(const mcc_conv_params *params, const mcc_quant *quant,
                          const mcc_dims *input_dims, const int8_t *input,
                          const mcc_dims *filter_dims, const mcc_csr_s8 *csr,
                          const mcc_dims *output_dims, const int8_t *expected,
                          mcc_status expected_status)
{
    const size_t out_n = (size_t)(output_dims->h * output_dims->w * output_dims->c);
    const int32_t entries = csr->entries > 0 ? csr->entries : 0;
    void *scratch = malloc((size_t)mcc_conv2d_csr_fast_s8_get_buffer_size(params, filter_dims,
                                                                          output_dims, entries));
    int8_t *output = (int8_t *)malloc(out_n);
    const mcc_status status = mcc_conv2d_csr_fast_s8(params, quant, input_dims, input, filter_dims,
                                                     csr, 0, 0, output_dims, output, scratch);
    if (status != expected_status || (status == MCC_OK && memcmp(output, expected, out_n) != 0)) {
        abort();
    }
    free(scratch);
    free(output);
}

static int fuzz_conv(stream *s, int csr_weights)
{
    mcc_status status;
    const int32_t multiplier = 1 << 30, shift = 0;
    const mcc_quant quant = {&multiplier, &shift, 0, 0};
    mcc_conv_params params;
    mcc_dims input_dims, filter_dims, output_dims;
    int8_t *input, *output;
    void *owned[3] = {0};
    int32_t depth;
    input_dims.n = 1;
    input_dims.h = (int32_t)(take(s, 1) % 7) + 1;
    input_dims.w = (int32_t)(take(s, 1) % 7) + 1;
    input_dims.c = (int32_t)(take(s, 1) % 9) + 1;
    filter_dims.n = (int32_t)(take(s, 1) % 6) + 1;
    filter_dims.h = (int32_t)(take(s, 1) % 3) + 1;
    filter_dims.w = (int32_t)(take(s, 1) % 3) + 1;
    filter_dims.c = input_dims.c;
    params.input_offset = 7;
    params.output_offset = -3;
    params.stride.h = (int32_t)(take(s, 1) % 2) + 1;
    params.stride.w = params.stride.h;
    params.padding.h = (int32_t)(take(s, 1) % 2);
    params.padding.w = params.padding.h;
    params.dilation.h = 1;
    params.dilation.w = 1;
    params.activation.min = -128;
    params.activation.max = 127;
    output_dims.n = 1;
    output_dims.h = (input_dims.h + 2 * params.padding.h - filter_dims.h) / params.stride.h + 1;
    output_dims.w = (input_dims.w + 2 * params.padding.w - filter_dims.w) / params.stride.w + 1;
    output_dims.c = filter_dims.n;
    if (output_dims.h < 1 || output_dims.w < 1) {
        return 0;
    }
    depth = filter_dims.h * filter_dims.w * filter_dims.c;
    input = (int8_t *)block(s, (size_t)(input_dims.h * input_dims.w * input_dims.c));
    output = (int8_t *)malloc((size_t)(output_dims.h * output_dims.w * output_dims.c));
    if (csr_weights) {
        mcc_csr_s8 csr;
        csr.gap_bits = (take(s, 1) & 1) ? 8 : 4;
        csr.entries = (int32_t)(take(s, 2) % 600);
        owned[0] = block(s, (size_t)filter_dims.n * sizeof(uint16_t));
        owned[1] = block(s, (size_t)(csr.gap_bits == 4 ? (csr.entries + 1) / 2 : csr.entries));
        owned[2] = block(s, (size_t)csr.entries);
        csr.row_entries = (const uint16_t *)owned[0];
        csr.gaps = (const uint8_t *)owned[1];
        csr.values = (const int8_t *)owned[2];
        status = mcc_conv2d_csr_s8(&params, &quant, &input_dims, input, &filter_dims, &csr, 0,
                                   &output_dims, output);
        fuzz_csr_fast(&params, &quant, &input_dims, input, &filter_dims, &csr, &output_dims,
                      output, status);
    } else {
        mcc_codebook_s8 cb;
        const int32_t claimed = (int32_t)(take(s, 1) % 10);
        cb.index_bits = claimed;
        cb.index_bytes = (int32_t)(take(s, 2) % (depth * filter_dims.n + 2));
        owned[0] = block(s, (size_t)cb.index_bytes);
        owned[1] = block(s, (size_t)1 << (claimed >= 1 && claimed <= 8 ? claimed : 0));
        cb.indices = (const uint8_t *)owned[0];
        cb.codebook = (const int8_t *)owned[1];
        (void)mcc_conv2d_codebook_s8(&params, &quant, &input_dims, input, &filter_dims, &cb, 0,
                                     &output_dims, output);
    }
    return release(owned, 3, input, output);
}

/* Weight (row u, product k) of fast codebook index words: pairs (k0, k2), (k1, k3) per group of
 * 4, each a field of 2 * bits bits; `word` is the row's word holding product k. */
static int8_t fast_weight(const uint32_t *word_of_row, int32_t stride, int32_t k, int32_t bits,
                          const int8_t *codebook)
{
    const int32_t pairs = 32 / (2 * bits);               /* fields per word */
    const int32_t pair = 2 * (k / 4) + (k & 1);          /* (k0, k2) then (k1, k3) */
    const uint32_t field = word_of_row[(pair / pairs) * stride] >> ((pair % pairs) * 2 * bits);
    const uint32_t index = (k & 2) ? (field >> bits) : field;
    return codebook[index & ((1u << bits) - 1u)];
}

/* Shapes of a fully connected layer of `units` outputs over rows of k inputs. */
static void fc_dims(int32_t rows, int32_t units, int32_t k, mcc_dims *in, mcc_dims *f, mcc_dims *out)
{
    in->n = rows; in->h = 1; in->w = 1; in->c = k;
    f->n = units; f->h = 1; f->w = 1; f->c = k;
    out->n = rows; out->h = 1; out->w = 1; out->c = units;
}

/* Heap blocks of a layer checked differentially: per output channel its bias, multiplier, shift
 * and fast-kernel constants (4), the decoded weights, the expected and the kernel's outputs. */
static void layer_buffers(int32_t units, int32_t k, int32_t out_size, int32_t **bias, int32_t **mult,
                          int32_t **shift, int32_t **channels, int8_t **dense, int8_t **want, int8_t **got)
{
    *bias = (int32_t *)malloc((size_t)units * sizeof(int32_t));
    *mult = (int32_t *)malloc((size_t)units * sizeof(int32_t));
    *shift = (int32_t *)malloc((size_t)units * sizeof(int32_t));
    *channels = (int32_t *)malloc((size_t)units * 4 * sizeof(int32_t));
    *dense = (int8_t *)malloc((size_t)units * (size_t)k);
    *want = (int8_t *)malloc((size_t)out_size);
    *got = (int8_t *)malloc((size_t)out_size);
}

/* The portable conv's offsets and clamp in cp (its geometry already set), and the same layer as
 * mcc_conv_fast_params in fcp for a fast kernel with the given channel constants. */
static void conv_params_pair(mcc_conv_params *cp, mcc_conv_fast_params *fcp, const mcc_dims *f_dims, int32_t in_c,
                             int32_t k_padded, int32_t input_offset, int32_t output_offset, int32_t lo, int32_t hi,
                             const int32_t *channels)
{
    cp->input_offset = input_offset;
    cp->output_offset = output_offset;
    cp->activation.min = lo;
    cp->activation.max = hi;
    fcp->kernel.h = f_dims->h;
    fcp->kernel.w = f_dims->w;
    fcp->stride = cp->stride;
    fcp->padding = cp->padding;
    fcp->dilation = cp->dilation;
    fcp->in_c = in_c;
    fcp->out_c = f_dims->n;
    fcp->k_padded = k_padded;
    fcp->input_zero_point = -input_offset;
    fcp->activation = cp->activation;
    fcp->weights = 0;
    fcp->channels = channels;
}

static int32_t signed_take(stream *s, uint32_t bytes)
{
    const uint32_t v = take(s, bytes);
    return bytes == 1 ? (int32_t)(int8_t)v : (int32_t)(int16_t)v;
}

/* A layer whose kernel is checked against the portable dense kernels (mcc_conv2d_s8,
 * mcc_fully_connected_s8) on weights decoded here: shapes, offsets, the conv's geometry, the
 * stream's input and requantization (per output channel its bias, multiplier, shift and the fast
 * kernels' 4 constants), the decoded weights, the expected and the kernel's outputs. */
typedef struct {
    int conv;
    int32_t units, k, rows, out_size, input_offset, output_offset;
    mcc_dims in_dims, f_dims, out_dims;
    mcc_conv_params cp;
    int32_t *bias, *mult, *shift, *channels;
    int8_t *input, *dense, *want, *got;
} dense_check;

/* The offsets from the stream: the input's minus an int8 zero point, -127 .. 128. */
static void dense_check_offsets(stream *s, dense_check *c)
{
    c->input_offset = signed_take(s, 1) + 1;
    c->output_offset = signed_take(s, 1);
}

/* A fully connected layer from the stream: 1..max_units outputs over one or two rows of
 * 1..max_k inputs. */
static void dense_check_fc(stream *s, dense_check *c, uint32_t max_units, uint32_t max_k)
{
    c->units = (int32_t)(take(s, 1) % max_units) + 1;
    c->k = (int32_t)(take(s, 1) % max_k) + 1;
    c->rows = (int32_t)(take(s, 1) % 2) + 1;
    fc_dims(c->rows, c->units, c->k, &c->in_dims, &c->f_dims, &c->out_dims);
}

/* The conv's output shape, units and products per output from its input and filter shapes and
 * geometry (c->cp); 0 when the padded input is smaller than the dilated filter. */
static int dense_check_conv_shape(dense_check *c)
{
    const int32_t span_h = (c->f_dims.h - 1) * c->cp.dilation.h + 1, span_w = (c->f_dims.w - 1) * c->cp.dilation.w + 1;
    if (c->in_dims.h + 2 * c->cp.padding.h < span_h || c->in_dims.w + 2 * c->cp.padding.w < span_w) {
        return 0;
    }
    c->out_dims.n = c->in_dims.n;
    c->out_dims.h = (c->in_dims.h + 2 * c->cp.padding.h - span_h) / c->cp.stride.h + 1;
    c->out_dims.w = (c->in_dims.w + 2 * c->cp.padding.w - span_w) / c->cp.stride.w + 1;
    c->out_dims.c = c->f_dims.n;
    c->units = c->f_dims.n;
    c->k = c->f_dims.h * c->f_dims.w * c->f_dims.c;
    return 1;
}

/* The input from the stream (it follows the encoded weights) and the layer's other buffers. */
static void dense_check_buffers(stream *s, dense_check *c)
{
    c->out_size = c->out_dims.n * c->out_dims.h * c->out_dims.w * c->out_dims.c;
    c->input = (int8_t *)block(s, (size_t)(c->in_dims.n * c->in_dims.h * c->in_dims.w * c->in_dims.c));
    layer_buffers(c->units, c->k, c->out_size, &c->bias, &c->mult, &c->shift, &c->channels, &c->dense, &c->want,
                  &c->got);
}

/* Requantization of output channel u from the stream, for the portable kernels (bias,
 * multiplier in [2^30, 2^31), a right shift of min_shift .. min_shift + 15) and the fast ones
 * (4 constants; sum: the channel's decoded weights summed). */
static void dense_check_channel(stream *s, dense_check *c, int32_t u, int32_t sum, int32_t min_shift)
{
    c->bias[u] = signed_take(s, 2);
    c->mult[u] = (int32_t)((1u << 30) | (take(s, 3) << 6));
    c->shift[u] = -(int32_t)(take(s, 1) % 16) - min_shift;
    c->channels[4 * u] = 2 * (c->bias[u] + c->input_offset * sum);
    c->channels[4 * u + 1] = c->mult[u];
    c->channels[4 * u + 2] = (1 << (-c->shift[u] - 1)) + c->output_offset * (1 << -c->shift[u]);
    c->channels[4 * u + 3] = -c->shift[u];
}

/* The expected outputs from the portable kernel on the decoded weights (clamped to lo .. hi),
 * and the same layer as the fast kernels' params (conv: fcp, fully connected: ffp) with the
 * given k_padded. */
static void dense_check_expect(dense_check *c, int32_t k_padded, int32_t lo, int32_t hi, mcc_conv_fast_params *fcp,
                               mcc_fc_fast_params *ffp)
{
    const mcc_quant quant = {c->mult, c->shift, 0, 1};
    memset(fcp, 0, sizeof(*fcp));
    memset(ffp, 0, sizeof(*ffp));
    if (c->conv) {
        conv_params_pair(&c->cp, fcp, &c->f_dims, c->in_dims.c, k_padded, c->input_offset, c->output_offset, lo, hi,
                         c->channels);
        if (mcc_conv2d_s8(&c->cp, &quant, &c->in_dims, c->input, &c->f_dims, c->dense, c->bias, &c->out_dims,
                          c->want) != MCC_OK) {
            abort();
        }
    } else {
        const mcc_fc_params fp = {c->input_offset, 0, c->output_offset, {lo, hi}};
        ffp->in_features = c->k;
        ffp->out_features = c->units;
        ffp->k_padded = k_padded;
        ffp->activation = fp.activation;
        ffp->weights = 0;
        ffp->channels = c->channels;
        if (mcc_fully_connected_s8(&fp, &quant, &c->in_dims, c->input, &c->f_dims, c->dense, c->bias, &c->out_dims,
                                   c->want) != MCC_OK) {
            abort();
        }
    }
}

/* The verdict on the kernel's status and outputs: a refusal when refused says it must refuse,
 * else bit-exact with the portable kernel, or the harness aborts; frees the layer. */
static int dense_check_close(dense_check *c, int refused, mcc_status status)
{
    if (refused ? status != MCC_ERROR_ARGUMENT
                : (status != MCC_OK || memcmp(c->want, c->got, (size_t)c->out_size) != 0)) {
        abort();
    }
    free(c->input); free(c->bias); free(c->mult); free(c->shift); free(c->channels);
    free(c->dense); free(c->want); free(c->got);
    return 0;
}

/* The fast codebook kernels on fuzzed indices, codebook, offsets and requantization: outputs
 * must equal mcc_conv2d_s8 / mcc_fully_connected_s8 on the decoded weights. */
static int fuzz_codebook_fast(stream *s, int conv)
{
    const int32_t bits = (take(s, 1) & 1) ? 4 : 2;
    const int32_t per_word = 64 / (2 * bits);
    int32_t units, k, k_padded, words, u, j, lo, hi;
    dense_check c;
    mcc_conv_fast_params fcp;
    mcc_fc_fast_params ffp;
    mcc_codebook_fast_s8 filter;
    int8_t *codebook;
    uint32_t *indices;
    void *scratch;
    mcc_status status;
    memset(&c, 0, sizeof(c));
    c.conv = conv;
    c.rows = 1;
    c.in_dims.n = 1;
    if (conv) {
        c.in_dims.h = (int32_t)(take(s, 1) % 7) + 1;
        c.in_dims.w = (int32_t)(take(s, 1) % 7) + 1;
        c.in_dims.c = (int32_t)take(s, 1);
        /* 32, 36: direct widening */
        c.in_dims.c = c.in_dims.c >= 224 ? 32 + 4 * (c.in_dims.c & 1) : c.in_dims.c % 9 + 1;
        c.f_dims.n = (int32_t)(take(s, 1) % 6) + 1;
        c.f_dims.h = (int32_t)(take(s, 1) % 3) + 1;
        c.f_dims.w = (int32_t)(take(s, 1) % 3) + 1;
        c.f_dims.c = c.in_dims.c;
        c.cp.stride.h = (int32_t)(take(s, 1) % 2) + 1;
        c.cp.stride.w = (int32_t)(take(s, 1) % 2) + 1;
        c.cp.padding.h = (int32_t)(take(s, 1) % 2);
        c.cp.padding.w = (int32_t)(take(s, 1) % 2);
        c.cp.dilation.h = (int32_t)(take(s, 1) % 2) + 1;
        c.cp.dilation.w = 1;
        if (!dense_check_conv_shape(&c)) {
            return 0;
        }
    } else {
        dense_check_fc(s, &c, 24, 80);
    }
    units = c.units;
    k = c.k;
    k_padded = (k + per_word - 1) / per_word * per_word;
    words = k_padded / per_word;
    dense_check_offsets(s, &c);
    lo = -128 + (int32_t)(take(s, 1) % 96);   /* wide clamps: most outputs stay inside */
    hi = 127 - (int32_t)(take(s, 1) % 96);
    codebook = (int8_t *)block(s, (size_t)1 << bits);
    indices = (uint32_t *)block(s, (size_t)units * (size_t)words * sizeof(uint32_t));
    dense_check_buffers(s, &c);
    for (u = 0; u < units; ++u) {
        /* conv: each row's words in turn; fc: rows in blocks of 8, then 4 when 4 or more are
         * left, then the rest, a word per row of the block */
        const int32_t full = units / 8 * 8, tail = units - full;
        const int32_t start = u < full ? u / 8 * 8 : (tail >= 4 && u >= full + 4) ? full + 4 : full;
        const int32_t block_rows = conv ? 1 : u < full ? 8 : (tail >= 4 && u < full + 4) ? 4 : units - start;
        const uint32_t *row_words = conv ? indices + u * words : indices + start * words + (u - start);
        int32_t sum = 0;
        for (j = 0; j < k; ++j) {
            c.dense[u * k + j] = fast_weight(row_words, block_rows, j, bits, codebook);
            sum += c.dense[u * k + j];
        }
        dense_check_channel(s, &c, u, sum, 6);
    }
    filter.indices = indices;
    filter.codebook = codebook;
    filter.index_bits = bits;
    dense_check_expect(&c, k_padded, lo, hi, &fcp, &ffp);
    if (conv) {
        scratch = malloc((size_t)mcc_conv2d_codebook_fast_s8_get_buffer_size(k_padded, bits));
        status = mcc_conv2d_codebook_fast_s8(&fcp, &filter, &c.in_dims, c.input, &c.out_dims, c.got, scratch);
    } else {
        scratch = malloc((size_t)mcc_fully_connected_codebook_fast_s8_get_buffer_size(k_padded, bits));
        status = mcc_fully_connected_codebook_fast_s8(&ffp, &filter, c.rows, c.input, c.got, scratch);
    }
    free(scratch);
    free(codebook);
    free(indices);
    return dense_check_close(&c, 0, status);
}

/* The huffman_lut weights as the format in mcc.h states them, decoded one lookup at a time
 * (bytes past the stream read as 0; an entry's count of 4 takes its top byte as the 4th
 * weight, as the kernel's word store does). 0 when the last weight's lookup starts inside the
 * stream (the kernel must then return MCC_OK), -1 otherwise. */
static int lut_reference(const mcc_huffman_lut_s8 *h, int32_t units, int32_t depth, int8_t *dense)
{
    const int32_t total = units * depth;
    const uint32_t num_bytes = ((uint32_t)h->num_bits + 7u) / 8u;
    int8_t *seq = (int8_t *)malloc((size_t)total + 4);
    uint32_t pos = 0, last = 0;
    int32_t n = 0, u, d, i;
    while (n < total) {
        uint32_t v = 0, entry;
        int32_t j, count;
        for (j = 0; j < h->lookup_bits; ++j) {
            const uint32_t bit = pos + (uint32_t)j;
            v |= (uint32_t)((bit >> 3) < num_bytes ? (h->bits[bit >> 3] >> (bit & 7)) & 1 : 0) << j;
        }
        entry = h->lookup[v];
        count = (int32_t)(entry >> 30) + 1;
        for (j = 0; j < count; ++j) {
            seq[n + j] = (int8_t)(uint8_t)(entry >> (8 * j));
        }
        n += count;
        last = pos;
        pos += (entry >> 24) & 15u;
    }
    /* Stream order: per pair of rows, chunks of 128 weights of each in turn; an odd last row whole. */
    n = 0;
    for (u = 0; u < units; u += 2) {
        const int32_t rows = u + 1 < units ? 2 : 1;
        for (d = 0; d < depth; d += 128) {
            const int32_t m = depth - d < 128 ? depth - d : 128;
            for (i = 0; i < rows * m; ++i) {
                dense[(u + i / m) * depth + d + i % m] = seq[n++];
            }
        }
    }
    free(seq);
    return (int64_t)last < h->num_bits ? 0 : -1;
}

/* Channel constants of the dense fast requantization for units rows, from the stream, or 0 (a
 * flag byte says which); the multiplier in [2^30, 2^31), the shift 6..21. */
static int32_t *fc_channels(stream *s, const mcc_fc_params *params, int32_t units)
{
    int32_t *channels, u;
    if (!(take(s, 1) & 1)) {
        return 0;
    }
    channels = (int32_t *)malloc((size_t)units * 4 * sizeof(int32_t));
    for (u = 0; u < units; ++u) {
        const int32_t shift = (int32_t)(take(s, 1) % 16) + 6;
        channels[4 * u] = 2 * signed_take(s, 2);
        channels[4 * u + 1] = (int32_t)((1u << 30) | (take(s, 3) << 6));
        channels[4 * u + 2] = (1 << (shift - 1)) + params->output_offset * (1 << shift);
        channels[4 * u + 3] = shift;
    }
    return channels;
}

/* Output u of a sparse fully connected kernel from its row sum: the fast requantization with
 * channel constants, the portable one without. */
static int8_t fc_expected(const mcc_fc_params *params, const mcc_quant *quant, const int32_t *channels, int32_t u,
                          int32_t acc)
{
    if (channels != 0) {
        return mcc_nn_fast_requantize(2 * acc + channels[4 * u], channels[4 * u + 1], channels[4 * u + 2],
                                      channels[4 * u + 3], params->activation.min, params->activation.max);
    }
    return (int8_t)mcc_nn_requantize_output(acc, quant, 0, params->output_offset, &params->activation);
}

/* The Huffman lookup-table kernel against mcc_fully_connected_s8 on lut_reference's weights, or,
 * with channel constants (valid only when both offsets are 0), against the fast requantization
 * of the same row sums. */
static int fuzz_huffman_lut(stream *s, const mcc_fc_params *params, const mcc_quant *quant,
                            const mcc_dims *input_dims, const int8_t *input, const mcc_dims *filter_dims,
                            const mcc_dims *output_dims, int8_t *output)
{
    const int32_t units = filter_dims->n, depth = filter_dims->c;
    const int32_t out_size = output_dims->n * units;
    mcc_huffman_lut_s8 h;
    int8_t *dense = (int8_t *)malloc((size_t)(units * depth));
    int8_t *want = (int8_t *)malloc((size_t)out_size);
    int32_t *channels;
    int32_t table_bits, valid, b, u, k;
    mcc_status status;
    h.lookup_bits = (int32_t)(take(s, 1) % 14);   /* 0 and 13: invalid */
    table_bits = h.lookup_bits >= 1 && h.lookup_bits <= MCC_HUFFMAN_LUT_MAX_BITS ? h.lookup_bits : 0;
    h.num_bits = (int32_t)(take(s, 2) % 20000);
    h.lookup = (const uint32_t *)block(s, ((size_t)1 << table_bits) * sizeof(uint32_t));
    h.bits = (const uint8_t *)block(s, (size_t)(h.num_bits + 7) / 8);
    channels = fc_channels(s, params, units);
    valid = table_bits != 0 && lut_reference(&h, units, depth, dense) == 0 &&
            (channels == 0 || (params->input_offset == 0 && params->filter_offset == 0));
    /* with channel constants the kernel reads no mcc_quant (the exporter then writes none) */
    status = mcc_fully_connected_huffman_lut_s8(params, channels != 0 ? 0 : quant, input_dims, input, filter_dims,
                                                &h, 0, channels, output_dims, output);
    if (valid && channels != 0) {
        for (b = 0; b < output_dims->n; ++b) {
            for (u = 0; u < units; ++u) {
                int32_t acc = 0;
                for (k = 0; k < depth; ++k) {
                    acc += input[b * depth + k] * dense[u * depth + k];
                }
                want[b * units + u] = fc_expected(params, quant, channels, u, acc);
            }
        }
    } else if (valid && mcc_fully_connected_s8(params, quant, input_dims, input, filter_dims, dense, 0,
                                               output_dims, want) != MCC_OK) {
        abort();
    }
    if (valid) {
        if (status != MCC_OK || memcmp(want, output, (size_t)out_size) != 0) {
            abort(); /* not bit-exact with the portable kernel on the stated weights */
        }
    } else if (status != MCC_ERROR_ARGUMENT) {
        abort();
    }
    free((void *)h.lookup);
    free((void *)h.bits);
    free(dense);
    free(want);
    free(channels);
    return 0;
}

/* One differential case of a segment-encoded fully connected kernel (csr_seg, csr_pair), whose
 * format the harness states itself: shapes, the stream's channel constants and input, the
 * outputs the format's statement gives and the kernel's. valid: the kernel must accept the case. */
typedef struct {
    int32_t units, batches, depth;
    mcc_dims in_dims, f_dims, out_dims;
    int32_t *channels;
    int valid;
    int8_t *input, *want, *got;
} segment_case;

/* acc of row u as a format's statement gives it, or -1 when the format rejects the row; *k is
 * the layer's entry (or group) index, which the rows advance in turn. */
typedef int (*row_sum_fn)(const void *weights, int32_t depth, const int8_t *row, int32_t input_offset,
                          int32_t filter_offset, int32_t *k, int32_t u, int32_t *acc);

/* The case's depth (rows up to 700 long, past two segments) and channel constants from the
 * stream; the constants need both offsets 0. */
static void segment_case_open(stream *s, const mcc_fc_params *params, int32_t units, int32_t batches,
                              segment_case *c)
{
    const int32_t depth = (int32_t)(take(s, 2) % 700) + 1;
    const mcc_dims in_dims = {batches, 1, 1, depth}, f_dims = {units, 1, 1, depth}, out_dims = {batches, 1, 1, units};
    c->units = units;
    c->batches = batches;
    c->depth = depth;
    c->in_dims = in_dims;
    c->f_dims = f_dims;
    c->out_dims = out_dims;
    c->channels = fc_channels(s, params, units);
    c->valid = c->channels == 0 || (params->input_offset == 0 && params->filter_offset == 0);
}

/* The input (after the weights in the stream) and the outputs row_sum gives for every batch and
 * unit, requantized as the kernel does; valid turns 0 at the first row the format rejects. */
static void segment_case_expect(stream *s, const mcc_fc_params *params, const mcc_quant *quant, const void *weights,
                                row_sum_fn row_sum, segment_case *c)
{
    int32_t b, u, k;
    c->input = (int8_t *)block(s, (size_t)(c->batches * c->depth));
    c->want = (int8_t *)malloc((size_t)(c->batches * c->units));
    c->got = (int8_t *)malloc((size_t)(c->batches * c->units));
    for (b = 0; b < c->batches && c->valid; ++b) {
        for (u = 0, k = 0; u < c->units && c->valid; ++u) {
            int32_t acc;
            c->valid = row_sum(weights, c->depth, c->input + b * c->depth, params->input_offset, params->filter_offset,
                               &k, u, &acc) == 0;
            c->want[b * c->units + u] = fc_expected(params, quant, c->channels, u, acc);
        }
    }
}

/* The verdict on the kernel's status and outputs (the harness aborts on a mismatch: the same
 * status as the statement of the format, and when valid the same bytes); frees the case. */
static int segment_case_close(segment_case *c, mcc_status status)
{
    if (c->valid ? status != MCC_OK || memcmp(c->want, c->got, (size_t)(c->batches * c->units)) != 0
                 : status != MCC_ERROR_ARGUMENT) {
        abort();
    }
    free(c->input);
    free(c->want);
    free(c->got);
    free(c->channels);
    return 0;
}

/* acc of row u of the csr_seg weights as the format in mcc.h states them (segment s at column
 * 256 * s, the last at depth - 256 or 0), or -1 when a count passes the entries left or, for a
 * row shorter than 256, an offset passes the row; *k is the layer's entry index. */
static int seg_reference(const void *weights, int32_t depth, const int8_t *row, int32_t input_offset,
                         int32_t filter_offset, int32_t *k, int32_t u, int32_t *acc)
{
    const mcc_csr_seg_s8 *f = (const mcc_csr_seg_s8 *)weights;
    int32_t s, i;
    *acc = 0;
    for (s = 0; s < f->segments; ++s) {
        const int32_t n = f->counts[u * f->segments + s];
        const int32_t start = s + 1 < f->segments ? 256 * s : (depth > 256 ? depth - 256 : 0);
        if (n > f->entries - *k) {
            return -1;
        }
        for (i = *k; i < *k + n; ++i) {
            if (start + f->offsets[i] >= depth) {
                return -1;
            }
            *acc += (row[start + f->offsets[i]] + input_offset) * (f->values[i] + filter_offset);
        }
        *k += n;
    }
    return 0;
}

/* mcc_fully_connected_csr_seg_s8 on fuzzed counts, offsets and values, with or without channel
 * constants: same status as the statement of the format (every offset of a short row is checked
 * before any output) and the same bytes, or the harness aborts. */
static int fuzz_csr_seg(stream *s, const mcc_fc_params *params, const mcc_quant *quant, int32_t units,
                        int32_t batches)
{
    segment_case c;
    mcc_csr_seg_s8 f;
    int32_t k;
    mcc_status status;
    segment_case_open(s, params, units, batches, &c);
    f.segments = (c.depth + 255) / 256;
    f.entries = (int32_t)(take(s, 2) % 4000);
    f.counts = (const uint16_t *)block(s, (size_t)(units * f.segments) * sizeof(uint16_t));
    f.offsets = (const uint8_t *)block(s, (size_t)f.entries);
    f.values = (const int8_t *)block(s, (size_t)f.entries);
    if (c.depth < 256) {
        for (k = 0; k < f.entries; ++k) {
            c.valid &= f.offsets[k] < c.depth;
        }
    }
    segment_case_expect(s, params, quant, &f, seg_reference, &c);
    status = mcc_fully_connected_csr_seg_s8(params, quant, &c.in_dims, c.input, &c.f_dims, &f, 0, c.channels,
                                            &c.out_dims, c.got);
    free((void *)f.counts);
    free((void *)f.offsets);
    free((void *)f.values);
    return segment_case_close(&c, status);
}

/* acc of row u of the csr_pair weights as the format in mcc.h states them (windows of two
 * columns at segment start + offset; columns from depth on read 0), or -1 when a count passes
 * the groups left; *k is the layer's group index. */
static int pair_reference(const void *weights, int32_t depth, const int8_t *row, int32_t input_offset,
                          int32_t filter_offset, int32_t *k, int32_t u, int32_t *acc)
{
    const mcc_csr_pair_s8 *f = (const mcc_csr_pair_s8 *)weights;
    int32_t s, i, j;
    *acc = 0;
    for (s = 0; s < f->segments; ++s) {
        const int32_t n = f->counts[u * f->segments + s];
        const int32_t start = s + 1 < f->segments ? 256 * s : (depth > 256 ? depth - 256 : 0);
        if (n > f->groups_count - *k) {
            return -1;
        }
        for (i = *k; i < *k + n; ++i) {
            const uint8_t *g = (const uint8_t *)&f->groups[3 * i];
            /* window j: offset, first and second weight (byte positions of the three words) */
            static const int at[4][3] = {{0, 1, 3}, {2, 8, 10}, {4, 5, 7}, {6, 9, 11}};
            for (j = 0; j < 4; ++j) {
                const int32_t col = start + g[at[j][0]];
                const int32_t x0 = col < depth ? row[col] + input_offset : 0;
                const int32_t x1 = col + 1 < depth ? row[col + 1] + input_offset : 0;
                *acc += x0 * ((int8_t)g[at[j][1]] + filter_offset) + x1 * ((int8_t)g[at[j][2]] + filter_offset);
            }
        }
        *k += n;
    }
    return 0;
}

/* mcc_fully_connected_csr_pair_s8 on fuzzed counts and groups, with or without channel constants,
 * with a scratch block of exactly its size: same status as the statement of the format and the
 * same bytes, or the harness aborts. */
static int fuzz_csr_pair(stream *s, const mcc_fc_params *params, const mcc_quant *quant, int32_t units,
                         int32_t batches)
{
    segment_case c;
    mcc_csr_pair_s8 f;
    void *scratch;
    mcc_status status;
    segment_case_open(s, params, units, batches, &c);
    f.segments = (c.depth + 255) / 256;
    f.groups_count = (int32_t)(take(s, 2) % 1500);
    f.counts = (const uint8_t *)block(s, (size_t)(units * f.segments));
    f.groups = (const uint32_t *)block(s, (size_t)f.groups_count * 3 * sizeof(uint32_t));
    segment_case_expect(s, params, quant, &f, pair_reference, &c);
    scratch = malloc((size_t)mcc_fully_connected_csr_pair_s8_get_buffer_size(c.depth, units));
    status = mcc_fully_connected_csr_pair_s8(params, quant, &c.in_dims, c.input, &c.f_dims, &f, 0, c.channels,
                                             &c.out_dims, c.got, scratch);
    free((void *)f.counts);
    free((void *)f.groups);
    free(scratch);
    return segment_case_close(&c, status);
}

/* The int4 kernels on fuzzed packed weights, shapes, offsets and requantization (and, one input
 * in 16, a k_padded they must refuse): outputs must equal mcc_conv2d_s8 / mcc_fully_connected_s8
 * on the unpacked values (mcc.h's statement of the two layouts). Fully connected rows go in
 * blocks of 4 (the last the rows left), a word per row of the block; conv rows one after the
 * other. */
static int fuzz_int4(stream *s)
{
    const uint32_t mode = take(s, 1);
    const int conv = (int)(mode & 1), bad_padding = (mode & 0x1E) == 0x1E;
    int32_t units, k, k_padded, words, u, j, lo, hi;
    dense_check c;
    mcc_conv_fast_params fcp;
    mcc_fc_fast_params ffp;
    uint32_t *packed;
    void *scratch;
    mcc_status status;
    memset(&c, 0, sizeof(c));
    c.conv = conv;
    c.rows = 1;
    if (conv) {
        const int32_t channels = (int32_t)(take(s, 1) % 40) + 1;   /* 32, 36, 40: widened from the input */
        c.in_dims.n = (int32_t)(take(s, 1) % 2) + 1;
        c.in_dims.h = (int32_t)(take(s, 1) % 5) + 1;
        c.in_dims.w = (int32_t)(take(s, 1) % 5) + 1;
        c.in_dims.c = channels;
        c.f_dims.n = (int32_t)(take(s, 1) % 7) + 1;
        c.f_dims.h = (int32_t)(take(s, 1) % 3) + 1;
        c.f_dims.w = (int32_t)(take(s, 1) % 3) + 1;
        c.f_dims.c = channels;
        c.cp.stride.h = (int32_t)(take(s, 1) % 2) + 1;
        c.cp.stride.w = (int32_t)(take(s, 1) % 3) + 1;
        c.cp.padding.h = (int32_t)(take(s, 1) % 3);
        c.cp.padding.w = (int32_t)(take(s, 1) % 2);
        c.cp.dilation.h = 1;
        c.cp.dilation.w = (int32_t)(take(s, 1) % 2) + 1;
        if (!dense_check_conv_shape(&c)) {
            return 0;
        }
    } else {
        dense_check_fc(s, &c, 23, 90);
    }
    units = c.units;
    k = c.k;
    k_padded = (k + 7) / 8 * 8;
    words = k_padded / 8;
    dense_check_offsets(s, &c);
    packed = (uint32_t *)block(s, (size_t)units * (size_t)words * sizeof(uint32_t));
    dense_check_buffers(s, &c);
    for (u = 0; u < units; ++u) {
        const int32_t start = conv ? u : u / 4 * 4, n = conv ? 1 : (units - start < 4 ? units - start : 4);
        int32_t sum = 0;
        for (j = 0; j < k; ++j) {
            /* product j: fully connected, nibble j % 8 of the row's word j / 8; conv, in a group
             * of 4 the nibbles k0 k2 k1 k3 */
            const uint32_t word = packed[start * words + (j / 8) * n + (u - start)];
            const int32_t r = j % 4, at = conv ? (j % 8 - r) + ((r & 1) << 1 | r >> 1) : j % 8;
            const int32_t nibble = (int32_t)((word >> (4 * at)) & 15u);
            c.dense[u * k + j] = (int8_t)(nibble >= 8 ? nibble - 16 : nibble);
            sum += c.dense[u * k + j];
        }
        dense_check_channel(s, &c, u, sum, 4);
    }
    lo = -128 + (int32_t)(take(s, 1) % 64);
    hi = 127 - (int32_t)(take(s, 1) % 64);
    /* a k_padded that is not a multiple of 8 must be refused */
    dense_check_expect(&c, bad_padding ? k_padded - 4 : k_padded, lo, hi, &fcp, &ffp);
    if (conv) {
        scratch = malloc((size_t)mcc_conv2d_int4_s8_get_buffer_size(k_padded, units));
        status = mcc_conv2d_int4_s8(&fcp, packed, &c.in_dims, c.input, &c.out_dims, c.got, scratch);
    } else {
        scratch = malloc((size_t)mcc_fully_connected_int4_s8_get_buffer_size(k_padded));
        status = mcc_fully_connected_int4_s8(&ffp, packed, c.rows, c.input, c.got, scratch);
    }
    free(scratch);
    free(packed);
    return dense_check_close(&c, bad_padding, status);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    stream s;
    const int32_t multiplier = 1 << 30, shift = 0;
    const mcc_quant quant = {&multiplier, &shift, 0, 0};
    mcc_fc_params params = {0, 0, -5, {-128, 127}};
    mcc_dims input_dims, filter_dims, output_dims;
    int32_t units, depth, batches;
    int8_t *input, *output;
    void *owned[8] = {0};

    s.data = data;
    s.size = size;
    s.pos = 0;
    {
#ifdef FUZZ_KIND /* one decoder only (scripts/fuzz_decoders.sh RUNS KIND) */
        const uint32_t kind = (take(&s, 1), (uint32_t)(FUZZ_KIND));
#else
        const uint32_t kind = take(&s, 1) % 11;
#endif
        if (kind == 9) { /* packed int4, differential */
            return fuzz_int4(&s);
        }
        units = (int32_t)(take(&s, 1) % 24) + 1;
        depth = (int32_t)(take(&s, 1) % 80) + 1;
        const uint32_t flags = take(&s, 1);
        batches = (int32_t)(flags % 2) + 1;
        params.input_offset = (flags & 2) ? 3 : 0; /* 0: the CSR kernel's lean path */
        params.filter_offset = (flags & 4) ? -2 : 0;
        input_dims.n = batches; input_dims.h = 1; input_dims.w = 1; input_dims.c = depth;
        filter_dims.n = units; filter_dims.h = 1; filter_dims.w = 1; filter_dims.c = depth;
        output_dims.n = batches; output_dims.h = 1; output_dims.w = 1; output_dims.c = units;
        if (kind == 8) { /* CSR in segments, differential */
            return fuzz_csr_seg(&s, &params, &quant, units, batches);
        }
        if (kind == 10) { /* CSR windows of two columns, differential */
            return fuzz_csr_pair(&s, &params, &quant, units, batches);
        }
        if (kind == 7) { /* Huffman with a lookup table, differential */
            int r;
            input = (int8_t *)block(&s, (size_t)(batches * depth));
            output = (int8_t *)malloc((size_t)(batches * units));
            r = fuzz_huffman_lut(&s, &params, &quant, &input_dims, input, &filter_dims, &output_dims, output);
            free(input);
            free(output);
            return r;
        }
        if (kind >= 5) { /* fast codebook kernels: conv2d, fully connected */
            return fuzz_codebook_fast(&s, kind == 5);
        }
        if (kind >= 3) { /* conv2d: the same descriptors over an im2col matrix (units, kh*kw*c) */
            return fuzz_conv(&s, kind == 3);
        }
        input = (int8_t *)block(&s, (size_t)(batches * depth));
        output = (int8_t *)malloc((size_t)(batches * units));
        if (kind == 0) {
            mcc_csr_s8 csr;
            csr.gap_bits = (take(&s, 1) & 1) ? 8 : 4;
            csr.entries = (int32_t)(take(&s, 2) % 2000);
            owned[0] = block(&s, (size_t)units * sizeof(uint16_t));
            owned[1] = block(&s, (size_t)(csr.gap_bits == 4 ? (csr.entries + 1) / 2 : csr.entries));
            owned[2] = block(&s, (size_t)csr.entries);
            csr.row_entries = (const uint16_t *)owned[0];
            csr.gaps = (const uint8_t *)owned[1];
            csr.values = (const int8_t *)owned[2];
            (void)mcc_fully_connected_csr_s8(&params, &quant, &input_dims, input, &filter_dims, &csr, 0,
                                             &output_dims, output);
        } else if (kind == 1) {
            mcc_codebook_s8 cb;
            const int32_t claimed = (int32_t)(take(&s, 1) % 10); /* 0 and 9: invalid */
            cb.index_bits = claimed;
            cb.index_bytes = (int32_t)(take(&s, 2) % 2500);
            owned[0] = block(&s, (size_t)cb.index_bytes);
            owned[1] = block(&s, (size_t)1 << (claimed >= 1 && claimed <= 8 ? claimed : 0));
            cb.indices = (const uint8_t *)owned[0];
            cb.codebook = (const int8_t *)owned[1];
            (void)mcc_fully_connected_codebook_s8(&params, &quant, &input_dims, input, &filter_dims, &cb, 0,
                                                  &output_dims, output);
        } else {
            mcc_huffman_s8 h;
            const int sparse = (int)(take(&s, 1) & 1);
            huffman_table(&s, &h.values, owned);
            if (sparse) {
                huffman_table(&s, &h.runs, owned + 2);
            } else {
                memset(&h.runs, 0, sizeof(h.runs));
            }
            h.num_bits = (int32_t)(take(&s, 2) % 20000);
            owned[4] = block(&s, (size_t)(h.num_bits + 7) / 8);
            h.bits = (const uint8_t *)owned[4];
            (void)mcc_fully_connected_huffman_s8(&params, &quant, &input_dims, input, &filter_dims, &h, 0,
                                                 &output_dims, output);
        }
    }
    return release(owned, 8, input, output);
}

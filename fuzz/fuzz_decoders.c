/* libFuzzer harness for the encoded-weight decoders (CSR, codebook, Huffman fully connected
 * kernels; CSR and codebook conv2d kernels).
 *
 * The fuzz input is read as a small header (which kernel, shapes, claimed lengths) followed by
 * the raw bytes of the encoded arrays. Every array is copied into a heap block of exactly the
 * length its descriptor states, so AddressSanitizer reports any read or write outside it; the
 * kernels must return MCC_OK or MCC_ERROR_ARGUMENT whatever the bytes say.
 *
 * Build and run: scripts/fuzz_decoders.sh (clang -fsanitize=fuzzer,address,undefined). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcc.h"

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

static int fuzz_conv(stream *s, int csr_weights)
{
    const int32_t multiplier = 1 << 30, shift = 0;
    const mcc_quant quant = {&multiplier, &shift, 0, 0};
    mcc_conv_params params;
    mcc_dims input_dims, filter_dims, output_dims;
    int8_t *input, *output;
    void *owned[3] = {0};
    int32_t depth;
    int i;
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
        (void)mcc_conv2d_csr_s8(&params, &quant, &input_dims, input, &filter_dims, &csr, 0,
                                &output_dims, output);
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
    for (i = 0; i < 3; ++i) {
        free(owned[i]);
    }
    free(input);
    free(output);
    return 0;
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
    int i;

    s.data = data;
    s.size = size;
    s.pos = 0;
    {
        const uint32_t kind = take(&s, 1) % 5;
        units = (int32_t)(take(&s, 1) % 24) + 1;
        depth = (int32_t)(take(&s, 1) % 80) + 1;
        const uint32_t flags = take(&s, 1);
        batches = (int32_t)(flags % 2) + 1;
        params.input_offset = (flags & 2) ? 3 : 0; /* 0: the CSR kernel's lean path */
        params.filter_offset = (flags & 4) ? -2 : 0;
        input_dims.n = batches; input_dims.h = 1; input_dims.w = 1; input_dims.c = depth;
        filter_dims.n = units; filter_dims.h = 1; filter_dims.w = 1; filter_dims.c = depth;
        output_dims.n = batches; output_dims.h = 1; output_dims.w = 1; output_dims.c = units;
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
    for (i = 0; i < 8; ++i) {
        free(owned[i]);
    }
    free(input);
    free(output);
    return 0;
}

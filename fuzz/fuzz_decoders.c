/* libFuzzer harness for the encoded-weight decoders (CSR, codebook, Huffman kernels).
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    stream s;
    const int32_t multiplier = 1 << 30, shift = 0;
    const mcc_quant quant = {&multiplier, &shift, 0, 0};
    const mcc_fc_params params = {3, 0, -5, {-128, 127}};
    mcc_dims input_dims, filter_dims, output_dims;
    int32_t units, depth, batches;
    int8_t *input, *output;
    void *owned[8] = {0};
    int i;

    s.data = data;
    s.size = size;
    s.pos = 0;
    {
        const uint32_t kind = take(&s, 1) % 3;
        units = (int32_t)(take(&s, 1) % 24) + 1;
        depth = (int32_t)(take(&s, 1) % 80) + 1;
        batches = (int32_t)(take(&s, 1) % 2) + 1;
        input_dims.n = batches; input_dims.h = 1; input_dims.w = 1; input_dims.c = depth;
        filter_dims.n = units; filter_dims.h = 1; filter_dims.w = 1; filter_dims.c = depth;
        output_dims.n = batches; output_dims.h = 1; output_dims.w = 1; output_dims.c = units;
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

/* mcc_fully_connected_codebook_fast_s8 - int8 fully connected on 2- or 4-bit codebook indices
 * laid out at export time (mcucompress/codegen/codebook_fast.py): the same results as
 * mcc_fully_connected_s8 (filter zero point 0, TFLM double rounding), bit for bit.
 *
 * The input row is widened once into scratch as (x0, x2), (x1, x3) per group of 4, the order of
 * the index fields; each field names a pair of doubled weights in a table built in scratch on
 * each call, so a pair of products costs a field extraction, a table load and one SMLAD. Rows go
 * in blocks of 4 sharing each input pair; channels holds {2 * folded bias, multiplier, round,
 * shift} per row (mcc_fully_connected_fast_s8's constants). */
#include <string.h>

#include "mcc.h"
#include "mcc_nn.h"

#define CB_ROWS 4 /* output rows per pass */

int32_t mcc_fully_connected_codebook_fast_s8_get_buffer_size(int32_t k_padded, int32_t index_bits)
{
    return 4 * (1 << (2 * index_bits)) + 2 * k_padded;
}

/* Sums of n (1-4) rows whose index words interleave (word i of row r at i * n + r), over
 * `words` words of fields of `field_bits` bits; acc holds the biases on entry. */
MCC_INLINE void dot_rows(const uint32_t *idx, int32_t words, int32_t n, int32_t field_bits,
                         const uint32_t *table, const uint32_t *col, int32_t acc[CB_ROWS])
{
    const uint32_t mask = (1u << field_bits) - 1u;
    const int32_t fields = 32 / field_bits;
    int32_t i, q, r;
    if (n == CB_ROWS) {
        int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
#if MCC_HAVE_DSP_ASM
        if (words > 0) {
            /* The hot loop, registers chosen by hand: per word position one LDM brings the 4
             * rows' index words; per pair one LDR the input pair, then per row a UBFX, a table
             * load and an SMLAD: 13 instructions per 8 products (the end waits on the stack). */
            register int32_t r0 __asm__("r0") = a0;
            register int32_t r1 __asm__("r1") = a1;
            register int32_t r2 __asm__("r2") = a2;
            register int32_t r3 __asm__("r3") = a3;
            register const uint32_t *rc __asm__("ip") = col;
            register const uint32_t *ri __asm__("lr") = idx;
            register const uint32_t *rt __asm__("r11") = table;
            const uint32_t *end = idx + CB_ROWS * words;
#define MCC_CB_ROW(F, ACC, FIELD)                                                                \
            FIELD("r9", F)                                                                      \
            "ldr r9, [%[t], r9, lsl #2]\n\t"                                                    \
            "smlad %[" ACC "], r8, r9, %[" ACC "]\n\t"
#define MCC_CB_PAIR(FIELD)                                                                       \
            "ldr r8, [%[c]], #4\n\t"                                                            \
            MCC_CB_ROW("r4", "a0", FIELD) MCC_CB_ROW("r5", "a1", FIELD)                          \
            MCC_CB_ROW("r6", "a2", FIELD) MCC_CB_ROW("r7", "a3", FIELD)
#define MCC_CB_F8_0(T, F) "uxtb " T ", " F "\n\t"
#define MCC_CB_F8_1(T, F) "ubfx " T ", " F ", #8, #8\n\t"
#define MCC_CB_F8_2(T, F) "ubfx " T ", " F ", #16, #8\n\t"
#define MCC_CB_F8_3(T, F) "lsr " T ", " F ", #24\n\t"
#define MCC_CB_F4_0(T, F) "and " T ", " F ", #15\n\t"
#define MCC_CB_F4_1(T, F) "ubfx " T ", " F ", #4, #4\n\t"
#define MCC_CB_F4_2(T, F) "ubfx " T ", " F ", #8, #4\n\t"
#define MCC_CB_F4_3(T, F) "ubfx " T ", " F ", #12, #4\n\t"
#define MCC_CB_F4_4(T, F) "ubfx " T ", " F ", #16, #4\n\t"
#define MCC_CB_F4_5(T, F) "ubfx " T ", " F ", #20, #4\n\t"
#define MCC_CB_F4_6(T, F) "ubfx " T ", " F ", #24, #4\n\t"
#define MCC_CB_F4_7(T, F) "lsr " T ", " F ", #28\n\t"
#define MCC_CB_OPERANDS                                                                          \
            : [a0] "+r"(r0), [a1] "+r"(r1), [a2] "+r"(r2), [a3] "+r"(r3), [c] "+r"(rc), [i] "+r"(ri) \
            : [t] "r"(rt), [e] "m"(end)                                                          \
            : "r4", "r5", "r6", "r7", "r8", "r9", "cc", "memory"
            if (field_bits == 8) {
                __asm__ volatile("1:\n\t"
                                 "ldm %[i]!, {r4, r5, r6, r7}\n\t"
                                 MCC_CB_PAIR(MCC_CB_F8_0) MCC_CB_PAIR(MCC_CB_F8_1)
                                 MCC_CB_PAIR(MCC_CB_F8_2) MCC_CB_PAIR(MCC_CB_F8_3)
                                 "ldr r9, %[e]\n\t"
                                 "cmp %[i], r9\n\t"
                                 "bne 1b"
                                 MCC_CB_OPERANDS);
            } else {
                __asm__ volatile("1:\n\t"
                                 "ldm %[i]!, {r4, r5, r6, r7}\n\t"
                                 MCC_CB_PAIR(MCC_CB_F4_0) MCC_CB_PAIR(MCC_CB_F4_1)
                                 MCC_CB_PAIR(MCC_CB_F4_2) MCC_CB_PAIR(MCC_CB_F4_3)
                                 MCC_CB_PAIR(MCC_CB_F4_4) MCC_CB_PAIR(MCC_CB_F4_5)
                                 MCC_CB_PAIR(MCC_CB_F4_6) MCC_CB_PAIR(MCC_CB_F4_7)
                                 "ldr r9, %[e]\n\t"
                                 "cmp %[i], r9\n\t"
                                 "bne 1b"
                                 MCC_CB_OPERANDS);
            }
#undef MCC_CB_OPERANDS
#undef MCC_CB_F4_7
#undef MCC_CB_F4_6
#undef MCC_CB_F4_5
#undef MCC_CB_F4_4
#undef MCC_CB_F4_3
#undef MCC_CB_F4_2
#undef MCC_CB_F4_1
#undef MCC_CB_F4_0
#undef MCC_CB_F8_3
#undef MCC_CB_F8_2
#undef MCC_CB_F8_1
#undef MCC_CB_F8_0
#undef MCC_CB_PAIR
#undef MCC_CB_ROW
            acc[0] = r0;
            acc[1] = r1;
            acc[2] = r2;
            acc[3] = r3;
            return;
        }
#endif
        for (i = 0; i < words; ++i) {
            uint32_t f0 = idx[0], f1 = idx[1], f2 = idx[2], f3 = idx[3];
            for (q = 0; q < fields; ++q) {
                const uint32_t x = col[q];
                a0 = mcc_nn_smlad(x, table[f0 & mask], a0);
                a1 = mcc_nn_smlad(x, table[f1 & mask], a1);
                a2 = mcc_nn_smlad(x, table[f2 & mask], a2);
                a3 = mcc_nn_smlad(x, table[f3 & mask], a3);
                f0 >>= field_bits;
                f1 >>= field_bits;
                f2 >>= field_bits;
                f3 >>= field_bits;
            }
            idx += CB_ROWS;
            col += fields;
        }
        acc[0] = a0;
        acc[1] = a1;
        acc[2] = a2;
        acc[3] = a3;
        return;
    }
    for (i = 0; i < words; ++i) {
        for (r = 0; r < n; ++r) {
            uint32_t f = idx[r];
            for (q = 0; q < fields; ++q) {
                acc[r] = mcc_nn_smlad(col[q], table[f & mask], acc[r]);
                f >>= field_bits;
            }
        }
        idx += n;
        col += fields;
    }
}

mcc_status mcc_fully_connected_codebook_fast_s8(const mcc_fc_fast_params *params,
                                                const mcc_codebook_fast_s8 *filter, int32_t rows,
                                                const int8_t *input, int8_t *output, void *scratch)
{
    const int32_t bits = filter->index_bits;
    const int32_t field_bits = 2 * bits;
    const int32_t k = params->in_features;
    const int32_t k_padded = params->k_padded;
    const int32_t units = params->out_features;
    const int32_t words = k_padded / (64 / field_bits);
    const int32_t lo = params->activation.min;
    const int32_t hi = params->activation.max;
    uint32_t *table = (uint32_t *)scratch;
    uint32_t *col = table + (1 << field_bits);
    int32_t row;

    if ((bits != 2 && bits != 4) || k_padded % (64 / field_bits) != 0 || k_padded < k || k <= 0 ||
        units <= 0 || rows < 0) {
        return MCC_ERROR_ARGUMENT;
    }
    mcc_nn_codebook_pair_table(filter->codebook, bits, table);
    for (row = 0; row < rows; ++row) {
        const int8_t *x = input + row * k;
        const uint32_t *idx = filter->indices;
        const int32_t *ch = params->channels;
        int32_t i, u;
        for (i = 0; i < k_padded; i += 4) { /* widened input, zeros past k */
            uint32_t v = 0;
            if (i + 4 <= k) {
                memcpy(&v, x + i, 4);
            } else {
                int32_t j;
                for (j = 0; i + j < k; ++j) {
                    v |= (uint32_t)(uint8_t)x[i + j] << (8 * j);
                }
            }
            mcc_nn_widen4(v, col + (i >> 1), col + (i >> 1) + 1);
        }
        for (u = 0; u < units; u += CB_ROWS) {
            const int32_t n = units - u < CB_ROWS ? units - u : CB_ROWS;
            int32_t acc[CB_ROWS];
            int32_t r;
            for (r = 0; r < n; ++r) {
                acc[r] = ch[4 * r];
            }
            dot_rows(idx, words, n, field_bits, table, col, acc);
            for (r = 0; r < n; ++r) {
                output[u + r] = mcc_nn_fast_requantize(acc[r], ch[4 * r + 1], ch[4 * r + 2], ch[4 * r + 3], lo, hi);
            }
            idx += n * words;
            ch += 4 * n;
        }
        output += units;
    }
    return MCC_OK;
}

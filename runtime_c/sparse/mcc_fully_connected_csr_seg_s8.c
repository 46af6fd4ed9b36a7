/* mcc_fully_connected_csr_seg_s8 - int8 fully connected layer with sparse rows stored as
 * absolute 8-bit column offsets inside 256-column segments (mcucompress/encode/csr_seg.py).
 *
 * Per row and segment a count, then that many (offset, value) entries. Segment s starts at
 * column 256 * s, the last one at depth - 256, so every offset 0..255 lands inside the row: no
 * entry needs a bounds check and no column depends on the one before, which lets the M4 load
 * each activation with one register-offset load and the M55 gather 16 at a time. Only the
 * counts are checked (against the entries left), and for a row shorter than 256 (one segment)
 * every offset once per call, so corrupt data ends in MCC_ERROR_ARGUMENT and never in an
 * out-of-bounds read.
 *
 * When both offsets are 0 (code generation folds input_offset * row sum into the bias) the rows
 * run the lean dot products below; otherwise every product takes the offsets. */
#include "mcc.h"
#include "mcc_nn.h"

#if MCC_HAVE_MVE_ASM
#include <arm_mve.h>
#endif

#define SEGMENT 256

#if MCC_HAVE_MVE_ASM
/* acc + sum of x[offsets[i]] * values[i] over n entries: a tail-predicated loop (DLSTP/LETP),
 * 16 entries a turn with one gather of 16 activations; lanes past the entries read nothing.
 * VMLADAVA takes an even accumulator register. */
static int32_t seg_dot(const int8_t *x, const uint8_t *offsets, const int8_t *values, int32_t n,
                       int32_t acc)
{
    register int32_t sum __asm__("r4") = acc;
    if (n > 0) {
        __asm__ volatile("dlstp.8     lr, %[n]\n\t"
                         "1:\n\t"
                         "vldrb.u8    q0, [%[o]], #16\n\t"
                         "vldrb.u8    q1, [%[v]], #16\n\t"
                         "vldrb.u8    q2, [%[x], q0]\n\t"
                         "vmladava.s8 %[sum], q2, q1\n\t"
                         "letp        lr, 1b\n\t"
                         : [sum] "+r"(sum), [o] "+r"(offsets), [v] "+r"(values)
                         : [x] "r"(x), [n] "r"(n)
                         : "d0", "d1", "d2", "d3", "d4", "d5", "lr", "memory");
    }
    return sum;
}
#elif MCC_HAVE_DSP_ASM
/* Four entries: one word of values split into (v0, v2) and (v1, v3) int16 pairs (SXTB16), four
 * offsets, four activations, four 16 x 16 multiply-accumulates. */
#define SEG_QUAD                                                                                   \
    "ldr    %[w], [%[v]], #4\n\t"                                                                  \
    "ldrb   %[o0], [%[o]], #1\n\t"                                                                 \
    "ldrb   %[o1], [%[o]], #1\n\t"                                                                 \
    "ldrb   %[o2], [%[o]], #1\n\t"                                                                 \
    "ldrb   %[o3], [%[o]], #1\n\t"                                                                 \
    "ldrsb  %[o0], [%[x], %[o0]]\n\t"                                                              \
    "ldrsb  %[o1], [%[x], %[o1]]\n\t"                                                              \
    "ldrsb  %[o2], [%[x], %[o2]]\n\t"                                                              \
    "ldrsb  %[o3], [%[x], %[o3]]\n\t"                                                              \
    "sxtb16 %[wa], %[w]\n\t"                                                                       \
    "sxtb16 %[w], %[w], ror #8\n\t"                                                                \
    "smlabb %[acc], %[o0], %[wa], %[acc]\n\t"                                                      \
    "smlabt %[acc], %[o2], %[wa], %[acc]\n\t"                                                      \
    "smlabb %[acc], %[o1], %[w], %[acc]\n\t"                                                       \
    "smlabt %[acc], %[o3], %[w], %[acc]\n\t"

/* acc + sum of x[offsets[i]] * values[i] over n entries: eight a loop turn, then four, then
 * one at a time (the value words may be unaligned: ARMv7E-M loads them in one LDR). */
static int32_t seg_dot(const int8_t *x, const uint8_t *offsets, const int8_t *values, int32_t n,
                       int32_t acc)
{
    int32_t w, wa, o0, o1, o2, o3;
    int32_t eights = n >> 3;
    if (eights > 0) {
        __asm__ volatile("1:\n\t" SEG_QUAD SEG_QUAD
                         "subs   %[n], %[n], #1\n\t"
                         "bne    1b\n\t"
                         : [acc] "+r"(acc), [o] "+r"(offsets), [v] "+r"(values), [n] "+r"(eights),
                           [w] "=&r"(w), [wa] "=&r"(wa), [o0] "=&r"(o0), [o1] "=&r"(o1),
                           [o2] "=&r"(o2), [o3] "=&r"(o3)
                         : [x] "r"(x)
                         : "cc", "memory");
    }
    if (n & 4) {
        __asm__ volatile(SEG_QUAD
                         : [acc] "+r"(acc), [o] "+r"(offsets), [v] "+r"(values), [w] "=&r"(w),
                           [wa] "=&r"(wa), [o0] "=&r"(o0), [o1] "=&r"(o1), [o2] "=&r"(o2),
                           [o3] "=&r"(o3)
                         : [x] "r"(x)
                         : "memory");
    }
    for (n &= 3; n > 0; --n) {
        acc += x[*offsets++] * *values++;
    }
    return acc;
}
#else
/* acc + sum of x[offsets[i]] * values[i] over n entries. */
static int32_t seg_dot(const int8_t *x, const uint8_t *offsets, const int8_t *values, int32_t n,
                       int32_t acc)
{
    int32_t i;
    for (i = 0; i < n; ++i) {
        acc += x[offsets[i]] * values[i];
    }
    return acc;
}
#endif

/* acc + sum of (x[offsets[i]] + input_offset) * (values[i] + filter_offset) over n entries. */
static int32_t seg_dot_offsets(const int8_t *x, const uint8_t *offsets, const int8_t *values,
                               int32_t n, int32_t input_offset, int32_t filter_offset, int32_t acc)
{
    int32_t i;
    for (i = 0; i < n; ++i) {
        acc += (x[offsets[i]] + input_offset) * (values[i] + filter_offset);
    }
    return acc;
}

mcc_status mcc_fully_connected_csr_seg_s8(const mcc_fc_params *params, const mcc_quant *quant,
                                          const mcc_dims *input_dims, const int8_t *input,
                                          const mcc_dims *filter_dims, const mcc_csr_seg_s8 *filter,
                                          const int32_t *bias, const int32_t *channels,
                                          const mcc_dims *output_dims, int8_t *output)
{
    const int32_t depth = filter_dims->c;
    const int32_t units = filter_dims->n;
    const int32_t batches = input_dims->n;
    const int32_t segments = (depth + SEGMENT - 1) / SEGMENT;
    const int folded = params->input_offset == 0 && params->filter_offset == 0;
    const int32_t lo = params->activation.min, hi = params->activation.max;
    int32_t b, u, s;

    if (output_dims->c != units || depth <= 0 || filter->segments != segments ||
        (int64_t)input_dims->h * input_dims->w * input_dims->c != depth || filter->entries < 0 ||
        (channels != 0 && !folded)) {
        return MCC_ERROR_ARGUMENT;
    }
    if (depth < SEGMENT) {
        int32_t k;
        for (k = 0; k < filter->entries; ++k) {
            if (filter->offsets[k] >= depth) {
                return MCC_ERROR_ARGUMENT;
            }
        }
    }
    for (b = 0; b < batches; ++b) {
        const int8_t *const row = input + (int64_t)b * depth;
        const int8_t *const last = depth > SEGMENT ? row + depth - SEGMENT : row;
        const uint16_t *counts = filter->counts;
        const uint8_t *offsets = filter->offsets;
        const int8_t *values = filter->values;
        int32_t left = filter->entries; /* entries not yet walked */
        for (u = 0; u < units; ++u) {
            const int8_t *x = row;
            int32_t acc = 0;
            for (s = 1; s <= segments; ++s, x += SEGMENT) {
                const int32_t n = *counts++;
                if (n > left) {
                    return MCC_ERROR_ARGUMENT;
                }
                left -= n;
                if (s == segments) {
                    x = last;
                }
                acc = folded ? seg_dot(x, offsets, values, n, acc)
                             : seg_dot_offsets(x, offsets, values, n, params->input_offset,
                                               params->filter_offset, acc);
                offsets += n;
                values += n;
            }
            if (channels != 0) { /* the dense fast kernels' requantization (folded bias inside) */
                const int32_t *const ch = channels + 4 * u;
                *output++ = mcc_nn_fast_requantize(2 * acc + ch[0], ch[1], ch[2], ch[3], lo, hi);
                continue;
            }
            if (bias != 0) {
                acc += bias[u];
            }
            *output++ = (int8_t)mcc_nn_requantize_output(acc, quant, quant->per_channel ? u : 0,
                                                         params->output_offset, &params->activation);
        }
    }
    return MCC_OK;
}

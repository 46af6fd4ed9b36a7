/* Runs every embedded test vector, prints "mcc out <index> <hex bytes>" per output (and
 * "mcc exit <index> <exit>" when a model with early exits stopped at exit > 0), checks it
 * against the expected bytes when there are some, and ends with "mcc result PASS|FAIL". */
#include "mcc_harness.h"

/* The build defines the model's output size so the harness holds no more RAM than needed. */
#ifndef MCC_OUTPUT_BYTES
#error "define MCC_OUTPUT_BYTES (the model's output size in bytes)"
#endif

/* Long outputs are printed in chunks of this many bytes to keep the line buffer small. */
#define HEX_CHUNK 32u

static int8_t output[MCC_OUTPUT_BYTES];
static char line[2u * HEX_CHUNK + 48u];

/* Written by the markers so that they are distinct, non-empty functions the compiler keeps. */
volatile uint32_t mcc_bench_marker;

__attribute__((noinline)) void mcc_bench_begin(void)
{
    mcc_bench_marker = 1u;
}

__attribute__((noinline)) void mcc_bench_end(void)
{
    mcc_bench_marker = 2u;
}

static char *append_text(char *at, const char *text)
{
    while (*text != '\0') {
        *at++ = *text++;
    }
    return at;
}

static char *append_decimal(char *at, uint32_t value)
{
    char digits[10];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10u);
        value /= 10u;
    } while (value != 0u);
    while (n > 0) {
        *at++ = digits[--n];
    }
    return at;
}

static char *append_hex(char *at, const int8_t *bytes, uint32_t count)
{
    static const char hex[] = "0123456789abcdef";
    for (uint32_t i = 0; i < count; ++i) {
        uint8_t b = (uint8_t)bytes[i];
        *at++ = hex[b >> 4];
        *at++ = hex[b & 0xFu];
    }
    return at;
}

int main(void)
{
    uint32_t mismatches = 0;
    int status = MCC_EXIT_PASS;
    if (mcc_vector_output_bytes != MCC_OUTPUT_BYTES) {
        mcc_platform_write("mcc error test vectors do not match MCC_OUTPUT_BYTES\n");
        return MCC_EXIT_INVOKE_ERROR;
    }
    for (uint32_t v = 0; v < mcc_vector_count; ++v) {
        const int8_t *input = &mcc_vector_inputs[v * mcc_vector_input_bytes];
        int rc;
        char *at;
        mcc_bench_begin();
        rc = mcc_glue_invoke(input, output);
        mcc_bench_end();
#ifdef MCC_EARLY_EXITS
        if (rc > 0) { /* a model with early exits returns the exit it took */
            at = append_decimal(append_text(append_decimal(append_text(line, "mcc exit "), v), " "), (uint32_t)rc);
            append_text(at, "\n")[0] = '\0';
            mcc_platform_write(line);
            rc = 0;
        }
#endif
        if (rc != 0) {
            at = append_decimal(append_text(line, "mcc error invoke returned "), (uint32_t)rc);
            append_text(at, "\n")[0] = '\0';
            mcc_platform_write(line);
            return MCC_EXIT_INVOKE_ERROR;
        }
        at = append_text(append_decimal(append_text(line, "mcc out "), v), " ");
        at[0] = '\0';
        mcc_platform_write(line);
        for (uint32_t start = 0; start < MCC_OUTPUT_BYTES; start += HEX_CHUNK) {
            uint32_t n = MCC_OUTPUT_BYTES - start < HEX_CHUNK ? MCC_OUTPUT_BYTES - start : HEX_CHUNK;
            append_hex(line, &output[start], n)[0] = '\0';
            mcc_platform_write(line);
        }
        mcc_platform_write("\n");
        if (mcc_vector_has_expected) {
            const int8_t *expected = &mcc_vector_expected[v * mcc_vector_output_bytes];
            for (uint32_t i = 0; i < mcc_vector_output_bytes; ++i) {
                if (output[i] != expected[i]) {
                    ++mismatches;
                    break;
                }
            }
        }
    }
    if (mcc_platform_stack_size() != 0u) {
        char *at = append_decimal(append_text(line, "mcc stack "), mcc_platform_stack_used());
        at = append_decimal(append_text(at, " of "), mcc_platform_stack_size());
        append_text(at, "\n")[0] = '\0';
        mcc_platform_write(line);
    }
    if (mismatches != 0u) {
        status = MCC_EXIT_MISMATCH;
    }
    mcc_platform_write(status == MCC_EXIT_PASS ? "mcc result PASS\n" : "mcc result FAIL\n");
    return status;
}

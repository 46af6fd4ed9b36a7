/* Test harness shared by the host and the firmware builds: it runs the embedded test vectors
 * through the model and reports each output as hex, so both builds can be compared byte for
 * byte. Each platform supplies the mcc_platform_* functions. */
#ifndef MCC_HARNESS_H
#define MCC_HARNESS_H

#include <stdint.h>

#define MCC_EXIT_PASS 0
#define MCC_EXIT_MISMATCH 1
#define MCC_EXIT_INVOKE_ERROR 2
#define MCC_EXIT_FAULT 3

#if defined(__arm__)
#define MCC_VECTOR_SECTION __attribute__((section(".mcc_vectors")))
#else
#define MCC_VECTOR_SECTION
#endif

/* Test vectors (mcc_vectors.c, written by mcucompress). */
extern const uint32_t mcc_vector_count;
extern const uint32_t mcc_vector_input_bytes;
extern const uint32_t mcc_vector_output_bytes;
extern const int8_t mcc_vector_inputs[];     /* count * input_bytes */
extern const int8_t mcc_vector_expected[];   /* count * output_bytes, when has_expected */
extern const int mcc_vector_has_expected;

/* The model behind one call (mcc_model_glue.c, written by mcucompress from the model's API). */
int mcc_glue_invoke(const int8_t *input, int8_t *output);

/* Markers around each inference (the instruction counter's fallback when it cannot locate the
 * model's own entry and return address), and the variable they write. */
void mcc_bench_begin(void);
void mcc_bench_end(void);
extern volatile uint32_t mcc_bench_marker;

/* Platform: one line of text out, a final status, and the stack high-water mark (0 if unknown). */
void mcc_platform_write(const char *text);
void mcc_platform_exit(int status);
uint32_t mcc_platform_stack_used(void);
uint32_t mcc_platform_stack_size(void);

#endif

/* mcc_port.h - feature switches for the mcucompress runtime.
 *
 * The one place that looks at the compiler's target macros. Kernels test only the MCC_HAVE_*
 * switches below, inside their own bodies, so a call always names the same function whatever
 * the target. Define MCC_FORCE_REFERENCE=1 to run the portable C paths everywhere (tests compare
 * both paths this way).
 */
#ifndef MCC_PORT_H
#define MCC_PORT_H

#ifndef MCC_FORCE_REFERENCE
#define MCC_FORCE_REFERENCE 0
#endif

/* Define MCC_NO_MVE=1 to keep an MVE core on its DSP paths (benchmarks compare the two). */
#ifndef MCC_NO_MVE
#define MCC_NO_MVE 0
#endif

#if !MCC_FORCE_REFERENCE && !MCC_NO_MVE && defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define MCC_HAVE_MVE 1
#else
#define MCC_HAVE_MVE 0
#endif

#if !MCC_FORCE_REFERENCE && defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define MCC_HAVE_DSP 1
#else
#define MCC_HAVE_DSP 0
#endif

/* ARMv6-M (Cortex-M0/M0+): no DSP instructions, no 32x32->64 multiply (no SMULL/UMULL) and
 * mostly 8 usable registers; its paths use 16-bit partial products and short unrolled loops. */
#if !MCC_FORCE_REFERENCE && (defined(__ARM_ARCH_6M__) || \
                             (defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M' && __ARM_ARCH == 6))
#define MCC_HAVE_V6M 1
#else
#define MCC_HAVE_V6M 0
#endif

/* The hand-scheduled assembly loops name r7, which GCC keeps as the frame pointer in
 * unoptimised builds (-O0); those builds run the C code of the same DSP paths instead. */
#if MCC_HAVE_DSP && defined(__GNUC__) && defined(__OPTIMIZE__)
#define MCC_HAVE_DSP_ASM 1
#else
#define MCC_HAVE_DSP_ASM 0
#endif

/* The same for the MVE assembly blocks, whose operands need more low registers than an
 * unoptimised build leaves free: those builds run the DSP (or portable) path instead. */
#if MCC_HAVE_MVE && defined(__GNUC__) && defined(__OPTIMIZE__)
#define MCC_HAVE_MVE_ASM 1
#else
#define MCC_HAVE_MVE_ASM 0
#endif

/* The same for the ARMv6-M loops, which need seven low registers at once. */
#if MCC_HAVE_V6M && defined(__GNUC__) && defined(__OPTIMIZE__)
#define MCC_HAVE_V6M_ASM 1
#else
#define MCC_HAVE_V6M_ASM 0
#endif

/* The assembly of written-out depthwise layers (mcucompress/codegen/dw_asm.py); MCC_NO_DW_ASM=1
 * builds their C instead on a DSP core (tests run both and compare). */
#if MCC_HAVE_DSP_ASM && !(defined(MCC_NO_DW_ASM) && MCC_NO_DW_ASM)
#define MCC_HAVE_DW_ASM 1
#else
#define MCC_HAVE_DW_ASM 0
#endif

/* 1: LiteRT's single (float32) rounding in conv/fc requantization; 0: TFLM's double rounding. */
#ifndef MCC_SINGLE_ROUNDING
#define MCC_SINGLE_ROUNDING 0
#endif

#if defined(__GNUC__)
#define MCC_INLINE static __inline__ __attribute__((always_inline))
#else
#define MCC_INLINE static
#endif

/* A model's own function (a layer written out per layer) that GCC neither inlines nor clones per
 * call site: bench counts each of its calls as the layer's. */
#if defined(__GNUC__) && !defined(__clang__)
#define MCC_NOINLINE __attribute__((noinline, noclone))
#elif defined(__GNUC__)
#define MCC_NOINLINE __attribute__((noinline))
#else
#define MCC_NOINLINE
#endif

#endif /* MCC_PORT_H */

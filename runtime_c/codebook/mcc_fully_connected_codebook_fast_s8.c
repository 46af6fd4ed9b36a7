/* mcc_fully_connected_codebook_fast_s8 - int8 fully connected on 2- or 4-bit codebook indices
 * laid out at export time (mcucompress/codegen/codebook_fast.py): the same results as
 * mcc_fully_connected_s8 (filter zero point 0, TFLM double rounding), bit for bit.
 *
 * The input row is widened once into scratch as (x0, x2), (x1, x3) per group of 4, the order of
 * the index fields; each field names a pair of doubled weights in a table built in scratch on
 * each call, one SMLAD operand. Rows go in blocks of 8 sharing each input pair, then a block of
 * 4 when 4 or more are left, then one of the rest (block_rows()); channels holds {2 * folded
 * bias, multiplier, round, shift} per row (mcc_fully_connected_fast_s8's constants).
 *
 * With the DSP assembly, 4-bit indices are loaded a field (one byte) at a time, so a pair of
 * products costs a byte load, a table load and an SMLAD for all 8 rows of a block; 2-bit
 * indices look a byte (two fields, 4 products) up in a second table of doubled pair pairs,
 * built from the first, so 4 products cost a byte load, an address, an LDRD and two SMLAD.
 *
 * With MVE (Cortex-M55) the pair table is not used: tables of int8 weights per index byte and
 * byte gathers feed VMLADAVA.S8 (fully_connected_mve below); the same layout, the same bytes. */
#include <string.h>

#include "mcc.h"
#include "mcc_nn.h"

#if MCC_HAVE_MVE_ASM
#include <arm_mve.h>
#endif

#define CB_ROWS 8 /* output rows per pass */

/* The 2-bit table of pair pairs: 256 entries of two words, before the 16-entry pair table. */
#define CB_QUAD_WORDS (2 * 256)

/* Rows of the block starting with `left` rows to go. */
MCC_INLINE int32_t block_rows(int32_t left)
{
    return left >= CB_ROWS ? CB_ROWS : left >= 4 ? 4 : left;
}

int32_t mcc_fully_connected_codebook_fast_s8_get_buffer_size(int32_t k_padded, int32_t index_bits)
{
    const int32_t quad = index_bits == 2 ? 4 * CB_QUAD_WORDS : 0;
    return quad + 4 * (1 << (2 * index_bits)) + 2 * k_padded;
}

/* Sums of n (1-8) rows whose index words interleave (word i of row r at i * n + r), over
 * `words` words of fields of `field_bits` bits; acc holds the biases on entry (the assembly
 * versions below take them from the channel rows, ch). */
static void dot_rows_c(const uint32_t *idx, int32_t words, int32_t n, int32_t field_bits,
                       const uint32_t *table, const uint32_t *col, int32_t acc[CB_ROWS])
{
    const uint32_t mask = (1u << field_bits) - 1u;
    const int32_t fields = 32 / field_bits;
    int32_t i, q, r;
    for (i = 0; i < words; ++i) {
        for (r = 0; r < n; ++r) {
            uint32_t f = idx[r];
            int32_t a = acc[r];
            for (q = 0; q < fields; ++q) {
                a = mcc_nn_smlad(col[q], table[f & mask], a);
                f >>= field_bits;
            }
            acc[r] = a;
        }
        idx += n;
        col += fields;
    }
}

#if MCC_HAVE_DSP_ASM
/* The first 4 sums of a block in r0-r3 from the channel rows' biases, and back into acc. */
#define CB_SUMS4_FROM(CH)                                                                        \
    register int32_t r0 __asm__("r0") = (CH)[0];                                                 \
    register int32_t r1 __asm__("r1") = (CH)[4];                                                 \
    register int32_t r2 __asm__("r2") = (CH)[8];                                                 \
    register int32_t r3 __asm__("r3") = (CH)[12]
#define CB_SUMS4_TO(ACC) ((ACC)[0] = r0, (ACC)[1] = r1, (ACC)[2] = r2, (ACC)[3] = r3)

/* One product pair of a row: the field's byte, its table entry, the SMLAD with input pair X. */
#define CB_ROW(OFF, A, X)                                                                        \
    "ldrb r9, [%[i], #" #OFF "]\n\t"                                                            \
    "ldr r9, [%[t], r9, lsl #2]\n\t"                                                            \
    "smlad %[" #A "], " X ", r9, %[" #A "]\n\t"
/* Rows 1-7 of field Q of the word position at byte B (row r's word at B + 4 r). */
#define CB_ROWS17(B, Q, X)                                                                       \
    CB_ROW(B+4+Q, a1, X) CB_ROW(B+8+Q, a2, X) CB_ROW(B+12+Q, a3, X) CB_ROW(B+16+Q, a4, X)         \
    CB_ROW(B+20+Q, a5, X) CB_ROW(B+24+Q, a6, X) CB_ROW(B+28+Q, a7, X)
#define CB_FIELD(B, Q, X) CB_ROW(B+Q, a0, X) CB_ROWS17(B, Q, X)
/* Fields 0-3 of a word position at byte B whose input pairs are at byte C of the column. */
#define CB_POSITION(B, C)                                                                        \
    "ldrd r8, r10, [%[c], #" #C "]\n\t" CB_FIELD(B, 0, "r8") CB_FIELD(B, 1, "r10")              \
    "ldrd r8, r10, [%[c], #" #C "+8]\n\t" CB_FIELD(B, 2, "r8") CB_FIELD(B, 3, "r10")
/* The first word position's fields 2, 3, then (after the others) fields 1, 0, the last byte
 * load moving the index pointer on by DI bytes, the column load the column pointer by DC. */
#define CB_FIRST_HIGH "ldrd r8, r10, [%[c], #8]\n\t" CB_FIELD(0, 2, "r8") CB_FIELD(0, 3, "r10")
#define CB_FIRST_LOW(DC, DI)                                                                     \
    "ldrd r8, r10, [%[c]], #" #DC "\n\t" CB_FIELD(0, 1, "r10") CB_ROWS17(0, 0, "r8")             \
    "ldrb r9, [%[i]], #" #DI "\n\t"                                                             \
    "ldr r9, [%[t], r9, lsl #2]\n\t"                                                            \
    "smlad %[a0], r8, r9, %[a0]\n\t"

/* 8 rows of 4-bit indices (fields of 8 bits): one word position at a time while the count is
 * not a multiple of 4, then 4 a pass (the end pointer waits on the stack: every other register
 * is in use). */
static void dot_rows8_4bit(const uint32_t *idx, int32_t words, const uint32_t *table, const uint32_t *col,
                           const int32_t *ch, int32_t acc[CB_ROWS])
{
    CB_SUMS4_FROM(ch);
    register int32_t r4 __asm__("r4") = ch[16];
    register int32_t r5 __asm__("r5") = ch[20];
    register int32_t r6 __asm__("r6") = ch[24];
    register int32_t r7 __asm__("r7") = ch[28];
    register const uint32_t *rc __asm__("ip") = col;
    register const uint32_t *ri __asm__("lr") = idx;
    register const uint32_t *rt __asm__("r11") = table;
    const uint32_t *end = idx + CB_ROWS * words;
    int32_t w;
#define CB_OPERANDS                                                                              \
    : [a0] "+r"(r0), [a1] "+r"(r1), [a2] "+r"(r2), [a3] "+r"(r3), [a4] "+r"(r4), [a5] "+r"(r5),  \
      [a6] "+r"(r6), [a7] "+r"(r7), [c] "+r"(rc), [i] "+r"(ri)                                  \
    : [t] "r"(rt), [e] "m"(end)                                                                 \
    : "r8", "r9", "r10", "cc", "memory"
    for (w = 0; w < (words & 3); ++w) {
        __asm__ volatile(CB_FIRST_HIGH CB_FIRST_LOW(16, 32) CB_OPERANDS);
    }
    if (words >= 4) {
        __asm__ volatile("1:\n\t"
                         CB_FIRST_HIGH CB_POSITION(32, 16) CB_POSITION(64, 32) CB_POSITION(96, 48)
                         CB_FIRST_LOW(64, 128)
                         "ldr r9, %[e]\n\t"
                         "cmp %[i], r9\n\t"
                         "bne 1b"
                         CB_OPERANDS);
    }
#undef CB_OPERANDS
    CB_SUMS4_TO(acc);
    acc[4] = r4;
    acc[5] = r5;
    acc[6] = r6;
    acc[7] = r7;
}
#undef CB_FIRST_LOW
#undef CB_FIRST_HIGH
#undef CB_POSITION
#undef CB_FIELD
#undef CB_ROWS17

/* 4 rows of 4-bit indices (a block of 4): one LDM brings a word position's 4 input pairs. */
static void dot_rows4_4bit(const uint32_t *idx, int32_t words, const uint32_t *table, const uint32_t *col,
                           const int32_t *ch, int32_t acc[4])
{
    CB_SUMS4_FROM(ch);
    register const uint32_t *rc __asm__("ip") = col;
    register const uint32_t *ri __asm__("lr") = idx;
    register const uint32_t *rt __asm__("r11") = table;
    register const uint32_t *re __asm__("r10") = idx + 4 * words;
#define CB_FIELD4(Q, X) CB_ROW(Q, a0, X) CB_ROW(4+Q, a1, X) CB_ROW(8+Q, a2, X) CB_ROW(12+Q, a3, X)
    __asm__ volatile("1:\n\t"
                     "ldm %[c]!, {r4, r5, r6, r8}\n\t"
                     CB_FIELD4(0, "r4") CB_FIELD4(1, "r5") CB_FIELD4(2, "r6") CB_FIELD4(3, "r8")
                     "add %[i], %[i], #16\n\t"
                     "cmp %[i], %[e]\n\t"
                     "bne 1b"
                     : [a0] "+r"(r0), [a1] "+r"(r1), [a2] "+r"(r2), [a3] "+r"(r3), [c] "+r"(rc), [i] "+r"(ri)
                     : [t] "r"(rt), [e] "r"(re)
                     : "r4", "r5", "r6", "r8", "r9", "cc", "memory");
#undef CB_FIELD4
#undef CB_ROW
    CB_SUMS4_TO(acc);
}

/* Four products of a row: the byte of two fields, its entry of pair pairs (8 bytes), two SMLAD. */
#define CB_QUAD(OFF, A)                                                                          \
    "ldrb r9, [%[i], #" #OFF "]\n\t"                                                            \
    "add r9, %[t], r9, lsl #3\n\t"                                                              \
    "ldrd r9, r7, [r9]\n\t"                                                                     \
    "smlad %[" #A "], r8, r9, %[" #A "]\n\t"                                                    \
    "smlad %[" #A "], r10, r7, %[" #A "]\n\t"
/* Byte Q of the 4 rows' words (row r's word at 4 r from the index pointer; rows 8 apart). */
#define CB_BYTE(Q)                                                                               \
    "ldrd r8, r10, [%[c]], #8\n\t"                                                              \
    CB_QUAD(Q, a0) CB_QUAD(4+Q, a1) CB_QUAD(8+Q, a2) CB_QUAD(12+Q, a3)

/* 4 rows of a block of `n` (idx at the first one's word) of 2-bit indices (fields of 4 bits,
 * two a byte), looked up in the table of pair pairs: a word position a pass. */
static void dot_rows4_2bit(const uint32_t *idx, int32_t words, int32_t n, const uint32_t *quad,
                           const uint32_t *col, const int32_t *ch, int32_t acc[4])
{
    CB_SUMS4_FROM(ch);
    register const uint32_t *rc __asm__("ip") = col;
    register const uint32_t *ri __asm__("lr") = idx;
    register const uint32_t *rt __asm__("r11") = quad;
    register const uint32_t *re __asm__("r6") = idx + n * words;
    register int32_t rs __asm__("r5") = 4 * n;
    __asm__ volatile("1:\n\t"
                     CB_BYTE(0) CB_BYTE(1) CB_BYTE(2) CB_BYTE(3)
                     "add %[i], %[i], %[s]\n\t"
                     "cmp %[i], %[e]\n\t"
                     "bne 1b"
                     : [a0] "+r"(r0), [a1] "+r"(r1), [a2] "+r"(r2), [a3] "+r"(r3), [c] "+r"(rc), [i] "+r"(ri)
                     : [t] "r"(rt), [e] "r"(re), [s] "r"(rs)
                     : "r7", "r8", "r9", "r10", "cc", "memory");
    CB_SUMS4_TO(acc);
}
#undef CB_BYTE
#undef CB_QUAD
#undef CB_SUMS4_TO
#undef CB_SUMS4_FROM
#endif

#if MCC_HAVE_MVE_ASM
/* MVE: the tables hold int8 weights per index byte (mcc_nn_codebook_byte_tables), so one VLDRB
 * gather turns 16 index bytes into 16 weights and VMLADAVA.S8 sums their products. A chunk is
 * 4 word positions: one VLDRW gather brings a row's 16 index bytes (its words are n words
 * apart), 2 (4-bit) or 4 (2-bit) byte gathers and VMLADAVA per row, 32 or 64 products; the
 * input chunk is loaded once for the block, deinterleaved by VLD2 (halfwords: the low fields
 * of a 4-bit byte are k0 k1 of a group of 4, the high ones k2 k3) or VLD4 (bytes: the 2-bit
 * fields of a byte are k0, k2, k1, k3 from bit 0) into the order of the tables. */
#define CB_MVE_CHUNK_WORDS 4
static const int32_t cb_mve_shifts4[2] = {0, 4};
static const int32_t cb_mve_shifts2[4] = {0, 4, 2, 6};

/* Products of a chunk's input bytes (bytes bytes of the zero-padded row). */
MCC_INLINE int32_t cb_mve_chunk_bytes(int32_t bits)
{
    return bits == 4 ? 32 : 64;
}

/* The hot loops in assembly (GCC 12 hoists the gathers of a chunk and spills Q registers):
 * the input chunk in q0-q1 (4-bit) or q0-q3 (2-bit), a row's index bytes in q4 (q2 for 4-bit)
 * from a VLDRW gather at the row's offset from `at` (row 0's load moves `at` on by a chunk),
 * each table's weights in q5 (q3), one VMLADAVA per table. */
#define CB_MVE_ROW4(LOAD, A)                                                                     \
    LOAD                                                                                         \
    "vldrb.u8 q3, [%[t0], q2]\n\t"                                                               \
    "vmladava.s8 %[" #A "], q0, q3\n\t"                                                          \
    "vldrb.u8 q3, [%[t1], q2]\n\t"                                                               \
    "vmladava.s8 %[" #A "], q1, q3\n\t"
#define CB_MVE_AT4(OFF) "vldrw.u32 q2, [%q[at], #" #OFF "]\n\t"
#define CB_MVE_AT4_WB(STEP) "vldrw.u32 q2, [%q[at], #" #STEP "]!\n\t"
#define CB_MVE_X4 "vld20.16 {q0, q1}, [%[x]]\n\tvld21.16 {q0, q1}, [%[x]]!\n\t"
/* VMLADAVA sums into even registers */
#define CB_MVE_SUMS4                                                                             \
    register int32_t a0 __asm__("r0") = a[0];                                                    \
    register int32_t a1 __asm__("r2") = a[1];                                                    \
    register int32_t a2 __asm__("r4") = a[2];                                                    \
    register int32_t a3 __asm__("r6") = a[3]
#define CB_MVE_Q_CLOBBERS "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11"

/* 4-bit indices, 8 rows: `chunks` whole chunks (at least one), `at` one chunk back. */
MCC_INLINE void chunks_rows8_4bit(uint32x4_t *at, const int8_t **x, int32_t chunks, const int8_t *tables,
                                  int32_t a[CB_ROWS])
{
    CB_MVE_SUMS4;
    register int32_t a4 __asm__("r8") = a[4];
    register int32_t a5 __asm__("r10") = a[5];
    register int32_t a6 __asm__("ip") = a[6];
    register int32_t a7 __asm__("lr") = a[7];
    uint32x4_t va = *at;
    const int8_t *xp = *x;
    __asm__ volatile("1:\n\t" CB_MVE_X4
                     CB_MVE_ROW4(CB_MVE_AT4_WB(128), a0) CB_MVE_ROW4(CB_MVE_AT4(4), a1)
                     CB_MVE_ROW4(CB_MVE_AT4(8), a2) CB_MVE_ROW4(CB_MVE_AT4(12), a3)
                     CB_MVE_ROW4(CB_MVE_AT4(16), a4) CB_MVE_ROW4(CB_MVE_AT4(20), a5)
                     CB_MVE_ROW4(CB_MVE_AT4(24), a6) CB_MVE_ROW4(CB_MVE_AT4(28), a7)
                     "subs %[n], %[n], #1\n\t"
                     "bne 1b"
                     : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [a4] "+r"(a4), [a5] "+r"(a5),
                       [a6] "+r"(a6), [a7] "+r"(a7), [x] "+r"(xp), [n] "+r"(chunks), [at] "+w"(va)
                     : [t0] "r"(tables), [t1] "r"(tables + 256)
                     : CB_MVE_Q_CLOBBERS, "cc", "memory");
    a[0] = a0, a[1] = a1, a[2] = a2, a[3] = a3, a[4] = a4, a[5] = a5, a[6] = a6, a[7] = a7;
    *at = va;
    *x = xp;
}

/* 4-bit indices, a block of 4 rows. */
MCC_INLINE void chunks_rows4_4bit(uint32x4_t *at, const int8_t **x, int32_t chunks, const int8_t *tables,
                                  int32_t a[CB_ROWS])
{
    CB_MVE_SUMS4;
    uint32x4_t va = *at;
    const int8_t *xp = *x;
    __asm__ volatile("1:\n\t" CB_MVE_X4
                     CB_MVE_ROW4(CB_MVE_AT4_WB(64), a0) CB_MVE_ROW4(CB_MVE_AT4(4), a1)
                     CB_MVE_ROW4(CB_MVE_AT4(8), a2) CB_MVE_ROW4(CB_MVE_AT4(12), a3)
                     "subs %[n], %[n], #1\n\t"
                     "bne 1b"
                     : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [x] "+r"(xp), [n] "+r"(chunks),
                       [at] "+w"(va)
                     : [t0] "r"(tables), [t1] "r"(tables + 256)
                     : CB_MVE_Q_CLOBBERS, "cc", "memory");
    a[0] = a0, a[1] = a1, a[2] = a2, a[3] = a3;
    *at = va;
    *x = xp;
}

#define CB_MVE_ROW2(LOAD, A)                                                                     \
    LOAD                                                                                         \
    "vldrb.u8 q5, [%[t0], q4]\n\t"                                                               \
    "vmladava.s8 %[" #A "], q0, q5\n\t"                                                          \
    "vldrb.u8 q5, [%[t1], q4]\n\t"                                                               \
    "vmladava.s8 %[" #A "], q1, q5\n\t"                                                          \
    "vldrb.u8 q5, [%[t2], q4]\n\t"                                                               \
    "vmladava.s8 %[" #A "], q2, q5\n\t"                                                          \
    "vldrb.u8 q5, [%[t3], q4]\n\t"                                                               \
    "vmladava.s8 %[" #A "], q3, q5\n\t"
#define CB_MVE_AT2(OFF) "vldrw.u32 q4, [%q[at], #" #OFF "]\n\t"
#define CB_MVE_AT2_WB(STEP) "vldrw.u32 q4, [%q[at], #" #STEP "]!\n\t"
#define CB_MVE_X2                                                                                \
    "vld40.8 {q0, q1, q2, q3}, [%[x]]\n\tvld41.8 {q0, q1, q2, q3}, [%[x]]\n\t"                    \
    "vld42.8 {q0, q1, q2, q3}, [%[x]]\n\tvld43.8 {q0, q1, q2, q3}, [%[x]]!\n\t"

/* 2-bit indices, 4 rows of a block whose word positions are STEP / 4 bytes apart (the four
 * tables take the registers 4 more sums would need). */
#define CB_MVE_CHUNKS4_2BIT(STEP)                                                                \
    __asm__ volatile("1:\n\t" CB_MVE_X2                                                          \
                     CB_MVE_ROW2(CB_MVE_AT2_WB(STEP), a0) CB_MVE_ROW2(CB_MVE_AT2(4), a1)          \
                     CB_MVE_ROW2(CB_MVE_AT2(8), a2) CB_MVE_ROW2(CB_MVE_AT2(12), a3)               \
                     "subs %[n], %[n], #1\n\t"                                                   \
                     "bne 1b"                                                                    \
                     : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [x] "+r"(xp),  \
                       [n] "+r"(chunks), [at] "+w"(va)                                           \
                     : [t0] "r"(tables), [t1] "r"(tables + 256), [t2] "r"(tables + 512),         \
                       [t3] "r"(tables + 768)                                                    \
                     : CB_MVE_Q_CLOBBERS, "cc", "memory")

/* 2-bit indices, the 4 rows from row 0 of `at` of a block of `n` (8 or 4) rows. */
MCC_INLINE void chunks_rows4_2bit(uint32x4_t *at, const int8_t **x, int32_t chunks, int32_t n,
                                  const int8_t *tables, int32_t a[4])
{
    CB_MVE_SUMS4;
    uint32x4_t va = *at;
    const int8_t *xp = *x;
    if (n == CB_ROWS) {
        CB_MVE_CHUNKS4_2BIT(128);
    } else {
        CB_MVE_CHUNKS4_2BIT(64);
    }
    a[0] = a0, a[1] = a1, a[2] = a2, a[3] = a3;
    *at = va;
    *x = xp;
}
#undef CB_MVE_CHUNKS4_2BIT
#undef CB_MVE_X2
#undef CB_MVE_AT2_WB
#undef CB_MVE_AT2
#undef CB_MVE_ROW2
#undef CB_MVE_Q_CLOBBERS
#undef CB_MVE_SUMS4
#undef CB_MVE_X4
#undef CB_MVE_AT4_WB
#undef CB_MVE_AT4
#undef CB_MVE_ROW4

/* One row's index bytes of the chunk (GATHER), looked up and summed into A. */
#define CB_MVE_ROW4(A, GATHER)                                                                   \
    do {                                                                                         \
        const uint8x16_t iv_ = vreinterpretq_u8_u32(GATHER);                                     \
        (A) = vmladavaq_s8((A), x0, vldrbq_gather_offset_s8(tables, iv_));                       \
        (A) = vmladavaq_s8((A), x1, vldrbq_gather_offset_s8(tables + 256, iv_));                 \
    } while (0)
#define CB_MVE_ROW2(A, GATHER)                                                                   \
    do {                                                                                         \
        const uint8x16_t iv_ = vreinterpretq_u8_u32(GATHER);                                     \
        (A) = vmladavaq_s8((A), x0, vldrbq_gather_offset_s8(tables, iv_));                       \
        (A) = vmladavaq_s8((A), x1, vldrbq_gather_offset_s8(tables + 256, iv_));                 \
        (A) = vmladavaq_s8((A), x2, vldrbq_gather_offset_s8(tables + 512, iv_));                 \
        (A) = vmladavaq_s8((A), x3, vldrbq_gather_offset_s8(tables + 768, iv_));                 \
    } while (0)
/* Rows 0 to n - 1 of a block (at most CB_ROWS), row r's words 4 r bytes after row 0's. */
#define CB_MVE_ROWS(ROW, LOAD)                                                                   \
    do {                                                                                         \
        ROW(a[0], LOAD(0));                                                                      \
        if (n > 1) ROW(a[1], LOAD(4));                                                           \
        if (n > 2) ROW(a[2], LOAD(8));                                                           \
        if (n > 3) ROW(a[3], LOAD(12));                                                          \
        if (n > 4) ROW(a[4], LOAD(16));                                                          \
        if (n > 5) ROW(a[5], LOAD(20));                                                          \
        if (n > 6) ROW(a[6], LOAD(24));                                                          \
        if (n > 7) ROW(a[7], LOAD(28));                                                          \
    } while (0)
#define CB_MVE_LOAD(OFF) vldrwq_gather_base_u32(at, OFF)
#define CB_MVE_LOAD_LAST(OFF) vldrwq_gather_base_z_u32(at, OFF, last)

/* Sums (from 0) of a block of n rows over `words` word positions of `bits`-bit indices with the
 * zero-padded input row x: whole chunks in assembly for blocks of 8 and 4, the other blocks'
 * and the last chunk (its index gathers predicated to the words left) with intrinsics. */
static void dot_rows_mve(const uint32_t *idx, int32_t words, int32_t n, int32_t bits, const int8_t *tables,
                         const int8_t *x, int32_t a[CB_ROWS])
{
    /* the addresses of row 0's 4 words of a chunk */
    uint32x4_t at = vaddq_n_u32(vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)(4 * n)), (uint32_t)(uintptr_t)idx);
    const uint32_t step = (uint32_t)(16 * n);
    int32_t c = 0;
    const int32_t full = words / CB_MVE_CHUNK_WORDS;
    const mve_pred16_t last = vctp32q((uint32_t)(words % CB_MVE_CHUNK_WORDS));
    a[0] = a[1] = a[2] = a[3] = a[4] = a[5] = a[6] = a[7] = 0;
    if (full > 0 && (n == CB_ROWS || n == 4)) {
        at = vsubq_n_u32(at, step);
        if (bits == 4 && n == CB_ROWS) {
            chunks_rows8_4bit(&at, &x, full, tables, a);
        } else if (bits == 4) {
            chunks_rows4_4bit(&at, &x, full, tables, a);
        } else {
            const int8_t *x_start = x;
            if (n == CB_ROWS) {
                uint32x4_t at_high = vaddq_n_u32(at, 16);
                chunks_rows4_2bit(&at_high, &x, full, n, tables, a + 4);
                x = x_start;
            }
            chunks_rows4_2bit(&at, &x, full, n, tables, a);
        }
        at = vaddq_n_u32(at, step);
        c = full;
    }
    if (bits == 4) {
        for (; c < full; ++c) {
            const int16x8x2_t xv = vld2q_s16((const int16_t *)(const void *)x);
            const int8x16_t x0 = vreinterpretq_s8_s16(xv.val[0]);
            const int8x16_t x1 = vreinterpretq_s8_s16(xv.val[1]);
            CB_MVE_ROWS(CB_MVE_ROW4, CB_MVE_LOAD);
            at = vaddq_n_u32(at, step);
            x += 32;
        }
        if (words % CB_MVE_CHUNK_WORDS) {
            const int16x8x2_t xv = vld2q_s16((const int16_t *)(const void *)x);
            const int8x16_t x0 = vreinterpretq_s8_s16(xv.val[0]);
            const int8x16_t x1 = vreinterpretq_s8_s16(xv.val[1]);
            CB_MVE_ROWS(CB_MVE_ROW4, CB_MVE_LOAD_LAST);
        }
    } else {
        for (; c < full; ++c) {
            const int8x16x4_t xv = vld4q_s8(x);
            const int8x16_t x0 = xv.val[0], x1 = xv.val[1], x2 = xv.val[2], x3 = xv.val[3];
            CB_MVE_ROWS(CB_MVE_ROW2, CB_MVE_LOAD);
            at = vaddq_n_u32(at, step);
            x += 64;
        }
        if (words % CB_MVE_CHUNK_WORDS) {
            const int8x16x4_t xv = vld4q_s8(x);
            const int8x16_t x0 = xv.val[0], x1 = xv.val[1], x2 = xv.val[2], x3 = xv.val[3];
            CB_MVE_ROWS(CB_MVE_ROW2, CB_MVE_LOAD_LAST);
        }
    }
}
#undef CB_MVE_LOAD_LAST
#undef CB_MVE_LOAD
#undef CB_MVE_ROWS
#undef CB_MVE_ROW2
#undef CB_MVE_ROW4

/* The input row into scratch (aligned for VLD2), zeros up to a whole chunk past k. */
MCC_INLINE void copy_row_mve(const int8_t *x, int32_t k, int32_t bytes, int8_t *dst)
{
    int32_t i;
    for (i = 0; i < bytes; i += 16) {
        const mve_pred16_t p = vctp8q((uint32_t)(k > i ? k - i : 0));
        vstrbq_s8(dst + i, vldrbq_z_s8(x + i, p));
    }
}

/* The whole layer on MVE: the byte tables once, then per input row the copied row and the
 * blocks of rows (blocks of 8 and 4 with their row count known to the compiler). */
static void fully_connected_mve(const mcc_fc_fast_params *params, const mcc_codebook_fast_s8 *filter,
                                int32_t rows, const int8_t *input, int8_t *output, void *scratch)
{
    const int32_t bits = filter->index_bits;
    const int32_t k = params->in_features;
    const int32_t units = params->out_features;
    const int32_t words = params->k_padded / (32 / bits);
    const int32_t chunk = cb_mve_chunk_bytes(bits);
    const int32_t x_bytes = (words + CB_MVE_CHUNK_WORDS - 1) / CB_MVE_CHUNK_WORDS * chunk;
    const int32_t lo = params->activation.min;
    const int32_t hi = params->activation.max;
    const int32_t n_tables = bits == 4 ? 2 : 4;
    const int8_t *tables = (const int8_t *)scratch;
    int8_t *x = (int8_t *)scratch + 256 * n_tables;
    int32_t row;
    mcc_nn_codebook_byte_tables(filter->codebook, bits, bits == 4 ? cb_mve_shifts4 : cb_mve_shifts2, n_tables,
                                (uint32_t *)scratch);
    for (row = 0; row < rows; ++row) {
        const uint32_t *idx = filter->indices;
        const int32_t *ch = params->channels;
        int32_t u;
        copy_row_mve(input + row * k, k, x_bytes, x);
        for (u = 0; u < units; u += block_rows(units - u)) {
            const int32_t n = block_rows(units - u);
            int32_t acc[CB_ROWS];
            int32_t r;
            if (n == CB_ROWS) {
                dot_rows_mve(idx, words, CB_ROWS, bits, tables, x, acc);
            } else if (n == 4) {
                dot_rows_mve(idx, words, 4, bits, tables, x, acc);
            } else {
                dot_rows_mve(idx, words, n, bits, tables, x, acc);
            }
            for (r = 0; r < n; ++r) {
                output[u + r] = mcc_nn_fast_requantize(ch[4 * r] + (int32_t)((uint32_t)acc[r] << 1), ch[4 * r + 1],
                                                       ch[4 * r + 2], ch[4 * r + 3], lo, hi);
            }
            idx += n * words;
            ch += 4 * n;
        }
        output += units;
    }
}
#endif

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
    uint32_t *quad = (uint32_t *)scratch;
    uint32_t *table = quad + (bits == 2 ? CB_QUAD_WORDS : 0);
    uint32_t *col = table + (1 << field_bits);
    int32_t row;

    if ((bits != 2 && bits != 4) || k_padded % (64 / field_bits) != 0 || k_padded < k || k <= 0 ||
        units <= 0 || rows < 0) {
        return MCC_ERROR_ARGUMENT;
    }
#if MCC_HAVE_MVE_ASM
    fully_connected_mve(params, filter, rows, input, output, scratch);
    return MCC_OK;
#endif
    mcc_nn_codebook_pair_table(filter->codebook, bits, table);
#if MCC_HAVE_DSP_ASM
    if (bits == 2) {
        mcc_nn_codebook_quad_table(table, quad);
    }
#endif
    for (row = 0; row < rows; ++row) {
        const int8_t *x = input + row * k;
        const uint32_t *idx = filter->indices;
        const int32_t *ch = params->channels;
        int32_t i, u;
        uint32_t *c = col;
        i = 0;
#if MCC_HAVE_DSP_ASM
        if (k >= 8) { /* 8 values a pass: two loads, four SXTB16, one store multiple */
            const int8_t *xe = x + (k & ~7);
            const int8_t *xp = x;
            __asm__ volatile("1:\n\t"
                             "ldr r4, [%[x]], #4\n\t"
                             "ldr r6, [%[x]], #4\n\t"
                             "sxtb16 r5, r4, ror #8\n\t"
                             "sxtb16 r4, r4\n\t"
                             "sxtb16 r7, r6, ror #8\n\t"
                             "sxtb16 r6, r6\n\t"
                             "stm %[c]!, {r4, r5, r6, r7}\n\t"
                             "cmp %[x], %[e]\n\t"
                             "bne 1b"
                             : [x] "+r"(xp), [c] "+r"(c)
                             : [e] "r"(xe)
                             : "r4", "r5", "r6", "r7", "cc", "memory");
            i = k & ~7;
        }
#endif
        for (; i + 4 <= k; i += 4) { /* widened input, zeros past k */
            uint32_t v;
            memcpy(&v, x + i, 4);
            mcc_nn_widen4(v, c, c + 1);
            c += 2;
        }
        for (; i < k_padded; i += 4) {
            uint32_t v = 0;
            int32_t j;
            for (j = 0; i + j < k; ++j) {
                v |= (uint32_t)(uint8_t)x[i + j] << (8 * j);
            }
            mcc_nn_widen4(v, c, c + 1);
            c += 2;
        }
        for (u = 0; u < units; u += block_rows(units - u)) {
            const int32_t n = block_rows(units - u);
            int32_t acc[CB_ROWS];
            int32_t r;
#if MCC_HAVE_DSP_ASM
            if (n == CB_ROWS && bits == 4) {
                dot_rows8_4bit(idx, words, table, col, ch, acc);
            } else if (n == 4 && bits == 4) {
                dot_rows4_4bit(idx, words, table, col, ch, acc);
            } else if (n >= 4) {
                dot_rows4_2bit(idx, words, n, quad, col, ch, acc);
                if (n == CB_ROWS) {
                    dot_rows4_2bit(idx + 4, words, n, quad, col, ch + 16, acc + 4);
                }
            } else
#endif
            {
                for (r = 0; r < n; ++r) {
                    acc[r] = ch[4 * r];
                }
                dot_rows_c(idx, words, n, field_bits, table, col, acc);
            }
            for (r = 0; r + 1 < n; r += 2) {
                output[u + r] = mcc_nn_fast_requantize(acc[r], ch[4 * r + 1], ch[4 * r + 2], ch[4 * r + 3], lo, hi);
                output[u + r + 1] = mcc_nn_fast_requantize(acc[r + 1], ch[4 * r + 5], ch[4 * r + 6], ch[4 * r + 7],
                                                           lo, hi);
            }
            if (r < n) {
                output[u + r] = mcc_nn_fast_requantize(acc[r], ch[4 * r + 1], ch[4 * r + 2], ch[4 * r + 3], lo, hi);
            }
            idx += n * words;
            ch += 4 * n;
        }
        output += units;
    }
    return MCC_OK;
}

/* mcucompress instruction counter: a QEMU TCG plugin that counts the guest instructions executed
 * between reaching address `begin` and reaching address `end`, once per pass, and writes one
 * line per pass ("pass <count> <pair>") to the file `out`.
 *
 * Usage: -plugin libmcc_icount.so,begin=0x...,end=0x...[,begin=0x...,end=0x...],out=/path
 *
 * Several begin/end pairs (the i-th begin with the i-th end) are counted in one run, each on its
 * own, so that every kernel call of a firmware is measured by a single QEMU start; `<pair>` is
 * the pair's index, lines are in the order the passes ended.
 *
 * Every instruction gets an inline 64-bit add (no helper call), so counts are exact even when a
 * translation block is left early; the marker instructions also get a callback that reads
 * the running total. Both markers see the counter in the same state relative to their own
 * instruction, so the difference is exactly the instructions from `begin` up to `end`. One
 * instruction may be the end of one pair and the begin of the next: each pair keeps its own state. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_api.h"

MCC_PLUGIN_EXPORT int qemu_plugin_version = 1;

#define MAX_PASSES 4096
#define MAX_PAIRS 1024

struct pair {
    uint64_t begin, end;         /* addresses */
    uint64_t start;              /* the counter when begin was reached */
    int in_pass;
};

static uint64_t executed;        /* all guest instructions so far (single vCPU machines) */
static struct pair pairs[MAX_PAIRS];
static size_t n_pairs, n_ends;
static uint64_t passes[MAX_PASSES];
static size_t pass_pair[MAX_PASSES];
static size_t n_passes;
static char out_path[4096];

static void on_begin(unsigned int vcpu, void *udata)
{
    struct pair *p = &pairs[(uintptr_t)udata];
    (void)vcpu;
    p->start = executed;
    p->in_pass = 1;
}

static void on_end(unsigned int vcpu, void *udata)
{
    struct pair *p = &pairs[(uintptr_t)udata];
    (void)vcpu;
    if (p->in_pass && n_passes < MAX_PASSES) {
        passes[n_passes] = executed - p->start;
        pass_pair[n_passes++] = (uintptr_t)udata;
    }
    p->in_pass = 0;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    (void)id;
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t pc = qemu_plugin_insn_vaddr(insn);
        for (size_t k = 0; k < n_pairs; k++) {
            if (pc == pairs[k].begin) {
                qemu_plugin_register_vcpu_insn_exec_cb(insn, on_begin, QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)k);
            }
            if (pc == pairs[k].end) {
                qemu_plugin_register_vcpu_insn_exec_cb(insn, on_end, QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)k);
            }
        }
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &executed, 1);
    }
}

static void write_counts(qemu_plugin_id_t id, void *udata)
{
    FILE *f = fopen(out_path, "w");
    (void)id; (void)udata;
    if (f == NULL) {
        return;
    }
    fprintf(f, "total %" PRIu64 "\n", executed);
    for (size_t i = 0; i < n_passes; i++) {
        fprintf(f, "pass %" PRIu64 " %zu\n", passes[i], pass_pair[i]);
    }
    fclose(f);
}

MCC_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                          int argc, char **argv)
{
    (void)info;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "begin=", 6) == 0 && n_pairs < MAX_PAIRS) {
            pairs[n_pairs++].begin = strtoull(arg + 6, NULL, 0);
        } else if (strncmp(arg, "end=", 4) == 0 && n_ends < n_pairs) {
            pairs[n_ends++].end = strtoull(arg + 4, NULL, 0);
        } else if (strncmp(arg, "out=", 4) == 0) {
            strncpy(out_path, arg + 4, sizeof out_path - 1);
        } else {
            fprintf(stderr, "mcc_icount: unknown, unpaired or too many arguments: '%s'\n", arg);
            return -1;
        }
    }
    if (n_pairs == 0 || n_ends != n_pairs || out_path[0] == '\0') {
        fprintf(stderr, "mcc_icount: needs begin=, end= (as many of each, each end after its begin) and out=\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, write_counts, NULL);
    return 0;
}

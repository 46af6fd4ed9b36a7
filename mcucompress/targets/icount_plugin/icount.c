/* mcucompress instruction counter: a QEMU TCG plugin that counts the guest instructions executed
 * between reaching address `begin` and reaching address `end`, once per pass, and writes one
 * line per pass ("<count>") to the file `out`.
 *
 * Usage: -plugin libmcc_icount.so,begin=0x...,end=0x...,out=/path
 *
 * Every instruction gets an inline 64-bit add (no helper call), so counts are exact even when a
 * translation block is left early; the two marker instructions also get a callback that reads
 * the running total. Both markers see the counter in the same state relative to their own
 * instruction, so the difference is exactly the instructions from `begin` up to `end`. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_api.h"

MCC_PLUGIN_EXPORT int qemu_plugin_version = 1;

#define MAX_PASSES 4096

static uint64_t executed;        /* all guest instructions so far (single vCPU machines) */
static uint64_t begin_addr, end_addr;
static uint64_t pass_start;
static int in_pass;
static uint64_t passes[MAX_PASSES];
static size_t n_passes;
static char out_path[4096];

static void on_begin(unsigned int vcpu, void *udata)
{
    (void)vcpu; (void)udata;
    pass_start = executed;
    in_pass = 1;
}

static void on_end(unsigned int vcpu, void *udata)
{
    (void)vcpu; (void)udata;
    if (in_pass && n_passes < MAX_PASSES) {
        passes[n_passes++] = executed - pass_start;
    }
    in_pass = 0;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    (void)id;
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t pc = qemu_plugin_insn_vaddr(insn);
        if (pc == begin_addr) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_begin, QEMU_PLUGIN_CB_NO_REGS, NULL);
        }
        if (pc == end_addr) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_end, QEMU_PLUGIN_CB_NO_REGS, NULL);
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
        fprintf(f, "pass %" PRIu64 "\n", passes[i]);
    }
    fclose(f);
}

MCC_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                          int argc, char **argv)
{
    int have_begin = 0, have_end = 0;
    (void)info;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "begin=", 6) == 0) {
            begin_addr = strtoull(arg + 6, NULL, 0);
            have_begin = 1;
        } else if (strncmp(arg, "end=", 4) == 0) {
            end_addr = strtoull(arg + 4, NULL, 0);
            have_end = 1;
        } else if (strncmp(arg, "out=", 4) == 0) {
            strncpy(out_path, arg + 4, sizeof out_path - 1);
        } else {
            fprintf(stderr, "mcc_icount: unknown argument '%s'\n", arg);
            return -1;
        }
    }
    if (!have_begin || !have_end || out_path[0] == '\0') {
        fprintf(stderr, "mcc_icount: needs begin=, end= and out=\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, write_counts, NULL);
    return 0;
}

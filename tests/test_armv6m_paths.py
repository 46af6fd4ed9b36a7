"""The ARMv6-M (Cortex-M0/M0+) paths: requantization from 16-bit partial products equals the
64-bit arithmetic on edge and random values (host build with the v6-M switch on, C loops), and the
kernels with their hand-scheduled loops give the portable path's bytes on the emulated M0."""

import shutil
import subprocess

import numpy as np
import pytest

from mcucompress.resources import runtime_dir

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")

PROGRAM = r"""
#include <stdio.h>
#include <stdint.h>
#include "mcc_nn.h"

static const int32_t EDGES[] = {0, 1, -1, 2, -2, 0x7FFF, 0x8000, -0x8000, -0x8001, 0xFFFF, 0x10000,
    -0x10000, 0x40000000, 0x3FFFFFFF, 0x7FFFFFFF, -0x7FFFFFFF, (-0x7FFFFFFF - 1), 1234567, -7654321};

static uint32_t state = 12345u;
static int32_t next(void) { state = state * 1103515245u + 12345u; return (int32_t)(state ^ (state << 13)); }

int main(void)
{
    const int n = (int)(sizeof EDGES / sizeof EDGES[0]);
    int i, j;
    printf("v6m %d\n", MCC_HAVE_V6M);
    for (i = 0; i < n + 3000; ++i) {
        const int32_t a = i < n ? EDGES[i] : next();
        for (j = 0; j < n + 8; ++j) {
            const int32_t b = j < n ? EDGES[j] : next();
            const int32_t shift = (int32_t)((uint32_t)(i + j) % 40u) - 31;
            printf("%ld %ld %ld\n", (long)mcc_nn_doubling_high_mul(a, b),
                   (long)mcc_nn_smmlar(a, b, (int32_t)(i * 7 - j)),
                   (long)mcc_nn_requantize(a, b > 0 ? b : 0x40000000, shift > 8 ? 8 : shift));
        }
    }
    return 0;
}
"""


def _run(tmp_path, name, defines):
    source = tmp_path / "main.c"
    source.write_text(PROGRAM)
    exe = tmp_path / name
    subprocess.run(["gcc", "-std=c99", "-O0", "-Wall", "-Wextra", "-Werror", *defines,
                    f"-I{runtime_dir() / 'include'}", str(source), "-o", str(exe)], check=True)
    return subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout


@needs_gcc
def test_partial_product_requantization_equals_64_bit(tmp_path):
    portable = _run(tmp_path, "portable", [])
    v6m = _run(tmp_path, "v6m", ["-D__ARM_ARCH_6M__=1"])
    assert portable.startswith("v6m 0\n") and v6m.startswith("v6m 1\n")
    assert len(portable.splitlines()) > 60_000
    assert v6m.splitlines()[1:] == portable.splitlines()[1:]

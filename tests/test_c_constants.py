"""Python's copies of C facts agree with the C: a probe compiled with the runtime prints every
MCC_* limit Python repeats and the *_get_buffer_size() the arena planner reserves scratch by."""

import shutil
import subprocess

import pytest

from mcucompress.binary.kernel_params import VERTICAL_MAX_BITS
from mcucompress.codegen import codebook_fast, specialize
from mcucompress.codegen.lower_binary import LANE_PLANES
from mcucompress.encode import cost_model
from mcucompress.encode.huffman import C_MAX_LEN, LUT_BITS, LUT_CHUNK
from mcucompress.quantize.params import SOFTMAX_ACCUMULATION_INTEGER_BITS, SOFTMAX_SCALED_DIFF_INTEGER_BITS
from mcucompress.resources import runtime_dir

CC = shutil.which("cc") or shutil.which("gcc")
pytestmark = pytest.mark.skipif(CC is None, reason="needs a host C compiler")

# Files whose private #defines the probe reads: it includes them instead of linking them.
INCLUDED = ("conv/mcc_depthwise_conv2d_fast_s8.c", "binary/mcc_fully_connected_vertical_b1.c",
            "softmax/mcc_softmax_s8.c", "fully_connected/mcc_fully_connected_fast_s8.c",
            "huffman/mcc_fully_connected_huffman_lut_s8.c")
LINKED = ("conv/mcc_conv2d_fast_s8.c", "elementwise/mcc_add_fast_s8.c",
          "codebook/mcc_conv2d_codebook_fast_s8.c", "codebook/mcc_fully_connected_codebook_fast_s8.c")
SIZES = [(k, c) for k in (8, 16, 72, 200) for c in (1, 3, 8, 16)]

PROBE = """
#include <stdio.h>
#include "mcc.h"
%(includes)s
int main(void)
{
    printf("MCC_B1_LANE_PLANES %%d\\n", MCC_B1_LANE_PLANES);
    printf("MCC_B1_VERTICAL_MAX_BITS %%d\\n", MCC_B1_VERTICAL_MAX_BITS);
    printf("MCC_HUFFMAN_MAX_BITS %%d\\n", MCC_HUFFMAN_MAX_BITS);
    printf("MCC_HUFFMAN_LUT_MAX_BITS %%d\\n", MCC_HUFFMAN_LUT_MAX_BITS);
    printf("MCC_NN_LUT_CHUNK %%d\\n", MCC_NN_LUT_CHUNK);
    printf("MCC_NN_LUT_MAX_TAKEN %%d\\n", MCC_NN_LUT_MAX_TAKEN);
    printf("MCC_NN_LUT_SAFE_SHIFT %%d\\n", MCC_NN_LUT_SAFE_SHIFT);
    printf("MCC_SOFTMAX_DIFF_INT_BITS %%d\\n", MCC_SOFTMAX_DIFF_INT_BITS);
    printf("MCC_SOFTMAX_ACCUM_INT_BITS %%d\\n", MCC_SOFTMAX_ACCUM_INT_BITS);
    printf("FC_BLOCK %%d\\n", FC_BLOCK);
    printf("mcc_add_fast_s8_get_buffer_size %%d\\n", (int)mcc_add_fast_s8_get_buffer_size());
%(sizes)s
    return 0;
}
"""


def _probe(tmp_path) -> dict[str, int]:
    runtime = runtime_dir()
    sizes = "\n".join(
        f'    printf("conv {k} {c} %d\\n", (int)mcc_conv2d_fast_s8_get_buffer_size({k}, {c}));\n'
        f'    printf("dw {c * k} {k} %d\\n", (int)mcc_depthwise_conv2d_fast_s8_get_buffer_size({c * k}, {k}, 0));\n'
        f'    printf("dw strip {c} {k} %d\\n", (int)mcc_depthwise_conv2d_fast_s8_get_buffer_size({c}, 9, {k}));\n'
        f'    printf("fc {k} %d\\n", (int)mcc_fully_connected_fast_s8_get_buffer_size({k}));'
        for k, c in SIZES) + "\n" + "\n".join(
        f'    printf("cb conv {k} {bits} %d\\n", (int)mcc_conv2d_codebook_fast_s8_get_buffer_size({k}, {bits}));\n'
        f'    printf("cb fc {k} {bits} %d\\n", (int)mcc_fully_connected_codebook_fast_s8_get_buffer_size({k}, {bits}));'
        for k, _ in SIZES for bits in codebook_fast.FAST_BITS)
    includes = "\n".join(f'#include "{runtime / path}"' for path in INCLUDED)
    (tmp_path / "probe.c").write_text(PROBE % {"includes": includes, "sizes": sizes})
    linked = [str(runtime / path) for path in LINKED]
    exe = tmp_path / "probe"
    subprocess.run([CC, "-std=c99", "-O1", "-I", str(runtime / "include"), str(tmp_path / "probe.c"), *linked,
                    "-o", str(exe), "-lm"], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    return {line.rsplit(" ", 1)[0]: int(line.rsplit(" ", 1)[1]) for line in out.splitlines()}


def test_python_limits_and_scratch_sizes_match_the_c(tmp_path):
    c = _probe(tmp_path)
    assert c["MCC_B1_LANE_PLANES"] == LANE_PLANES
    assert c["MCC_B1_VERTICAL_MAX_BITS"] == VERTICAL_MAX_BITS
    assert c["MCC_HUFFMAN_MAX_BITS"] == C_MAX_LEN
    assert c["MCC_HUFFMAN_LUT_MAX_BITS"] == LUT_BITS
    assert c["MCC_NN_LUT_CHUNK"] == LUT_CHUNK == cost_model.LUT_CHUNK
    assert c["MCC_NN_LUT_MAX_TAKEN"] == cost_model.LUT_MAX_TAKEN < 1 << cost_model.LUT_SAFE_SHIFT
    assert c["MCC_NN_LUT_SAFE_SHIFT"] == cost_model.LUT_SAFE_SHIFT
    assert c["MCC_SOFTMAX_DIFF_INT_BITS"] == SOFTMAX_SCALED_DIFF_INTEGER_BITS
    assert c["MCC_SOFTMAX_ACCUM_INT_BITS"] == SOFTMAX_ACCUMULATION_INTEGER_BITS
    assert c["FC_BLOCK"] == specialize.FC_BLOCK
    assert c["mcc_add_fast_s8_get_buffer_size"] == specialize.ADD_TABLE_BYTES
    for k, ch in SIZES:
        assert c[f"conv {k} {ch}"] == specialize.conv_scratch_bytes(k, ch)
        assert c[f"dw {ch * k} {k}"] == specialize.depthwise_scratch_bytes(ch * k, k)
        assert c[f"dw strip {ch} {k}"] == specialize.depthwise_scratch_bytes(ch, 9, k)
        assert c[f"fc {k}"] == specialize.fc_int8_scratch_bytes(k)
        for bits in codebook_fast.FAST_BITS:
            assert c[f"cb conv {k} {bits}"] == codebook_fast.conv_scratch_bytes(k, bits)
            assert c[f"cb fc {k} {bits}"] == codebook_fast.fc_scratch_bytes(k, bits)

"""`mcucompress bench`: per-core figures and per-layer counts that add up, on a small random model."""

import json
import shutil

import pytest

from mcucompress.cli import main
from mcucompress.export import export
from mcucompress.ir.ops import graph_macs
from test_fast_graphs import layer_zoo

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                       reason="needs arm-none-eabi-gcc and qemu-system-arm"),
]


def test_bench_reports_cores_and_layers_that_add_up(tmp_path, capsys):
    graph = layer_zoo()
    tree = export(graph, tmp_path / "zoo", prefix="zoo")
    assert main(["bench", str(tree), "--board", "mps2-an386", "--work", str(tmp_path / "w"), "--json"]) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert result["macs"] == graph_macs(graph) > 0
    [core] = result["cores"]
    assert core["board"] == "mps2-an386" and core["identical_to"] == {"host": True, "reference": True}
    assert core["macs_per_instruction"] == pytest.approx(result["macs"] / core["instructions"], abs=1e-3)
    layers = result["layers"]
    assert [l["kernel"] for l in layers][:2] == ["mcc_conv2d_fast_s8", "mcc_conv2d_fast_s8"]
    per_layer = sum(l["instructions"]["mps2-an386"] for l in layers)
    # The kernel calls are the whole inference but for the copies of the input and output into
    # and out of the arena and a few instructions of glue per layer.
    io_bytes = graph.tensor("x").nbytes + graph.tensor(graph.outputs[0]).nbytes
    assert 0 < core["instructions"] - per_layer < 20 * len(layers) + io_bytes
    assert sum(l["macs"] for l in layers) == result["macs"]


def test_bench_rejects_a_missing_model(tmp_path, capsys):
    assert main(["bench", str(tmp_path / "nope.tflite"), "--board", "mps2-an386"]) == 2
    assert "nope.tflite" in capsys.readouterr().err


SPLIT_RUN = r"""
volatile int sink;
__attribute__((noinline)) void mcc_a(int v) { sink = v; }
__attribute__((noinline)) void mcc_b(int v) { sink = v * 3; }
static __attribute__((noinline)) int mcc_run(int k)
{
    if (k) { mcc_a(k); mcc_b(k); mcc_a(k + 1); }
    return 0;
}
int m_invoke(void) { return mcc_run(5); }
int m_invoke_float(void) { return mcc_run(5) + 1; }
"""


def test_layer_call_sites_found_in_functions_gcc_split(tmp_path):
    """GCC clones mcc_run (here mcc_run.constprop.0, tail-called): its kernel calls are still
    found, in order, with the address each returns to."""
    import subprocess

    from mcucompress.targets.layer_counts import kernel_call_sites

    (tmp_path / "m.c").write_text(SPLIT_RUN)
    elf = tmp_path / "m.elf"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-O2", "-nostdlib",
                    "-Wl,-e,m_invoke", str(tmp_path / "m.c"), "-o", str(elf)], check=True)
    dump = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True).stdout
    assert "<mcc_run." in dump   # the clone this test is about
    sites = kernel_call_sites(elf, "m")
    assert [kernel for _, _, kernel in sites] == ["mcc_a", "mcc_b", "mcc_a"]
    assert all(end - begin == 4 for begin, end, _ in sites)   # bl is 4 bytes


def test_bench_optimize_applies_to_model_files_only(tmp_path, capsys):
    tree = export(layer_zoo(), tmp_path / "zoo", prefix="zoo")
    assert main(["bench", str(tree), "--optimize", "speed", "--board", "mps2-an386"]) == 2
    assert "already exported" in capsys.readouterr().err

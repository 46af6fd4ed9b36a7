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

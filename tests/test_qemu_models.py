"""The MLPerf Tiny models exported, cross-built and run on emulated Cortex-M cores: outputs
byte-identical to the host build, the numpy reference and TensorFlow Lite Micro's interpreter."""

import shutil

import numpy as np
import pytest

from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, Op, QuantParams, Tensor
from mcucompress.targets.runner import run_model

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                       reason="needs arm-none-eabi-gcc and qemu-system-arm"),
]

ALL_IDENTICAL = {"host": True, "reference": True, "tflite-micro": True}
# TensorFlow Lite Micro + CMSIS-NN on QEMU mps2-an386 (issue 3): whole-image flash, RAM, in bytes.
TFLM_M4 = {"resnet": (178_260, 56_896), "kws": (138_840, 24_720)}


def _check_against_tflm(report):
    """Acceptance bar: less flash than TFLite Micro's image, at most its RAM."""
    flash, ram = TFLM_M4[report.prefix]
    assert report.footprint.flash_bytes < flash
    assert report.footprint.ram_bytes <= ram


@pytest.fixture(scope="module")
def dscnn_tree(mlperf_dir, tmp_path_factory):
    from mcucompress.export import export
    return export(mlperf_dir / "kws_ref_model.tflite", tmp_path_factory.mktemp("kws") / "kws",
                  prefix="kws", board="mps2-an386")


@pytest.fixture(scope="module")
def resnet_tree(mlperf_dir, tmp_path_factory):
    from mcucompress.export import export
    return export(mlperf_dir / "pretrainedResnet_quant.tflite", tmp_path_factory.mktemp("rn") / "resnet",
                  prefix="resnet")


def test_export_with_board_writes_a_budgeted_firmware_project(dscnn_tree):
    project = dscnn_tree / "firmware" / "mps2-an386"
    for name in ("CMakeLists.txt", "cmake/arm-none-eabi.cmake", "mps2-an386.ld", "startup.c",
                 "harness.c", "footprint.json"):
        assert (project / name).is_file(), name
    import json
    footprint = json.loads((project / "footprint.json").read_text())
    assert 0 < footprint["flash_bytes"] < footprint["board_flash_bytes"]
    # The arena lives in .bss, so static RAM covers it.
    arena = json.loads((dscnn_tree / "manifest.json").read_text())["arena_bytes"]
    assert footprint["static_ram_bytes"] >= arena


@pytest.mark.parametrize("board", ["mps2-an386", "mps3-an547", "lm3s6965evb", "mps2-an505"])
def test_dscnn_on_qemu_is_byte_identical(dscnn_tree, board):
    report = run_model(dscnn_tree, board, samples=2)
    assert report.checks == ALL_IDENTICAL
    assert all(n > 1_000_000 for n in report.instructions)
    assert report.footprint.stack_used is not None
    assert abs(report.footprint.stack_computed - report.footprint.stack_used) <= 64
    if board == "mps2-an386":
        _check_against_tflm(report)
    assert report.footprint.ram_bytes <= report.board.ram.size


@pytest.mark.parametrize("board", ["mps2-an386", "mps2-an500", "mps3-an547", "mps2-an505"])
def test_resnet8_on_qemu_is_byte_identical(resnet_tree, board):
    report = run_model(resnet_tree, board, samples=1)
    assert report.checks == ALL_IDENTICAL
    assert report.footprint.flash_bytes > 78_666  # at least the int8 weights
    if board == "mps2-an386":
        _check_against_tflm(report)


def test_micro_speech_on_the_cortex_m0_microbit(shared_dir, tmp_path):
    """TFLM's micro_speech model on the smallest core and RAM here: 16 KB for arena, stack and harness."""
    from mcucompress.export import export
    tree = export(shared_dir / "models" / "tflm-examples" / "micro_speech_quantized.tflite", tmp_path / "ms",
                  prefix="ms")
    report = run_model(tree, "microbit", samples=1)
    assert report.checks == ALL_IDENTICAL
    assert report.exact_invoke and report.instructions[0] > 1_000_000
    assert report.footprint.stack_used is not None
    assert report.footprint.ram_bytes <= 16 * 1024


def _dense_graph(n_in: int, n_out: int) -> Graph:
    """An int8 fully connected model whose weights alone outgrow a small board's flash."""
    rng = np.random.default_rng(0)
    tensors = {
        "x": Tensor("x", (1, n_in), "int8", QuantParams((0.05,), (0,))),
        "w": Tensor("w", (n_out, n_in), "int8", QuantParams((0.01,), (0,)),
                    rng.integers(-127, 128, (n_out, n_in)).astype(np.int8)),
        "b": Tensor("b", (n_out,), "int32", QuantParams((0.0005,), (0,)), np.zeros(n_out, np.int32)),
        "y": Tensor("y", (1, n_out), "int8", QuantParams((0.5,), (0,))),
    }
    op = Op("fully_connected", "fc", ("x", "w", "b"), ("y",), {"activation": "none"})
    return Graph(tensors, (op,), ("x",), ("y",), name="dense")


def test_model_too_big_for_the_board_fails_export_with_the_budget_error(tmp_path):
    from mcucompress.export import export
    with pytest.raises(McuError) as error:
        export(_dense_graph(1024, 300), tmp_path / "dense", board="lm3s6965evb")  # 300 KB of weights
    message = str(error.value)
    assert message.startswith("the model does not fit lm3s6965evb: flash needs ")
    assert "of 256.0 KB" in message and "KB over" in message
    assert error.value.exit_code == 2
    assert not (tmp_path / "dense").exists()  # a failed export leaves nothing behind


def test_litert_rounding_export_matches_litert_on_the_m55(mlperf_dir, tmp_path):
    from mcucompress.export import export
    tree = export(mlperf_dir / "kws_ref_model.tflite", tmp_path / "kws", rounding="litert")
    report = run_model(tree, "mps3-an547", samples=2)
    assert report.checks == {"host": True, "reference": True, "LiteRT": True}

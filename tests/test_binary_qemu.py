"""The binary kernels cross-compiled and run on emulated Cortex-M: Cortex-M4 (vertical counting and
plain C row popcounts) and Cortex-M55 (MVE popcount), outputs byte-identical to the host build and
the numpy reference."""

import shutil

import numpy as np
import pytest

from mcucompress.targets.runner import run_model

from test_binary_kernels import _pipeline, _wide_fc

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                       reason="needs arm-none-eabi-gcc and qemu-system-arm"),
]


@pytest.mark.parametrize("board, graph", [
    ("mps2-an386", lambda: _pipeline(np.random.default_rng(7), "vertical")),   # vertical + carry-save rows
    ("mps2-an386", lambda: _wide_fc(np.random.default_rng(8), 1000, 77, -90)),  # vertical, 16-blocks, zeros listed
    ("mps3-an547", lambda: _pipeline(np.random.default_rng(7), "swar")),       # MVE rows
], ids=["m4-pipeline", "m4-wide-vertical", "m55-mve"])
def test_binary_graphs_on_qemu_are_byte_identical(tmp_path, board, graph):
    from mcucompress.export import export
    tree = export(graph(), tmp_path / "bnn", prefix="bnn")
    report = run_model(tree, board, samples=3)
    assert report.checks == {"host": True, "reference": True}
    assert min(report.instructions) > 10_000
    assert len({row.tobytes() for row in report.outputs}) == 3


def test_converted_keras_binary_mlp_on_qemu(tmp_path):
    """A Keras binary MLP (int8 first/last layers, binary, ternary and 2-bit hidden layers),
    converted and run on the Cortex-M4: byte-identical to the host and the reference."""
    import os
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    from mcucompress.binary.deploy import export_binary
    from mcucompress.binary.layers import BinaryDense, SignActivation

    keras.utils.set_random_seed(3)
    model = keras.Sequential([
        keras.Input((64,)), keras.layers.Dense(70), keras.layers.BatchNormalization(), SignActivation(),
        BinaryDense(45), keras.layers.BatchNormalization(), SignActivation(),
        BinaryDense(37, quantizer="ternary"), keras.layers.BatchNormalization(), SignActivation(),
        BinaryDense(33, quantizer="dorefa", bits=2), keras.layers.BatchNormalization(), SignActivation(),
        keras.layers.Dense(10)])
    calib = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    tree = export_binary(model, tmp_path / "mlp", calib, prefix="mlp", board=None)
    report = run_model(tree, "mps2-an386", samples=3)
    assert report.checks == {"host": True, "reference": True}
    assert len({row.tobytes() for row in report.outputs}) == 3

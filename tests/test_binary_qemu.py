"""The binary kernels cross-compiled and run on emulated Cortex-M: Cortex-M4 (plain C popcounts)
and Cortex-M55 (MVE popcount), outputs byte-identical to the host build and the numpy reference."""

import shutil

import numpy as np
import pytest

from mcucompress.targets.runner import run_model

from test_binary_kernels import _pipeline

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                       reason="needs arm-none-eabi-gcc and qemu-system-arm"),
]


@pytest.mark.parametrize("board, popcount", [("mps2-an386", "csa"), ("mps3-an547", "swar")])
def test_binary_pipeline_on_qemu_is_byte_identical(tmp_path, board, popcount):
    from mcucompress.export import export
    tree = export(_pipeline(np.random.default_rng(7), popcount), tmp_path / "bnn", prefix="bnn")
    report = run_model(tree, board, samples=3)
    assert report.checks == {"host": True, "reference": True}
    assert len(set(report.instructions)) >= 1 and min(report.instructions) > 10_000
    assert len({row.tobytes() for row in report.outputs}) == 3

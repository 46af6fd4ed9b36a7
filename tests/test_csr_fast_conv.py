"""mcc_conv2d_csr_fast_s8 on each core's path, in QEMU: whole groups of 4 output pixels with the
dense fast kernels' channel constants (TFLite rounding, ReLU so the lower clamp bites) and a
partial group after them, pointwise and 3x3 layers; every output byte-identical to the host build
and the numpy reference. The M4 walks windows of two positions (DSP), the M55 gathers (MVE),
the M3 runs the portable window table."""

import shutil

import pytest

from mcucompress.export import export
from mcucompress.ir.graph import Graph
from test_encode_conv import chain_two, sparse_conv

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                       reason="needs arm-none-eabi-gcc and qemu-system-arm"),
]


def two_convs(activation: str = "relu", second_kind: str = "csr4", dilation=(1, 1)) -> Graph:
    """A 1x1 conv 24 -> 20 on 5x9 (two whole groups of 4 pixels and one of 1 per row), then a
    3x3 conv 20 -> 12 with padding; 30% non-zero weights, an empty output channel each."""
    first = sparse_conv(21, "csr8", density=0.3, hw=(5, 9), c_in=24, c_out=20, k=(1, 1), activation=activation)
    second = sparse_conv(22, second_kind, density=0.3, hw=(5, 9), c_in=20, c_out=12, k=(3, 3),
                         padding=(1, 1, 1, 1), dilation=dilation, activation=activation)
    return chain_two(first, second, f"csr_fast_convs_{activation}")


@pytest.mark.parametrize("rounding", ["tflm", "litert"])
@pytest.mark.parametrize("board", ["mps2-an386", "mps3-an547", "lm3s6965evb"])
def test_csr_fast_conv_groups_on_qemu(tmp_path, board, rounding):
    """TFLite rounding: the channel constants (whole groups in straight-line code); LiteRT
    rounding: none, every pixel through the portable requantization."""
    from mcucompress.targets.runner import run_model

    tree = export(two_convs(), tmp_path / "convs", prefix="convs", rounding=rounding)
    assert ("_csr_channels," in (tree / "model.c").read_text()) == (rounding == "tflm")
    assert (tree / "model.c").read_text().count("mcc_conv2d_csr_fast_s8(") == 2
    report = run_model(tree, board, samples=2)
    assert report.checks == {"host": True, "reference": True}


@pytest.mark.parametrize("board", ["mps2-an386"])
def test_csr_fast_conv_unclamped_on_qemu(tmp_path, board):
    """No activation: the clamp bounds are int8's, so the DSP cores' groups store their saturated
    outputs without the byte clamp (csr_group_pairs with clamp 0). The 3x3 layer with 8-bit gaps
    and a dilated width: the assembly decode's carries into the next tap (which moves the
    pair-table address) and kernel row."""
    from mcucompress.targets.runner import run_model

    tree = export(two_convs("none", "csr8", (1, 2)), tmp_path / "convs", prefix="convs", rounding="tflm")
    assert "_csr_channels," in (tree / "model.c").read_text()
    assert (tree / "model.c").read_text().count("mcc_conv2d_csr_fast_s8(") == 2
    report = run_model(tree, board, samples=2)
    assert report.checks == {"host": True, "reference": True}

"""Checks shared by the sparse fully connected encodings' tests (test_csr_seg.py,
test_csr_pair.py): a chain exported with every layer on the encoding's kernel, byte-identical to
the numpy reference on the host and on QEMU."""

import shutil

import numpy as np
import pytest

from mcucompress.build.host import build_host
from mcucompress.build.runner import run_host
from mcucompress.cost_suite import fc_chain
from mcucompress.export import export
from mcucompress.reference.int8 import run_int8

HAVE_ARM = bool(shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm"))


def host_matches_reference(tmp_path, graph, kernel: str, layers: int, depth: int, units: int, rounding: str):
    """TFLM rounding: the dense fast kernels' channel constants; LiteRT: the portable requantization."""
    tree = export(graph, tmp_path / "sparse", prefix="sparse", rounding=rounding)
    model_c = (tree / "model.c").read_text()
    assert model_c.count(f"{kernel}(") == layers
    assert ("_seg_channels" in (tree / "weights.c").read_text()) == (rounding == "tflm")
    x = np.random.default_rng(2).integers(-128, 128, size=(12, depth), dtype=np.int8)
    got = run_host(build_host(tree), x, units)
    want = np.stack([run_int8(graph, xi.reshape(1, -1), rounding=rounding).reshape(-1) for xi in x])
    assert np.array_equal(got, want)


def qemu_matches_host_and_reference(tmp_path, graph, board: str):
    from mcucompress.targets.runner import run_model

    tree = export(graph, tmp_path / "sparse", prefix="sparse")
    report = run_model(tree, board, samples=3)
    assert report.checks == {"host": True, "reference": True}


def chain_tests(encoding: str, name: str, depth: int, layers):
    """The host and the QEMU test of an fc_chain(depth, layers) with every layer on ``encoding``'s
    kernel (mcc_fully_connected_<encoding>_s8), for the test module to bind to its own test names:
    the host under both roundings, QEMU on the M4, the M55 and the M3."""

    def graph():
        return fc_chain(depth, layers, encoding, seed=3).replace(name=name)

    @pytest.mark.parametrize("rounding", ["tflm", "litert"])
    def host_test(tmp_path, rounding):
        host_matches_reference(tmp_path, graph(), f"mcc_fully_connected_{encoding}_s8", len(layers), depth,
                               layers[-1].units, rounding)

    @pytest.mark.qemu
    @pytest.mark.skipif(not HAVE_ARM, reason="needs arm-none-eabi-gcc and qemu-system-arm")
    @pytest.mark.parametrize("board", ["mps2-an386", "mps3-an547", "lm3s6965evb"])
    def qemu_test(tmp_path, board):
        qemu_matches_host_and_reference(tmp_path, graph(), board)

    return host_test, qemu_test

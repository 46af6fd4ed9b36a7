"""Checks shared by the sparse fully connected encodings' tests (test_csr_seg.py,
test_csr_pair.py): a chain exported with every layer on the encoding's kernel, byte-identical to
the numpy reference on the host and on QEMU."""

import numpy as np

from mcucompress.build.host import build_host
from mcucompress.build.runner import run_host
from mcucompress.export import export
from mcucompress.reference.int8 import run_int8


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

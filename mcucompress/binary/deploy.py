"""Export of a trained Keras binary network: conversion with the popcount routine that suits the
target core, then the ordinary C export (and firmware project when a board is named).

    from mcucompress.binary.deploy import export_binary
    export_binary(model, "out/", calib_x, board="mps2-an386")
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from mcucompress.binary.convert import convert
from mcucompress.binary.params import DEFAULT_POPCOUNT
from mcucompress.importers.keras_file import KERAS_SUFFIXES

def popcount_for(board: str | None) -> str:
    """How binary kernels count bits on a board's core, from the instruction counts in
    docs/benchmarks/binary.md. Binary fully connected layers: 32 rows at once in bit-sliced
    carry-save counters ("vertical") is the fewest instructions on every core measured (M3, M4,
    and the M55, where it edges out the MVE row count). Other binary ops then use the carry-save
    row routine, which M55 builds replace with MVE. The Cortex-M0+ (no QEMU machine) is not
    measured and gets the same choice."""
    if board is not None:
        from mcucompress.targets.board import load_board

        load_board(board)  # an unknown board is an error here too
    return DEFAULT_POPCOUNT


def export_binary(model, out_dir, calib_x, prefix: str = "model", board: str | None = None,
                  popcount: str | None = None, **export_options) -> Path:
    """Convert ``model`` (calibrated on ``calib_x``) and export it; returns the tree's folder.
    ``export_options`` go to ``mcucompress.export.export`` (e.g. ``optimize="speed"`` keeps the
    int8 first layer dense: the smallest encoding of a trained layer can be a slow one)."""
    from mcucompress.export import export

    graph = convert(model, calib_x, popcount or popcount_for(board))
    return export(graph, out_dir, prefix=prefix, board=board, **export_options)


def load_binary(model, calib, board: str | None = None, popcount: str | None = None,
                allow_code: bool = False):
    """(binary IR graph, sha256 of the model, None): the shape ``export.load_model`` returns, for
    an export ``--quantize binary`` option. ``model``: a Keras model or a .keras/.h5 file using
    the layers of ``binary/layers.py``; ``calib``: float inputs (array or NPZ with array 'x')."""
    import numpy as np

    from mcucompress.errors import McuError
    from mcucompress.ir.serialize import graph_to_bytes

    digest = None
    if isinstance(model, (str, Path)):
        path = Path(model)
        if not path.is_file():
            raise McuError(f"model file not found: {path}")
        if path.suffix.lower() not in KERAS_SUFFIXES:
            raise McuError(f"{path.name}: binary quantization needs a Keras model (.keras or .h5) built with "
                           "mcucompress.binary.layers")
        from mcucompress.binary import layers  # noqa: F401  (registers the custom layers)
        from mcucompress.importers.keras_file import open_keras_file

        model = open_keras_file(path, allow_code=allow_code)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if not hasattr(model, "layers"):
        raise McuError(f"cannot convert an object of type {type(model).__name__} to a binary network")
    if calib is None:
        raise McuError("binary networks need calibration data: pass --calib NPZ (array 'x' of inputs)")
    if isinstance(calib, (str, Path)):
        from mcucompress.data import load_samples
        calib, _ = load_samples(calib, (1,) + tuple(int(d) for d in model.input_shape[1:]))
    graph = convert(model, np.asarray(calib, dtype=np.float32), popcount or popcount_for(board))
    return graph, digest or hashlib.sha256(graph_to_bytes(graph)).hexdigest(), None

"""Export of a trained Keras binary network: conversion with the popcount routine that suits the
target core, then the ordinary C export (and firmware project when a board is named).

    from mcucompress.binary.deploy import export_binary
    export_binary(model, "out/", calib_x, board="mps2-an386")
"""

from __future__ import annotations

from pathlib import Path

from mcucompress.binary.convert import convert
from mcucompress.binary.params import DEFAULT_POPCOUNT

# Armv6-M cores (Thumb-1) have no barrel-shifted operands and can only load 32-bit constants from
# literal pools, which makes bit slicing dear; the byte table costs them the same as elsewhere.
_TABLE_CORES = frozenset({"cortex-m0", "cortex-m0plus", "cortex-m1", "cortex-m23"})


def popcount_for(board: str | None) -> str:
    """The plain-C popcount for a board's core (measured fastest on Cortex-M4: carry-save, see
    docs/benchmarks/binary.md). MVE cores (Cortex-M55) use their vector count whatever is chosen."""
    if board is None:
        return DEFAULT_POPCOUNT
    from mcucompress.targets.board import load_board

    return "table" if load_board(board).cpu in _TABLE_CORES else "csa"


def export_binary(model, out_dir, calib_x, prefix: str = "model", board: str | None = None,
                  popcount: str | None = None, **export_options) -> Path:
    """Convert ``model`` (calibrated on ``calib_x``) and export it; returns the tree's folder.
    ``export_options`` go to ``mcucompress.export.export`` (e.g. ``optimize="speed"`` keeps the
    int8 first layer dense: the smallest encoding of a trained layer can be a slow one)."""
    from mcucompress.export import export

    graph = convert(model, calib_x, popcount or popcount_for(board))
    return export(graph, out_dir, prefix=prefix, board=board, **export_options)

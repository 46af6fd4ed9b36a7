"""Per-layer figures of a graph for `mcucompress info`: shapes, parameters, MACs, weight bytes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcucompress.ir.graph import Graph, Op
from mcucompress.quantize.qformat_params import Q7_KINDS


@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str
    input_shapes: tuple[tuple[int, ...], ...]
    output_shape: tuple[int, ...]
    parameters: int
    macs: int
    weight_bytes: int


def macs(graph: Graph, op: Op) -> int:
    """Multiply-accumulates of one inference of ``op`` (0 for ops without any)."""
    out = graph.output_tensor(op)
    kind = Q7_KINDS.get(op.kind, op.kind)  # Q-format ops do the MACs of their int8 twins
    if kind == "conv2d":
        w = graph.tensor(op.inputs[1])
        return out.size * int(np.prod(w.shape[1:]))
    if kind == "depthwise_conv2d":
        w = graph.tensor(op.inputs[1])
        return out.size * int(w.shape[1] * w.shape[2])
    if kind == "binary_fully_connected":  # one XNOR-popcount term per weight
        return int(op.attrs["in_features"]) * int(graph.tensor(op.inputs[2]).size)
    if kind == "binary_conv2d":
        w = graph.tensor(op.inputs[1])
        return out.size // out.shape[-1] * int(w.shape[0] * w.shape[1] * w.shape[2]) * int(op.attrs["in_channels"])
    if kind == "fully_connected":
        return int(graph.tensor(op.inputs[1]).size) * max(1, out.size // int(graph.tensor(op.inputs[1]).shape[0]))
    return 0


def parameters(graph: Graph, op: Op) -> int:
    """Trainable values of ``op``: constants' elements, but one per weight (not per packed
    32-bit word) for binary ops, plus their per-channel thresholds."""
    if op.kind in ("binary_fully_connected", "binary_conv2d"):
        return macs(graph, op) // max(1, graph.output_tensor(op).size // graph.output_tensor(op).shape[-1]) \
            + int(graph.tensor(op.inputs[2]).size)
    return sum(graph.tensor(n).size for n in op.inputs if n is not None and graph.tensor(n).is_constant)


def layer_rows(graph: Graph) -> list[LayerRow]:
    rows = []
    for op in graph.ops:
        inputs = [graph.tensor(n) for n in op.inputs if n is not None]
        consts = [t for t in inputs if t.is_constant]
        rows.append(LayerRow(op.name, op.kind, tuple(t.shape for t in inputs if not t.is_constant),
                             graph.output_tensor(op).shape, parameters(graph, op), macs(graph, op),
                             sum(t.nbytes for t in consts)))
    return rows

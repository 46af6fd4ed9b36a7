"""Per-layer figures of a graph for `mcucompress info`: shapes, parameters, MACs, weight bytes."""

from __future__ import annotations

from dataclasses import dataclass

from mcucompress.ir.graph import Graph, Op
from mcucompress.ir.ops import macs, op_kind


@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str
    input_shapes: tuple[tuple[int, ...], ...]
    output_shape: tuple[int, ...]
    parameters: int
    macs: int
    weight_bytes: int


def parameters(graph: Graph, op: Op) -> int:
    """Trainable values of ``op``: constants' elements, but one per weight (not per packed
    32-bit word) for binary ops, plus their per-channel thresholds."""
    kind = op_kind(op.kind)
    if kind is not None and kind.scheme == "binary" and kind.weighted:
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

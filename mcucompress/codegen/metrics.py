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
    if kind == "fully_connected":
        return int(graph.tensor(op.inputs[1]).size) * max(1, out.size // int(graph.tensor(op.inputs[1]).shape[0]))
    return 0


def layer_rows(graph: Graph) -> list[LayerRow]:
    rows = []
    for op in graph.ops:
        inputs = [graph.tensor(n) for n in op.inputs if n is not None]
        consts = [t for t in inputs if t.is_constant]
        rows.append(LayerRow(op.name, op.kind, tuple(t.shape for t in inputs if not t.is_constant),
                             graph.output_tensor(op).shape, sum(t.size for t in consts), macs(graph, op),
                             sum(t.nbytes for t in consts)))
    return rows

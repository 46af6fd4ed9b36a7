"""Export-time set-up of mcc_fully_connected_csr_pair_s8 (runtime_c/sparse/) for fully connected
layers whose weights are stored as csr_pair: the arena scratch of the widened input row."""

from __future__ import annotations

from dataclasses import dataclass

from mcucompress.encode.csr_seg import SEGMENT
from mcucompress.ir.graph import Graph, Op

KERNEL = "mcc_fully_connected_csr_pair_s8"


@dataclass(frozen=True, eq=False)
class CsrPairLayer:
    kernel: str
    scratch_bytes: int


def scratch_bytes(depth: int, units: int) -> int:
    """mcc_fully_connected_csr_pair_s8_get_buffer_size(): the row as int16 (at least 256 columns,
    and the one past it), then an int32 sum per unit."""
    return 4 * ((max(depth, SEGMENT) + 2) // 2 + units)


def choose(graph: Graph, op: Op) -> CsrPairLayer:
    w = graph.tensor(op.inputs[1])
    depth = 1
    for n in w.shape[1:]:
        depth *= int(n)
    return CsrPairLayer(KERNEL, scratch_bytes(depth, int(w.shape[0])))

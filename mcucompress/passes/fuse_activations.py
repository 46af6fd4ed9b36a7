"""Fuse a ReLU / ReLU6 into the op that produces its input, as TFLite's fused activations do.

Only ops whose TFLite kernels clamp their output (conv, depthwise conv, dense, add) absorb one,
and only when nothing else reads the pre-activation value.
"""

from __future__ import annotations

from mcucompress.ir.graph import Graph
from mcucompress.ir.ops import kinds
from mcucompress.passes.op_merging import merge_into_producer, sole_consumer

FUSABLE_PRODUCERS = frozenset(k.name for k in kinds("int8") if k.fuses_activation)
ACTIVATIONS = frozenset(k.name for k in kinds("int8") if k.fusable_activation)


def fuse_activations(graph: Graph) -> Graph:
    ops = list(graph.ops)
    for act in [op for op in graph.ops if op.kind in ACTIVATIONS]:
        current = graph.with_ops(ops)
        producer = current.producer(act.inputs[0])
        if (producer is None or producer.kind not in FUSABLE_PRODUCERS
                or producer.attrs.get("activation", "none") != "none"
                or sole_consumer(current, act.inputs[0]) is not act):
            continue
        ops = merge_into_producer(ops, producer, act, activation=act.kind)
    return graph.with_ops(ops)

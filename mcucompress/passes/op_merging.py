"""Small helpers the graph passes share."""

from __future__ import annotations

from mcucompress.ir.graph import Graph, Op


def sole_consumer(graph: Graph, tensor: str) -> Op | None:
    """The one op reading ``tensor``, or None if it has several readers or is a graph output."""
    if tensor in graph.outputs:
        return None
    readers = graph.consumers(tensor)
    return readers[0] if len(readers) == 1 else None


def merge_into_producer(ops: list[Op], producer: Op, absorbed: Op, **attrs) -> list[Op]:
    """Replaces ``producer`` by a copy writing ``absorbed``'s output, and drops ``absorbed``."""
    merged = Op(producer.kind, producer.name, producer.inputs, absorbed.outputs,
                {**producer.attrs, **attrs})
    return [merged if op is producer else op for op in ops if op is not absorbed]

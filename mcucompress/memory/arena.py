"""The arena of a graph: activation tensors (with in-place sharing) and kernel scratch, placed by
the greedy planner.

Scratch comes from the kernels chosen for the ops (codegen/specialize.py: ``choose_kernels``),
made once before planning: ``choices[i]`` is None or has ``scratch_bytes``, the buffer op i's
kernel needs while it runs; a kind whose kernel always needs scratch names it in the catalogue
(``OpKind.scratch``). Variable tensors (state kept across invocations) are not in the arena:
code generation gives each a static buffer of its own.
"""

from __future__ import annotations

from typing import Sequence

from mcucompress.ir.graph import Graph
from mcucompress.ir.ops import op_kind
from mcucompress.memory.liveness import analyze
from mcucompress.memory.planner import BufferRequest, MemoryPlan, plan


def scratch_name(index: int) -> str:
    """The arena buffer of op ``index``'s kernel scratch."""
    return f"mcc.scratch.op{index}"


def plan_memory(graph: Graph, choices: Sequence = ()) -> tuple[MemoryPlan, dict]:
    """Arena plan, and the arena offset of every activation tensor and kernel scratch buffer."""
    live = analyze(graph)
    sizes = [choice.scratch_bytes if choice is not None else _kind_scratch(graph, op)
             for op, choice in zip(graph.ops, list(choices) + [None] * (len(graph.ops) - len(choices)))]
    scratch = [BufferRequest(scratch_name(i), size, i, i) for i, size in enumerate(sizes) if size]
    memory = plan(list(live.requests) + scratch)
    offsets = {t: memory.offset(buf) for t, buf in live.buffer_of.items()}
    offsets.update({r.name: memory.offset(r.name) for r in scratch})
    return memory, offsets


def _kind_scratch(graph: Graph, op) -> int:
    kind = op_kind(op.kind)
    return kind.resolve("scratch")(graph, op) if kind is not None and kind.scratch else 0

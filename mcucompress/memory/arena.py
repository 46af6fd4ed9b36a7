"""The arena of a graph: activation tensors (with in-place sharing) and kernel scratch, placed by
the greedy planner.

Scratch comes from the kernels chosen for the ops (codegen/specialize.py: ``choose_kernels``),
made once before planning: ``choices[i]`` is None or has ``scratch_bytes``, the buffer op i's
kernel needs while it runs.
"""

from __future__ import annotations

from typing import Sequence

from mcucompress.ir.graph import Graph
from mcucompress.memory.liveness import analyze
from mcucompress.memory.planner import BufferRequest, MemoryPlan, plan


def scratch_name(index: int) -> str:
    """The arena buffer of op ``index``'s kernel scratch."""
    return f"mcc.scratch.op{index}"


def plan_memory(graph: Graph, choices: Sequence = ()) -> tuple[MemoryPlan, dict]:
    """Arena plan, and the arena offset of every activation tensor and kernel scratch buffer."""
    live = analyze(graph)
    scratch = [BufferRequest(scratch_name(i), choice.scratch_bytes, i, i)
               for i, choice in enumerate(choices) if choice is not None and choice.scratch_bytes]
    memory = plan(list(live.requests) + scratch)
    offsets = {t: memory.offset(buf) for t, buf in live.buffer_of.items()}
    offsets.update({r.name: memory.offset(r.name) for r in scratch})
    return memory, offsets

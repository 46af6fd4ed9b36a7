"""Tensor lifetimes of an int8 graph, with in-place sharing, as buffer requests for the planner.

Op indices run 0..n-1; the graph input is written by the copy before op 0 and the graph output
read by the copy after op n-1, so both are alive across the whole invoke call's ends.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcucompress.ir.graph import Graph
from mcucompress.ir.ops import op_kind
from mcucompress.memory.planner import BufferRequest

# The op catalogue says which kinds may write over an input that dies at them (OpKind.in_place)
# and which outputs ARE their input's bytes, even if the input lives on (OpKind.aliases_input).


@dataclass(frozen=True)
class Liveness:
    requests: tuple[BufferRequest, ...]
    buffer_of: dict  # tensor name -> buffer name (several tensors can share one buffer)


def _last_uses(graph: Graph) -> dict[str, int]:
    last = {}
    end = len(graph.ops)
    for i, op in enumerate(graph.ops):
        for name in op.inputs:
            if name is not None and not graph.tensors[name].is_constant:
                last[name] = i
    for name in graph.outputs:
        last[name] = end
    return last


def analyze(graph: Graph, in_place: bool = True) -> Liveness:
    """Group tensors that can share storage and compute each group's lifetime."""
    last_use = _last_uses(graph)
    first_def = {name: -1 for name in graph.inputs}
    group: dict[str, str] = {name: name for name in graph.inputs}
    members: dict[str, list[str]] = {name: [name] for name in graph.inputs}

    def group_last(g: str) -> int:
        return max(last_use.get(m, first_def[m]) for m in members[g])

    for i, op in enumerate(graph.ops):
        out = op.outputs[0]
        first_def[out] = i
        target = None
        if in_place:
            acts = [n for n in op.inputs if n is not None and not graph.tensors[n].is_constant]
            kind = op_kind(op.kind)
            if kind is not None and kind.aliases_input and acts:
                # Reshape never writes; sharing is safe unless a later in-place op overwrites the
                # group while the reshape's input is still needed - group_last guards that below.
                target = group[acts[0]]
            elif kind is not None and kind.in_place:
                for name in acts:
                    g = group[name]
                    if group_last(g) == i and graph.tensors[name].nbytes == graph.tensors[out].nbytes:
                        target = g
                        break
        if target is None:
            group[out] = out
            members[out] = [out]
        else:
            group[out] = target
            members[target].append(out)

    requests = []
    for g, names in members.items():
        first = min(first_def[m] for m in names)
        last = max(max(last_use.get(m, first_def[m]) for m in names), first)
        size = max(graph.tensors[m].nbytes for m in names)
        requests.append(BufferRequest(g, size, max(first, 0), last))
    return Liveness(tuple(requests), dict(group))

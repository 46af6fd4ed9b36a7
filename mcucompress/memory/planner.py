"""Static activation memory: one arena, offsets planned from tensor lifetimes.

The strategy is TensorFlow Lite Micro's GreedyMemoryPlanner: take buffers largest first and put
each at the lowest offset where it fits between the buffers already placed whose lifetimes
overlap its own. Buffers that may share storage (a reshape's output is its input's bytes; an
element-wise op may write over an input that dies there) are merged into one buffer first.
"""

from __future__ import annotations

from dataclasses import dataclass

ALIGNMENT = 4  # bytes; keeps every tensor word aligned for kernels that load 32 bits at a time


@dataclass(frozen=True)
class BufferRequest:
    """A buffer of ``size`` bytes needed from op ``first`` through op ``last`` (inclusive)."""

    name: str
    size: int
    first: int
    last: int


@dataclass(frozen=True)
class Placement:
    name: str
    offset: int
    size: int
    first: int
    last: int


@dataclass(frozen=True)
class MemoryPlan:
    placements: tuple[Placement, ...]
    arena_bytes: int

    def offset(self, name: str) -> int:
        for p in self.placements:
            if p.name == name:
                return p.offset
        raise KeyError(name)


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def _lifetimes_overlap(a, b) -> bool:
    return a.first <= b.last and b.first <= a.last


def plan(requests: list[BufferRequest]) -> MemoryPlan:
    """Greedy placement: largest first (ties: earlier first use, then name, for determinism)."""
    order = sorted(requests, key=lambda r: (-r.size, r.first, r.name))
    placed: list[Placement] = []
    for req in order:
        live = sorted((p for p in placed if _lifetimes_overlap(p, req)), key=lambda p: p.offset)
        offset = 0
        for p in live:
            if offset + req.size <= p.offset:
                break  # the gap before p is big enough
            offset = max(offset, _align(p.offset + p.size))
        placed.append(Placement(req.name, offset, req.size, req.first, req.last))
    arena = max((_align(p.offset + p.size) for p in placed), default=0)
    placed.sort(key=lambda p: (p.offset, p.first, p.name))
    return MemoryPlan(tuple(placed), arena)


def find_overlaps(memory_plan: MemoryPlan) -> list[tuple[str, str]]:
    """Pairs of buffers alive at the same time whose byte ranges intersect (test-only check)."""
    bad = []
    ps = memory_plan.placements
    for i, a in enumerate(ps):
        for b in ps[i + 1:]:
            if (_lifetimes_overlap(a, b) and a.offset < b.offset + b.size
                    and b.offset < a.offset + a.size):
                bad.append((a.name, b.name))
    return bad

"""Worst-case stack depth computed at build time from GCC's call-graph files (-fcallgraph-info=su).

Each compiled file leaves a `.ci` file: one node per function with its frame size ("N bytes
(static)") and one edge per call. The deepest path from the reset handler is the stack bound.
Library functions compiled elsewhere (memcpy, compiler helpers) have no node; they are leaves
whose frames are not counted, so the result can fall short by their few bytes. Recursion,
dynamic frames (VLAs, alloca) and calls through pointers make the bound unknown (None).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = "mcc_reset_handler"
_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "[^"]*?\\n[^"]*?\\n(\d+) bytes \(([a-z,]+)\)"')
_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')
_INDIRECT = "__indirect_call"


def read_call_graph(build_dir: Path) -> tuple[dict[str, int | None], dict[str, set[str]]]:
    """(frame bytes per defined function, None when dynamic; callees per function)."""
    frames: dict[str, int | None] = {}
    calls: dict[str, set[str]] = {}
    for ci in sorted(Path(build_dir).rglob("*.ci")):
        text = ci.read_text(errors="replace")
        for name, size, kind in _NODE.findall(text):
            frames[name] = int(size) if kind == "static" else None
        for caller, callee in _EDGE.findall(text):
            calls.setdefault(caller, set()).add(callee)
    return frames, calls


def worst_case_stack(build_dir: Path, root: str = ROOT) -> int | None:
    """Deepest stack from `root` in bytes, or None when it cannot be bounded."""
    frames, calls = read_call_graph(build_dir)
    if root not in frames:
        return None
    depth: dict[str, int | None] = {}
    visiting: set[str] = set()

    def deepest(name: str) -> int | None:
        if name in depth:
            return depth[name]
        if name in visiting or name == _INDIRECT:
            return None  # recursion or a call through a pointer
        if name not in frames:
            return 0     # library leaf without call-graph information
        own = frames[name]
        if own is None:
            return None
        visiting.add(name)
        below = 0
        for callee in sorted(calls.get(name, ())):
            d = deepest(callee)
            if d is None:
                visiting.discard(name)
                depth[name] = None
                return None
            below = max(below, d)
        visiting.discard(name)
        depth[name] = own + below
        return depth[name]

    return deepest(root)

"""Per-layer instruction counts of a built firmware, for `mcucompress bench`.

The generated model calls one runtime kernel per layer, in graph order, from `<prefix>_invoke`
(mcc_run is inlined into it or called by it, whole or split by GCC into clones such as
mcc_run.part.0). Each call site `bl mcc_...` is counted on its own:
the project's counting plugin is started at the `bl` and stopped at the instruction after it,
so a count is exactly that kernel call (the branch, the kernel, its return). One QEMU run counts
every call site (the plugin takes one begin/end pair per site and counts each on its own); the
firmware is the same ELF `mcucompress run` built, so nothing is rebuilt. `bench` counts the call
sites in the run that checks the outputs (run_model(layers=True) hands back their passes).
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mcucompress.errors import McuError
from mcucompress.targets.board import Board
from mcucompress.targets.plugin import plugin_path
from mcucompress.targets.qemu import qemu_command
from mcucompress.targets.tools import run_tool

_INSN = re.compile(r"^\s*([0-9a-f]+):\s")
_FUNCTION = re.compile(r"^[0-9a-f]+ <([^>]+)>:$")
# a call target, GCC's clones included (mcc_run.part.0, mcc_conv2d_fast_s8.constprop.0, ...)
_CALL = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)((?:\.[a-z_]+\.\d+)*)>")


@dataclass(frozen=True)
class LayerCount:
    index: int            # position among the model's kernel calls
    kernel: str
    instructions: int     # per inference (first test vector)


def _functions(elf: Path) -> dict[str, list[str]]:
    """Instruction lines of every function of the ELF, by symbol name."""
    result = run_tool(["arm-none-eabi-objdump", "-d", str(elf)])
    if result.returncode != 0:
        raise McuError(f"objdump failed on {elf}")
    functions, current = {}, None
    for line in result.stdout.splitlines():
        header = _FUNCTION.match(line)
        if header:
            current = functions.setdefault(header.group(1), [])
        elif current is not None and _INSN.match(line):
            current.append(line)
    return functions


def kernel_call_sites(elf: Path, prefix: str) -> list[tuple[int, int, str]]:
    """(call address, return address, kernel) of every runtime kernel called by the model, in
    call order. The model's own functions are `<prefix>_invoke` and mcc_run, or whatever GCC
    split them into (mcc_run.part.0, .isra.0, .constprop.0): a call into one of those is
    followed, a call to any other mcc_ function is a kernel call site."""
    functions = _functions(elf)
    roots = (f"{prefix}_invoke", "mcc_run")
    sites, visited = [], set()

    def walk(name: str) -> None:
        if name in visited:
            return
        visited.add(name)
        lines = functions.get(name, [])
        for line, following in zip(lines, lines[1:]):
            fields = line.split("\t")
            branch = fields[2].strip() if len(fields) >= 4 else ""
            match = _CALL.search(fields[3]) if branch in ("bl", "b", "b.n", "b.w") else None
            if not match:
                continue
            base, target = match.group(1), match.group(1) + match.group(2)
            if base in roots and target != name:   # a clone, called or tail-called
                walk(target)
            elif base.startswith("mcc_") and branch == "bl":
                sites.append((int(_INSN.match(line).group(1), 16),
                              int(_INSN.match(following).group(1), 16), base))

    for root in roots:   # mcc_run on its own only when the invoke function does not reach it
        if not sites:
            walk(root)
    if not any(root in functions for root in roots):
        raise McuError(f"{elf}: neither {prefix}_invoke nor mcc_run found")
    return sites


def count_layers(elf: Path, board: Board, prefix: str, timeout: float = 300) -> list[LayerCount]:
    """Instructions of each kernel call of the first inference the firmware runs."""
    sites = kernel_call_sites(elf, prefix)
    return layer_counts(sites, call_passes(elf, board, sites, timeout), board)


def call_passes(elf: Path, board: Board, sites, timeout: float = 300) -> list[tuple[int, int]]:
    """(site index, count) of every pass through ``sites`` in one QEMU run of its own."""
    with tempfile.TemporaryDirectory(prefix="mcc-layer-") as tmp:
        out = Path(tmp) / "counts.txt"
        pairs = ",".join(f"begin={begin:#x},end={end:#x}" for begin, end, _ in sites)
        run_tool(qemu_command(elf, board, f"{plugin_path()},{pairs},out={out}"), timeout=timeout)
        lines = out.read_text().splitlines() if out.is_file() else []
    return [(int(fields[2]), int(fields[1])) for fields in map(str.split, lines) if fields and fields[0] == "pass"]


def layer_counts(sites: list[tuple[int, int, str]], passes, board: Board) -> list[LayerCount]:
    """The LayerCounts of ``sites`` (kernel_call_sites) from the counting plugin's passes,
    (site index, count) in the order they ended: each site's first pass."""
    first: dict[int, int] = {}   # call site -> its first pass
    for site, count in passes:
        first.setdefault(site, count)
    counts = []
    for index, (_, _, kernel) in enumerate(sites):
        if index not in first:
            raise McuError(f"no count for kernel call {index} ({kernel}) on {board.name}")
        counts.append(LayerCount(index, kernel, first[index]))
    return counts

"""Per-layer instruction counts of a built firmware, for `mcucompress bench`.

The generated model calls one runtime kernel per layer, in graph order, from `<prefix>_invoke`
(mcc_run is inlined into it or called by it). Each call site `bl mcc_...` is counted on its own:
the project's counting plugin is started at the `bl` and stopped at the instruction after it,
so a count is exactly that kernel call (the branch, the kernel, its return). One QEMU run per
call site; the firmware is the same ELF `mcucompress run` built, so nothing is rebuilt.
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
_CALL = re.compile(r"<(mcc_[a-z0-9_]+)>")


@dataclass(frozen=True)
class LayerCount:
    index: int            # position among the model's kernel calls
    kernel: str
    instructions: int     # per inference (first test vector)


def kernel_call_sites(elf: Path, prefix: str) -> list[tuple[int, int, str]]:
    """(call address, return address, kernel) of every runtime kernel called by the model."""
    lines = []
    for function in (f"{prefix}_invoke", *_run_parts(elf)):
        result = run_tool(["arm-none-eabi-objdump", "-d", f"--disassemble={function}", str(elf)])
        if result.returncode != 0:
            raise McuError(f"objdump failed on {elf}")
        lines += [l for l in result.stdout.splitlines() if _INSN.match(l)]
    sites = []
    for line, following in zip(lines, lines[1:]):
        fields = line.split("\t")
        if len(fields) >= 4 and fields[2].strip() == "bl":
            match = _CALL.search(fields[3])
            if match and match.group(1) not in ("mcc_run",):
                sites.append((int(_INSN.match(line).group(1), 16),
                              int(_INSN.match(following).group(1), 16), match.group(1)))
    return sites


def _run_parts(elf: Path) -> list[str]:
    """mcc_run and the pieces GCC may split it into (mcc_run.part.0, ...), in address order."""
    result = run_tool(["arm-none-eabi-nm", "-n", str(elf)])
    names = [line.split()[-1] for line in result.stdout.splitlines() if line.strip()]
    return [n for n in names if n == "mcc_run" or n.startswith("mcc_run.")] or ["mcc_run"]


def count_layers(elf: Path, board: Board, prefix: str, timeout: float = 300) -> list[LayerCount]:
    """Instructions of each kernel call of the first inference the firmware runs."""
    counts = []
    for index, (begin, end, kernel) in enumerate(kernel_call_sites(elf, prefix)):
        with tempfile.TemporaryDirectory(prefix="mcc-layer-") as tmp:
            out = Path(tmp) / "counts.txt"
            args = f"{plugin_path()},begin={begin:#x},end={end:#x},out={out}"
            run_tool(qemu_command(elf, board, args), timeout=timeout)
            passes = [int(l.split()[1]) for l in out.read_text().splitlines() if l.startswith("pass ")] \
                if out.is_file() else []
        if not passes:
            raise McuError(f"no count for kernel call {index} ({kernel}) on {board.name}")
        counts.append(LayerCount(index, kernel, passes[0]))
    return counts
